# Checks that zcio-sweep --json prints one valid JSON object with a cell for
# every method and size, each with a positive median where supported.
# Usage: cmake -DSWEEP=path/to/zcio-sweep -DPYTHON=python3
#        -P check-sweep-json.cmake

set(check [=[
import json, sys
d = json.load(sys.stdin)
assert len(d["cells"]) == 77, len(d["cells"])
for c in d["cells"]:
    assert not c["supported"] or c["median_ns"] > 0, c
assert {p["pair"] for p in d["pairs"]} == {"file-file", "file-tcp"}
]=])

execute_process(
  COMMAND "${SWEEP}" --json --reps 4
  COMMAND "${PYTHON}" -c "${check}"
  RESULTS_VARIABLE results)
if(NOT results STREQUAL "0;0")
  message(FATAL_ERROR "zcio-sweep --json | ${PYTHON} check failed; exit "
                      "statuses (sweep;python3): ${results}")
endif()
