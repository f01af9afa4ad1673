#pragma once
// Millisecond samples and their summary (nearest-rank percentiles).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

namespace isens::bench {

/// p50/p99/max/mean of one series, in milliseconds.
struct ms_summary {
  std::size_t count = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  double min = 0;
  double mean = 0;
};

/// Milliseconds between two steady_clock points.
inline double ms_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// Nearest-rank percentile of sorted samples (q in [0, 1]).
inline double nearest_rank(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

/// Summary of `samples`.
inline ms_summary summarize_ms(std::vector<double> samples) {
  ms_summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.p50 = nearest_rank(samples, 0.50);
  s.p99 = nearest_rank(samples, 0.99);
  s.max = samples.back();
  s.min = samples.front();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return s;
}

}  // namespace isens::bench
