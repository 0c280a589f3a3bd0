# Checks that zcio-bench --json prints one valid JSON object that reports
# every transfer verified, and that both the bench and the parser exit 0.
# Usage: cmake -DBENCH=path/to/zcio-bench -DPYTHON=python3 -P check-json.cmake

set(check [=[
import json, sys
d = json.load(sys.stdin)
want = d["rounds"] * len(d["methods"])
assert d["transfers_verified"] == want, (d["transfers_verified"], want)
assert all(m["bytes"] == d["file_bytes"] for m in d["methods"])
]=])

execute_process(
  COMMAND "${BENCH}" --json --size 8M --rounds 1
  COMMAND "${PYTHON}" -c "${check}"
  RESULTS_VARIABLE results)
# One entry per command, or a single error text if one could not start.
if(NOT results STREQUAL "0;0")
  message(FATAL_ERROR "zcio-bench --json | ${PYTHON} check failed; exit "
                      "statuses (bench;python3): ${results}")
endif()
