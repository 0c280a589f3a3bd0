# Installs the build tree into a fresh staging prefix inside it, where the
# consumer tests and the Go binding find zcio as an installed library.
#
#   cmake -DBUILD_DIR=<build tree> -DSTAGE=<prefix> -P <this file>

file(REMOVE_RECURSE "${STAGE}")
execute_process(
    COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${STAGE}"
    COMMAND_ERROR_IS_FATAL ANY)
