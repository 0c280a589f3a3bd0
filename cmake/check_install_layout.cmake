# Installs into a DESTDIR with the prefix /usr and checks that the tree has
# the layout of a system library: the versioned shared library and its two
# links, the right SONAME, the static library, the headers, zcio.pc and the
# CMake package, with no trace of the DESTDIR in any installed text file.
#
#   cmake -DBUILD_DIR=... -DDESTDIR=... -DLIBDIR=lib -DINCLUDEDIR=include
#         -DHEADERS="<source headers, '|'-separated>" -DREADELF=readelf
#         -DVERSION=X.Y.Z -DSONAME=libzcio.so.X -DNATIVE_LIBS="-l..."
#         -P <this file>

set(prefix /usr)
file(REMOVE_RECURSE "${DESTDIR}")
set(ENV{DESTDIR} "${DESTDIR}")
execute_process(
    COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
    COMMAND_ERROR_IS_FATAL ANY)
set(root "${DESTDIR}${prefix}")

set(problems "")
function(expect_link path target)
    set(actual "")
    if(IS_SYMLINK "${root}/${path}")
        file(READ_SYMLINK "${root}/${path}" actual)
    endif()
    if(NOT actual STREQUAL target)
        set(problems "${problems}${path} is not a link to ${target}\n"
            PARENT_SCOPE)
    endif()
endfunction()
function(expect_file path)
    if(NOT EXISTS "${root}/${path}" OR IS_SYMLINK "${root}/${path}")
        set(problems "${problems}${path} is missing\n" PARENT_SCOPE)
    endif()
endfunction()

expect_file("${LIBDIR}/libzcio.so.${VERSION}")
expect_link("${LIBDIR}/${SONAME}" "libzcio.so.${VERSION}")
expect_link("${LIBDIR}/libzcio.so" "${SONAME}")
expect_file("${LIBDIR}/libzcio.a")
string(REPLACE "|" ";" HEADERS "${HEADERS}")
foreach(header IN LISTS HEADERS)
    get_filename_component(header "${header}" NAME)
    expect_file("${INCLUDEDIR}/${header}")
endforeach()
expect_file("${LIBDIR}/pkgconfig/zcio.pc")
expect_file("${LIBDIR}/cmake/zcio/zcioConfig.cmake")
expect_file("${LIBDIR}/cmake/zcio/zcioConfigVersion.cmake")

execute_process(
    COMMAND "${READELF}" -d "${root}/${LIBDIR}/libzcio.so.${VERSION}"
    OUTPUT_VARIABLE dynamic)
if(NOT dynamic MATCHES "\\(SONAME\\)[^\n]*\\[${SONAME}\\]")
    string(APPEND problems "the installed library's SONAME is not ${SONAME}\n")
endif()

file(READ "${root}/${LIBDIR}/pkgconfig/zcio.pc" pc)
if(NOT pc MATCHES "(^|\n)prefix=${prefix}\n")
    string(APPEND problems "zcio.pc does not say prefix=${prefix}\n")
endif()
if(NOT pc MATCHES "\nVersion: ${VERSION}\n")
    string(APPEND problems "zcio.pc does not say Version: ${VERSION}\n")
endif()
string(FIND "${pc}" "\nLibs.private: ${NATIVE_LIBS}\n" at)
if(at EQUAL -1)
    string(APPEND problems "zcio.pc lacks Libs.private: ${NATIVE_LIBS}\n")
endif()

file(GLOB_RECURSE texts "${root}/*.pc" "${root}/*.cmake" "${root}/*.h")
foreach(text IN LISTS texts)
    file(READ "${text}" content)
    string(FIND "${content}" "${DESTDIR}" at)
    if(NOT at EQUAL -1)
        string(APPEND problems "${text} names the DESTDIR\n")
    endif()
endforeach()

if(problems)
    message(FATAL_ERROR "install into ${root}:\n${problems}")
endif()
message("check_install_layout: ${root} is complete")
