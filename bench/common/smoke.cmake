# The smoke test of a benchmark (isens_add_bench_smoke, bench/CMakeLists.txt):
# runs `BENCH --quick` and checks that it exits 0 and that its last line is a
# JSON object carrying each of KEYS (comma-separated) and "ok": true. No
# thresholds: speed is measured, never asserted, in a test.
#   cmake -DBENCH=<program> -DKEYS=<key>,<key>... -P smoke.cmake
get_filename_component(name "${BENCH}" NAME)
execute_process(COMMAND ${BENCH} --quick RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${out}" out)
string(REGEX REPLACE "^.*\n" "" last "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${name} --quick exited with ${rc}\n${out}\n${err}")
endif()
string(REPLACE "," ";" keys "${KEYS}")
foreach(key IN LISTS keys ITEMS ok)
  string(JSON value ERROR_VARIABLE json_error GET "${last}" ${key})
  if(json_error)
    message(FATAL_ERROR "${name} --quick: last line is not the expected JSON (${key}: ${json_error}):\n${out}\n${err}")
  endif()
endforeach()
string(JSON ok GET "${last}" ok)
if(NOT ok)
  message(FATAL_ERROR "${name} --quick reported a problem:\n${out}\n${err}")
endif()
message(STATUS "${last}")
