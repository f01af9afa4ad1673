#pragma once
// Latency samples and their summary (nearest-rank percentiles).

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

namespace isens::bench {

/// A summary of one series of samples, in microseconds.
struct summary {
  std::size_t count = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double mean = 0;
};

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

/// Nearest-rank percentile of sorted samples (q in [0, 1]).
inline double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

/// p50/p90/p99/mean of `samples`.
inline summary summarize(std::vector<double> samples) {
  summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.p50 = percentile(samples, 0.50);
  s.p90 = percentile(samples, 0.90);
  s.p99 = percentile(samples, 0.99);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return s;
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
