# Registers the doctest cases of one executable as ctest entries, one entry per case, run
# after every build of the executable (POST_BUILD, tetherd_register_doctest_cases in
# tests/CMakeLists.txt) like doctest_discover_tests, with two differences:
#   - EXCLUDE (a doctest filter, comma-separated patterns; may be empty) leaves cases out:
#     the store suite's server-backed cases, which run together in entries of their own;
#   - a case name may hold ';' (doctestAddTests.cmake splits such a name into pieces whose
#     entries run no case at all, and doctest passes a filter that matches nothing).
# Every entry runs "EXECUTABLE --test-case=<name>", with ',' and '\' escaped for doctest's
# filter syntax, and fails when that filter selects no case (a name that no longer
# matches must not pass silently).
#
# Inputs (-D): EXECUTABLE, EXCLUDE, PREFIX, LABELS (comma-separated), WORKING_DIRECTORY,
# OUTPUT (the ctest file written).

set(exclude_argument "")
if(NOT EXCLUDE STREQUAL "")
  set(exclude_argument "--test-case-exclude=${EXCLUDE}")
endif()
execute_process(
  COMMAND "${EXECUTABLE}" ${exclude_argument} --list-test-cases
  OUTPUT_VARIABLE listing
  RESULT_VARIABLE result
  WORKING_DIRECTORY "${WORKING_DIRECTORY}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} --list-test-cases failed (${result}):\n${listing}")
endif()

# One list element per line, whatever the line holds: ';' is swapped for a character no
# case name contains (ASCII 0x1f) before splitting, and back afterwards.
string(ASCII 31 unit_separator)
string(REPLACE ";" "${unit_separator}" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
string(REPLACE "," ";" labels "${LABELS}")

set(script "")
set(count 0)
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES "^===+$" OR line MATCHES "^\\[doctest\\] ")
    continue()
  endif()
  string(REPLACE "${unit_separator}" ";" name "${line}")
  string(REPLACE "\\" "\\\\" filter "${name}")
  string(REPLACE "," "\\," filter "${filter}")
  # Bracket arguments keep ';', quotes and backslashes as they are.
  string(APPEND script
    "add_test([==[${PREFIX}${name}]==] [==[${EXECUTABLE}]==] [==[--test-case=${filter}]==])\n"
    "set_tests_properties([==[${PREFIX}${name}]==] PROPERTIES"
    " WORKING_DIRECTORY [==[${WORKING_DIRECTORY}]==]"
    " LABELS [==[${labels}]==]"
    " FAIL_REGULAR_EXPRESSION [==[test cases: *0 \\|]==])\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} lists no test cases outside '${EXCLUDE}'")
endif()
file(WRITE "${OUTPUT}" "${script}")
