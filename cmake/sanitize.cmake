# Checking builds of the C and C++ programs: sanitizers and valgrind.
#
#   -DZCIO_SANITIZE=address,undefined   compile and link every C and C++
#                                       executable of the tree (tests and
#                                       demos) with -fsanitize=...
#   -DZCIO_VALGRIND=ON                  run every C test (label c) under
#                                       valgrind memcheck
#
# Only the C and C++ code is instrumented. libzcio itself is built by cargo
# exactly as in every other build: stable rustc has no -Zsanitizer, and the
# library's few C lines (src/guard.c) come from the cc crate. ASan still sees
# the library's heap, since its interceptors replace the malloc and free that
# Rust's allocator calls, so a buffer zcio frees twice or a test reads past
# is still caught; what it cannot see is a wild access inside Rust code.
#
# This file is included at the end of the top-level CMakeLists.txt, after
# every target exists, and applies the options to the executables it finds
# by walking the directory tree. (The libFuzzer harnesses in fuzz/ are
# built by clang through custom commands with their own -fsanitize, so
# they are not among them.)
#
# Under ASan, zcio's SIGBUS guard (src/guard.c: a sigsetjmp point and a
# handler installed on first use that chains to the previous one) works
# as is: ASan's own SIGBUS handler is installed first, zcio's replaces it
# and passes foreign faults on to it, and ASan's siglongjmp interceptor
# unpoisons the stack the guard jumps over. The map tests that truncate a
# file under a mapping pass in both the sanitizer and valgrind builds. No
# leak suppression is needed: the Rust runtime's and the pools' memory
# stays reachable from statics, which LeakSanitizer does not report.

set(ZCIO_SANITIZE "" CACHE STRING
    "Comma-separated -fsanitize= list for the C/C++ tests and demos \
(e.g. address,undefined); empty for none")
option(ZCIO_VALGRIND "Run the C tests under valgrind memcheck" OFF)

if(ZCIO_SANITIZE AND ZCIO_VALGRIND)
    message(FATAL_ERROR "ZCIO_SANITIZE and ZCIO_VALGRIND exclude each "
                        "other: valgrind cannot run an ASan binary")
endif()

# Every executable defined in dir and below, into the variable out.
function(zcio_collect_executables dir out)
    set(found "")
    get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target IN LISTS targets)
        get_target_property(type ${target} TYPE)
        if(type STREQUAL "EXECUTABLE")
            list(APPEND found ${target})
        endif()
    endforeach()
    get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
    foreach(sub IN LISTS subdirs)
        zcio_collect_executables("${sub}" sub_found)
        list(APPEND found ${sub_found})
    endforeach()
    set(${out} "${found}" PARENT_SCOPE)
endfunction()

zcio_collect_executables("${CMAKE_CURRENT_SOURCE_DIR}" zcio_executables)

if(ZCIO_SANITIZE)
    # No recovery: the first UBSan report aborts the program, so CTest sees
    # a failure even where the test's own output is not read. The frame
    # pointers give ASan's reports whole stacks at no cost to correctness.
    set(zcio_sanitize_flags
        "-fsanitize=${ZCIO_SANITIZE}" -fno-sanitize-recover=all
        -fno-omit-frame-pointer)
    foreach(target IN LISTS zcio_executables)
        target_compile_options(${target} PRIVATE ${zcio_sanitize_flags})
        target_link_options(${target} PRIVATE "-fsanitize=${ZCIO_SANITIZE}")
    endforeach()
    list(LENGTH zcio_executables count)
    message(STATUS "ZCIO_SANITIZE=${ZCIO_SANITIZE}: ${count} C/C++ "
                   "executables instrumented (libzcio itself is not)")
endif()

if(ZCIO_VALGRIND)
    find_program(ZCIO_VALGRIND_EXECUTABLE valgrind REQUIRED)
    # CMake 3.25 has no TEST_LAUNCHER (3.29), but add_test() prefixes a
    # target's CROSSCOMPILING_EMULATOR to its command on every build (the
    # project's cmake_minimum_required keeps CMP0158 at OLD). "ctest -T
    # memcheck" would need a CTest dashboard configuration (include(CTest),
    # DartConfiguration.tcl) and cannot be a step of a workflow preset.
    #
    # Definite leaks fail a test; "possibly lost" and "still reachable"
    # do not: the Rust runtime and zcio's process-wide pools keep memory
    # reachable from statics until exit by design.
    set(zcio_valgrind_command
        "${ZCIO_VALGRIND_EXECUTABLE}" --tool=memcheck --quiet
        --error-exitcode=1 --leak-check=full
        --errors-for-leak-kinds=definite --show-leak-kinds=definite
        --track-fds=no --trace-children=no)
    foreach(target IN LISTS zcio_executables)
        if(target MATCHES "^test_")
            set_target_properties(${target} PROPERTIES
                CROSSCOMPILING_EMULATOR "${zcio_valgrind_command}")
        endif()
    endforeach()
    message(STATUS "ZCIO_VALGRIND: C tests run under ${ZCIO_VALGRIND_EXECUTABLE}")
endif()
