# Fails when include/zcio.h gives a C program a name without the zcio
# prefix: every macro, type, tag, enumerator and function it declares must
# start with zcio_ or ZCIO_, so none can collide with the program's own names.
#
#   cmake -DCC=<C compiler> -DHEADER=<path to zcio.h> -P <this file>
#
# Macros come from the preprocessor itself. The other names are read from
# the header's text, which cbindgen writes in a regular shape: one
# declaration per line, enumerators one per line inside their braces.

set(bad "")

function(check_name kind name)
    if(NOT name MATCHES "^(zcio_|ZCIO_)")
        list(APPEND bad "${kind} ${name}")
        set(bad "${bad}" PARENT_SCOPE)
    endif()
endfunction()

# --- Macros: those the header defines beyond its own system includes. ------

file(READ "${HEADER}" text)
string(REGEX MATCHALL "#include <[^>]+>" includes "${text}")
set(include_args "")
foreach(inc IN LISTS includes)
    string(REGEX REPLACE "#include <([^>]+)>" "\\1" inc "${inc}")
    list(APPEND include_args -include "${inc}")
endforeach()

execute_process(COMMAND "${CC}" -E -dM -x c /dev/null ${include_args}
    OUTPUT_VARIABLE base_macros COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${CC}" -E -dM -x c "${HEADER}"
    OUTPUT_VARIABLE header_macros COMMAND_ERROR_IS_FATAL ANY)
string(REGEX MATCHALL "#define [A-Za-z_][A-Za-z0-9_]*" base_macros
       "${base_macros}")
string(REGEX MATCHALL "#define [A-Za-z_][A-Za-z0-9_]*" header_macros
       "${header_macros}")
list(REMOVE_ITEM header_macros ${base_macros})
foreach(macro IN LISTS header_macros)
    string(REPLACE "#define " "" macro "${macro}")
    check_name(macro "${macro}")
endforeach()

# --- Types, tags, enumerators and functions, line by line. ------------------

# Turn the text into a CMake list of lines. In a CMake list ';' splits and
# brackets group, so ';' becomes '`' and brackets, which no name needs, go.
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" text "${text}")
string(REGEX REPLACE "[][]" " " text "${text}")
string(REPLACE ";" "`" text "${text}")
string(REPLACE "\n" ";" lines "${text}")

set(id "[A-Za-z_][A-Za-z0-9_]*")
set(depth 0)          # brace depth outside extern "C"
set(enum_pending OFF) # saw "enum X" and wait for its "{"
set(in_enum OFF)

foreach(line IN LISTS lines)
    if(line MATCHES "^#" OR line MATCHES "extern \"C\"")
        continue()
    endif()
    string(REGEX REPLACE "//.*" "" line "${line}")

    string(REGEX MATCHALL "(struct|enum|union) +${id}" tags "${line}")
    foreach(tag IN LISTS tags)
        string(REGEX REPLACE "^[a-z]+ +" "" tag "${tag}")
        check_name(tag "${tag}")
    endforeach()

    if(in_enum AND line MATCHES "^ *(${id}) *(=.*)?,? *$")
        check_name(enumerator "${CMAKE_MATCH_1}")
    elseif(depth EQUAL 0 AND line MATCHES "^typedef .*[^A-Za-z0-9_](${id}) *`")
        check_name(typedef "${CMAKE_MATCH_1}")
    elseif(depth EQUAL 1 AND line MATCHES "^} *(${id}) *`")
        check_name(typedef "${CMAKE_MATCH_1}")
    elseif(depth EQUAL 0 AND line MATCHES "^[A-Za-z].*[ *](${id})\\(")
        check_name(function "${CMAKE_MATCH_1}")
    endif()

    if(line MATCHES "(^|[^A-Za-z0-9_])enum " AND NOT line MATCHES "`")
        set(enum_pending ON)
    endif()
    if(line MATCHES "{")
        math(EXPR depth "${depth} + 1")
        set(in_enum ${enum_pending})
        set(enum_pending OFF)
    endif()
    if(line MATCHES "}")
        math(EXPR depth "${depth} - 1")
        set(in_enum OFF)
    endif()
endforeach()

if(bad)
    list(REMOVE_DUPLICATES bad)
    list(JOIN bad "\n  " bad)
    message(FATAL_ERROR "${HEADER} declares names without the zcio prefix:"
                        "\n  ${bad}")
endif()
