# Runs `failover_bench --quick` (path in BENCH) and checks only that it runs
# and that its last line is a JSON object carrying the promised figures; no
# thresholds (speed is measured, never asserted, in a test).
execute_process(COMMAND ${BENCH} --quick RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${out}" out)
string(REGEX REPLACE "^.*\n" "" last "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "failover_bench --quick exited with ${rc}\n${out}\n${err}")
endif()
foreach(key isens_reconnect_ms_p50 isens_reconnect_ms_p99 isens_disconnect_ms_p50 libiscsi_gap_ms
            libiscsi_caller_errors recover_100_sessions_s nop_detect_error_pct reconnect_vs_libiscsi_gap ok)
  string(JSON value ERROR_VARIABLE json_error GET "${last}" ${key})
  if(json_error)
    message(FATAL_ERROR "failover_bench --quick: last line is not the expected JSON (${key}: ${json_error}):\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "${last}")
