# Runs `login_bench --quick` (path in BENCH) and checks that it succeeds and
# that its last line is a JSON object carrying the promised figures.
execute_process(COMMAND ${BENCH} --quick RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${out}" out)
string(REGEX REPLACE "^.*\n" "" last "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "login_bench --quick exited with ${rc}\n${out}\n${err}")
endif()
foreach(key isens_login_us_p50 libiscsi_login_us_p50 ratio isens_round_us_p50 libiscsi_round_us_p50
            sessions_500_login_s sessions_500_failures ok)
  string(JSON value ERROR_VARIABLE json_error GET "${last}" ${key})
  if(json_error)
    message(FATAL_ERROR "last line is not the expected JSON (${key}: ${json_error}):\n${last}")
  endif()
endforeach()
message(STATUS "${last}")
