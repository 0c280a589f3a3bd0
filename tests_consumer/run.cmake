# Builds the consumer project in this directory against a staging install,
# the way a stranger would, and runs what it built:
#   KIND=pkgconfig  make with pkg-config --cflags --libs (and --static)
#   KIND=cmake      a CMake project with find_package(zcio CONFIG)
# Each build makes consumer-shared and consumer-static. The shared one must
# load libzcio from the staging install; the static one must not need
# libzcio.so at all.
#
#   cmake -DKIND=... -DSOURCE_DIR=... -DWORK_DIR=... -DSTAGE=... -DLIBDIR=lib
#         -DCC=cc -DMAKE=make -DPKG_CONFIG=pkg-config -DREADELF=readelf
#         -DVERSION=X.Y.Z -P <this file>

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

if(KIND STREQUAL "pkgconfig")
    # Only the staging install: a zcio.pc elsewhere on the system must not
    # be found instead.
    set(ENV{PKG_CONFIG_LIBDIR} "${STAGE}/${LIBDIR}/pkgconfig")
    unset(ENV{PKG_CONFIG_PATH})
    execute_process(COMMAND "${PKG_CONFIG}" --modversion zcio
        OUTPUT_VARIABLE modversion OUTPUT_STRIP_TRAILING_WHITESPACE
        COMMAND_ERROR_IS_FATAL ANY)
    if(NOT modversion STREQUAL VERSION)
        message(FATAL_ERROR "pkg-config says zcio ${modversion}, "
                            "expected ${VERSION}")
    endif()
    execute_process(
        COMMAND "${MAKE}" -f "${SOURCE_DIR}/Makefile" "SRCDIR=${SOURCE_DIR}"
                "CC=${CC}" "PKG_CONFIG=${PKG_CONFIG}"
        WORKING_DIRECTORY "${WORK_DIR}"
        COMMAND_ERROR_IS_FATAL ANY)
elseif(KIND STREQUAL "cmake")
    execute_process(
        COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}"
                "-DCMAKE_PREFIX_PATH=${STAGE}" "-DCMAKE_C_COMPILER=${CC}"
                -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
                -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
        COMMAND_ERROR_IS_FATAL ANY)
    execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}"
        COMMAND_ERROR_IS_FATAL ANY)
    file(STRINGS "${WORK_DIR}/CMakeCache.txt" zcio_dir REGEX "^zcio_DIR:")
    string(REGEX REPLACE "^[^=]*=" "" zcio_dir "${zcio_dir}")
    if(NOT zcio_dir STREQUAL "${STAGE}/${LIBDIR}/cmake/zcio")
        message(FATAL_ERROR "find_package found zcio in ${zcio_dir}, "
                            "not in ${STAGE}")
    endif()
else()
    message(FATAL_ERROR "unknown KIND ${KIND}")
endif()

# The programs run with a clean loader environment: whatever they find,
# they find through what the build recorded in them.
unset(ENV{LD_LIBRARY_PATH})
foreach(kind shared static)
    set(program "${WORK_DIR}/consumer-${kind}")
    execute_process(COMMAND "${program}"
        OUTPUT_VARIABLE out RESULT_VARIABLE rc)
    message("${kind}: ${out}")
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "consumer-${kind} failed (${rc})")
    endif()

    execute_process(COMMAND "${READELF}" -d "${program}"
        OUTPUT_VARIABLE dynamic COMMAND_ERROR_IS_FATAL ANY)
    string(REGEX MATCH "zcio from ([^\n]*)" loaded "${out}")
    set(loaded "${CMAKE_MATCH_1}")
    if(kind STREQUAL "shared")
        if(NOT dynamic MATCHES "\\(NEEDED\\)[^\n]*\\[libzcio\\.so\\.[0-9]+\\]")
            message(FATAL_ERROR "consumer-shared does not need libzcio.so.N")
        endif()
        get_filename_component(loaded "${loaded}" REALPATH)
        get_filename_component(stage "${STAGE}" REALPATH)
        string(FIND "${loaded}" "${stage}/" at)
        if(NOT at EQUAL 0)
            message(FATAL_ERROR "consumer-shared loaded zcio from ${loaded}, "
                                "not from ${STAGE}")
        endif()
    elseif(dynamic MATCHES "libzcio")
        message(FATAL_ERROR "consumer-static still needs libzcio.so")
    endif()
endforeach()
