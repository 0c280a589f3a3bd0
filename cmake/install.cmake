# --- Install and package -----------------------------------------------------
#
# Included from the top-level CMakeLists.txt after the imported zcio targets
# are defined. `cmake --install` (with DESTDIR and --prefix) lays zcio out the
# way a distribution does: the shared library as libzcio.so.X.Y.Z with the
# links libzcio.so.<major> (its SONAME) and libzcio.so, the static library,
# the header, zcio.pc and a CMake package. The tests at the end install into
# the build tree and use the result as a stranger's project would.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ZCIO_SONAME "libzcio.so.${PROJECT_VERSION_MAJOR}")
set(ZCIO_REAL_NAME "libzcio.so.${PROJECT_VERSION}")

# --- What a static link needs, in rustc's own words --------------------------

# rustc knows which system libraries the Rust runtime calls; asking it keeps
# Libs.private and zcio::zcio_static right when the toolchain changes. This
# shares cargo's target dir, so on a fresh tree it is the first (and only)
# compile of the dependencies; afterwards cargo replays its cached note.
execute_process(
    COMMAND "${CARGO_EXECUTABLE}" rustc --release --lib
            --crate-type staticlib --target-dir "${ZCIO_CARGO_TARGET_DIR}"
            -- --print native-static-libs
    WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}"
    OUTPUT_VARIABLE zcio_rustc_out
    ERROR_VARIABLE zcio_rustc_out
    RESULT_VARIABLE zcio_rustc_rc)
if(NOT zcio_rustc_rc EQUAL 0)
    message(FATAL_ERROR "cargo rustc --print native-static-libs failed:\n"
                        "${zcio_rustc_out}")
endif()
if(NOT zcio_rustc_out MATCHES "native-static-libs: ([^\n]*)")
    message(FATAL_ERROR "rustc printed no native-static-libs note:\n"
                        "${zcio_rustc_out}")
endif()
string(STRIP "${CMAKE_MATCH_1}" ZCIO_NATIVE_STATIC_LIBS)

# The same list as CMake link items: -lfoo becomes foo, anything else stays.
separate_arguments(zcio_native_flags UNIX_COMMAND "${ZCIO_NATIVE_STATIC_LIBS}")
set(ZCIO_NATIVE_STATIC_LIB_ITEMS "")
foreach(flag IN LISTS zcio_native_flags)
    string(REGEX REPLACE "^-l" "" flag "${flag}")
    list(APPEND ZCIO_NATIVE_STATIC_LIB_ITEMS "${flag}")
endforeach()
message(STATUS "zcio: a static link also needs ${ZCIO_NATIVE_STATIC_LIBS}")

# --- Libraries and headers ---------------------------------------------------

# Cargo writes libzcio.so with the SONAME build.rs gives it; it is installed
# under its full version, next to the two links a system library has.
install(FILES "${ZCIO_LIB_DIR}/libzcio.so"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    RENAME "${ZCIO_REAL_NAME}"
    COMPONENT runtime)

set(zcio_link_dir "${CMAKE_BINARY_DIR}/install-links")
file(MAKE_DIRECTORY "${zcio_link_dir}")
file(CREATE_LINK "${ZCIO_REAL_NAME}" "${zcio_link_dir}/${ZCIO_SONAME}"
     SYMBOLIC)
file(CREATE_LINK "${ZCIO_SONAME}" "${zcio_link_dir}/libzcio.so" SYMBOLIC)
install(FILES "${zcio_link_dir}/${ZCIO_SONAME}"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT runtime)
install(FILES "${zcio_link_dir}/libzcio.so" "${ZCIO_LIB_DIR}/libzcio.a"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT devel)

# zcio.hpp is the header-only C++ wrapper over zcio.h.
set(zcio_headers "${CMAKE_SOURCE_DIR}/include/zcio.h")
if(EXISTS "${CMAKE_SOURCE_DIR}/include/zcio.hpp")
    list(APPEND zcio_headers "${CMAKE_SOURCE_DIR}/include/zcio.hpp")
endif()
install(FILES ${zcio_headers}
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT devel)

# --- pkg-config --------------------------------------------------------------

# A .pc file names absolute paths, and `cmake --install --prefix` picks the
# prefix only at install time; so the file is configured twice: now for
# everything but the prefix, then by the install step for the prefix.
foreach(dir LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
        set(ZCIO_PC_${dir} "${CMAKE_INSTALL_${dir}}")
    elseif(dir STREQUAL "LIBDIR")
        set(ZCIO_PC_${dir} "\${exec_prefix}/${CMAKE_INSTALL_${dir}}")
    else()
        set(ZCIO_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
    endif()
endforeach()
set(ZCIO_PC_PREFIX "@ZCIO_INSTALL_PREFIX@")
configure_file("${CMAKE_CURRENT_LIST_DIR}/zcio.pc.in"
               "${CMAKE_BINARY_DIR}/pkgconfig/zcio.pc.in" @ONLY)
install(CODE "
    set(ZCIO_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${CMAKE_BINARY_DIR}/pkgconfig/zcio.pc.in\"
                   \"${CMAKE_BINARY_DIR}/pkgconfig/zcio.pc\" @ONLY)"
    COMPONENT devel)
install(FILES "${CMAKE_BINARY_DIR}/pkgconfig/zcio.pc"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT devel)

# --- CMake package -----------------------------------------------------------

set(ZCIO_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/zcio")
configure_package_config_file(
    "${CMAKE_CURRENT_LIST_DIR}/zcioConfig.cmake.in"
    "${CMAKE_BINARY_DIR}/cmake-package/zcioConfig.cmake"
    INSTALL_DESTINATION "${ZCIO_CMAKE_DIR}"
    PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# The SONAME stays libzcio.so.<major>, so any release of the same major
# version can stand in for the one a program was built with.
write_basic_package_version_file(
    "${CMAKE_BINARY_DIR}/cmake-package/zcioConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}"
    COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_BINARY_DIR}/cmake-package/zcioConfig.cmake"
              "${CMAKE_BINARY_DIR}/cmake-package/zcioConfigVersion.cmake"
    DESTINATION "${ZCIO_CMAKE_DIR}" COMPONENT devel)

# --- API reference -----------------------------------------------------------

# HTML from the header's doc comments; any undocumented name is an error.
find_program(DOXYGEN_EXECUTABLE doxygen)
if(DOXYGEN_EXECUTABLE)
    configure_file("${CMAKE_CURRENT_LIST_DIR}/Doxyfile.in"
                   "${CMAKE_BINARY_DIR}/docs/Doxyfile" @ONLY)
    add_custom_target(docs
        COMMAND "${DOXYGEN_EXECUTABLE}" "${CMAKE_BINARY_DIR}/docs/Doxyfile"
        WORKING_DIRECTORY "${CMAKE_BINARY_DIR}/docs"
        COMMENT "Generating the API reference in docs/html"
        VERBATIM)
    add_dependencies(docs zcio_cargo)
    add_test(NAME docs
        COMMAND "${DOXYGEN_EXECUTABLE}" "${CMAKE_BINARY_DIR}/docs/Doxyfile"
        WORKING_DIRECTORY "${CMAKE_BINARY_DIR}/docs")
    set_tests_properties(docs PROPERTIES TIMEOUT 120 LABELS docs)
else()
    message(STATUS "zcio: doxygen not found; no docs target or test")
endif()

# --- Tests: the ABI, the install, and strangers using it ---------------------

# The exported symbols are exactly abi/zcio.symbols, and the SONAME is right.
find_program(NM_EXECUTABLE nm REQUIRED)
find_program(READELF_EXECUTABLE readelf REQUIRED)
add_test(NAME package_abi
    COMMAND "${CMAKE_COMMAND}"
            "-DNM=${NM_EXECUTABLE}" "-DREADELF=${READELF_EXECUTABLE}"
            "-DLIBRARY=${ZCIO_LIB_DIR}/libzcio.so"
            "-DSYMBOLS=${CMAKE_SOURCE_DIR}/abi/zcio.symbols"
            "-DSONAME=${ZCIO_SONAME}"
            -P "${CMAKE_CURRENT_LIST_DIR}/check_abi.cmake")

# A DESTDIR install under /usr has the layout and contents distributions
# expect, and nothing in it names the DESTDIR. (A ';' would split the test's
# argument, so the header list goes as '|'-separated.)
string(REPLACE ";" "|" zcio_header_args "${zcio_headers}")
add_test(NAME package_install_layout
    COMMAND "${CMAKE_COMMAND}"
            "-DBUILD_DIR=${CMAKE_BINARY_DIR}"
            "-DDESTDIR=${CMAKE_BINARY_DIR}/destdir"
            "-DLIBDIR=${CMAKE_INSTALL_LIBDIR}"
            "-DINCLUDEDIR=${CMAKE_INSTALL_INCLUDEDIR}"
            "-DHEADERS=${zcio_header_args}"
            "-DREADELF=${READELF_EXECUTABLE}"
            "-DVERSION=${PROJECT_VERSION}"
            "-DSONAME=${ZCIO_SONAME}"
            "-DNATIVE_LIBS=${ZCIO_NATIVE_STATIC_LIBS}"
            -P "${CMAKE_CURRENT_LIST_DIR}/check_install_layout.cmake")

# The consumer tests and the Go binding use this staging install.
set(ZCIO_STAGE "${CMAKE_BINARY_DIR}/stage")
add_test(NAME package_stage
    COMMAND "${CMAKE_COMMAND}"
            "-DBUILD_DIR=${CMAKE_BINARY_DIR}" "-DSTAGE=${ZCIO_STAGE}"
            -P "${CMAKE_CURRENT_LIST_DIR}/stage_install.cmake")
set_tests_properties(package_stage PROPERTIES FIXTURES_SETUP zcio_stage)

find_program(PKG_CONFIG_EXECUTABLE pkg-config REQUIRED)
find_program(MAKE_EXECUTABLE NAMES make gmake REQUIRED)
foreach(kind pkgconfig cmake)
    add_test(NAME package_consumer_${kind}
        COMMAND "${CMAKE_COMMAND}"
                "-DKIND=${kind}"
                "-DSOURCE_DIR=${CMAKE_SOURCE_DIR}/tests_consumer"
                "-DWORK_DIR=${CMAKE_BINARY_DIR}/consumer-${kind}"
                "-DSTAGE=${ZCIO_STAGE}"
                "-DLIBDIR=${CMAKE_INSTALL_LIBDIR}"
                "-DCC=${CMAKE_C_COMPILER}"
                "-DMAKE=${MAKE_EXECUTABLE}"
                "-DPKG_CONFIG=${PKG_CONFIG_EXECUTABLE}"
                "-DREADELF=${READELF_EXECUTABLE}"
                "-DVERSION=${PROJECT_VERSION}"
                -P "${CMAKE_SOURCE_DIR}/tests_consumer/run.cmake")
    set_tests_properties(package_consumer_${kind} PROPERTIES
        FIXTURES_REQUIRED zcio_stage)
endforeach()

set_tests_properties(package_abi package_install_layout package_stage
    package_consumer_pkgconfig package_consumer_cmake
    PROPERTIES TIMEOUT 300 LABELS package)

# The header alone, as strict C99 (c_tests checks C11 and C++17).
add_executable(header_c99 "${CMAKE_SOURCE_DIR}/tests_consumer/header_c99.c")
set_target_properties(header_c99 PROPERTIES
    C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(header_c99 PRIVATE
    -Wall -Wextra -Wpedantic -Werror -Wstrict-prototypes)
target_link_libraries(header_c99 PRIVATE zcio::zcio)
add_test(NAME header_c99 COMMAND header_c99)
set_tests_properties(header_c99 PROPERTIES TIMEOUT 60 LABELS header)

# --- Tests: the Python and Go bindings ----------------------------------------

# pytest comes from Debian's python3-pytest, which only the system python3
# sees; a python3 earlier on PATH (pyenv, a venv) may lack it.
set(ZCIO_PYTEST_PYTHON "")
find_program(zcio_path_python3 python3)
foreach(candidate "${zcio_path_python3}" /usr/bin/python3)
    if(candidate AND NOT ZCIO_PYTEST_PYTHON)
        execute_process(COMMAND "${candidate}" -c "import pytest"
            RESULT_VARIABLE zcio_no_pytest OUTPUT_QUIET ERROR_QUIET)
        if(zcio_no_pytest EQUAL 0)
            set(ZCIO_PYTEST_PYTHON "${candidate}")
        endif()
    endif()
endforeach()
if(ZCIO_PYTEST_PYTHON)
    add_test(NAME python_binding
        COMMAND "${ZCIO_PYTEST_PYTHON}" -m pytest bindings/python -q
                -p no:cacheprovider
        WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}")
    set_tests_properties(python_binding PROPERTIES ENVIRONMENT
        "ZCIO_LIBRARY=${ZCIO_LIB_DIR}/${ZCIO_SONAME};PYTHONDONTWRITEBYTECODE=1")
else()
    # Registered anyway, so a machine without pytest fails loudly instead of
    # silently testing less.
    add_test(NAME python_binding
        COMMAND "${CMAKE_COMMAND}"
                "-DMISSING=a python3 with pytest (Debian: python3-pytest)"
                -P "${CMAKE_CURRENT_LIST_DIR}/missing_tool.cmake")
endif()
set_tests_properties(python_binding PROPERTIES TIMEOUT 300 LABELS python)

# go test builds with cgo against the staging install through pkg-config;
# its caches live in the build tree so no home directory is needed.
find_program(GO_EXECUTABLE go)
if(GO_EXECUTABLE)
    add_test(NAME go_binding
        COMMAND "${GO_EXECUTABLE}" test -count=1 ./...
        WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}/bindings/go")
    set(zcio_stage_lib "${ZCIO_STAGE}/${CMAKE_INSTALL_LIBDIR}")
    set_tests_properties(go_binding PROPERTIES
        FIXTURES_REQUIRED zcio_stage
        ENVIRONMENT "PKG_CONFIG_PATH=${zcio_stage_lib}/pkgconfig"
        ENVIRONMENT_MODIFICATION
            "CGO_ENABLED=set:1;CGO_LDFLAGS=set:-Wl,-rpath,${zcio_stage_lib};\
GOCACHE=set:${CMAKE_BINARY_DIR}/go/cache;\
GOPATH=set:${CMAKE_BINARY_DIR}/go/path;\
GOENV=set:off;GOPROXY=set:off;GOFLAGS=set:-mod=readonly")
else()
    add_test(NAME go_binding
        COMMAND "${CMAKE_COMMAND}" "-DMISSING=go (Debian: golang-go)"
                -P "${CMAKE_CURRENT_LIST_DIR}/missing_tool.cmake")
endif()
set_tests_properties(go_binding PROPERTIES TIMEOUT 600 LABELS go)
