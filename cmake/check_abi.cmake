# Fails when libzcio.so exports anything but the names in abi/zcio.symbols,
# lacks one of them, or has a SONAME other than the expected one: a change
# to the ABI must show up as a change to the checked-in list.
#
#   cmake -DNM=nm -DREADELF=readelf -DLIBRARY=<libzcio.so>
#         -DSYMBOLS=<abi/zcio.symbols> -DSONAME=libzcio.so.N -P <this file>

execute_process(COMMAND "${NM}" -D --defined-only "${LIBRARY}"
    OUTPUT_VARIABLE nm_out COMMAND_ERROR_IS_FATAL ANY)
string(REGEX MATCHALL "[^\n]+" nm_lines "${nm_out}")
set(exported "")
foreach(line IN LISTS nm_lines)
    # "address type name"; a name with a version ("f@@V1") keeps its base.
    string(REGEX REPLACE "^.* ([^ @]+)(@.*)?$" "\\1" name "${line}")
    list(APPEND exported "${name}")
endforeach()
list(SORT exported)
list(REMOVE_DUPLICATES exported)

file(STRINGS "${SYMBOLS}" expected REGEX "^[^#]")
list(SORT expected)

set(extra ${exported})
list(REMOVE_ITEM extra ${expected})
set(missing ${expected})
list(REMOVE_ITEM missing ${exported})

set(problems "")
if(extra)
    list(JOIN extra "\n  " extra)
    string(APPEND problems "exported but not in ${SYMBOLS}:\n  ${extra}\n")
endif()
if(missing)
    list(JOIN missing "\n  " missing)
    string(APPEND problems "in ${SYMBOLS} but not exported:\n  ${missing}\n")
endif()

execute_process(COMMAND "${READELF}" -d "${LIBRARY}"
    OUTPUT_VARIABLE dynamic COMMAND_ERROR_IS_FATAL ANY)
if(NOT dynamic MATCHES "\\(SONAME\\)[^\n]*\\[([^]]*)\\]")
    string(APPEND problems "${LIBRARY} has no SONAME\n")
elseif(NOT CMAKE_MATCH_1 STREQUAL SONAME)
    string(APPEND problems
        "SONAME is ${CMAKE_MATCH_1}, expected ${SONAME}\n")
endif()

if(problems)
    message(FATAL_ERROR "${LIBRARY}:\n${problems}"
        "If the API changed on purpose, update ${SYMBOLS}.")
endif()
list(LENGTH exported count)
message("check_abi: ${count} symbols, SONAME ${SONAME}")
