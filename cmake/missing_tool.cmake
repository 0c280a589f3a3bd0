# Stands in for a test whose tool was not found at configure time, so that a
# machine without it fails the test instead of silently testing less.
#
#   cmake -DMISSING=<what to install> -P <this file>

message(FATAL_ERROR "this test needs ${MISSING}; install it and reconfigure")
