#pragma once
// Latency samples of the login benchmark (summaries: bench/common).

#include "../common/sample_summary.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

namespace isens::bench {

/// CPU time this thread has used so far (user + system), in microseconds.
inline double thread_cpu_micros() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

/// Microseconds between two steady_clock points.
inline double micros_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

/// The samples of one login/INQUIRY/logout round, per phase.
struct round_samples {
  std::vector<double> login;
  std::vector<double> login_cpu;  ///< CPU time of the calling thread during login
  std::vector<double> inquiry;
  std::vector<double> logout;
  std::vector<double> round;
};

/// The outcome of logging in many sessions at once.
struct storm_result {
  std::size_t sessions = 0;
  std::size_t failures = 0;
  double login_all_s = 0;            ///< wall time until every login finished
  double logout_all_s = 0;           ///< wall time until every logout finished
  std::vector<double> login_us;      ///< per-session login latency inside the storm
  std::vector<std::string> errors;   ///< the distinct failure messages (first few)
};

}  // namespace isens::bench
