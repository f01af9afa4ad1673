#pragma once
// The summary every benchmark prints for a series of samples: count,
// nearest-rank percentiles, min, max and mean. Unit-agnostic: the caller's
// samples are µs or ms.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

namespace isens::bench {

/// Summary of one series, in the unit of its samples.
struct sample_summary {
  std::size_t count = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double min = 0;
  double max = 0;
  double mean = 0;
};

/// Nearest-rank percentile of sorted samples (q in [0, 1]).
inline double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

/// Summarises `samples` (taken by value: they are sorted).
inline sample_summary summarize(std::vector<double> samples) {
  sample_summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.p50 = percentile(samples, 0.50);
  s.p90 = percentile(samples, 0.90);
  s.p99 = percentile(samples, 0.99);
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return s;
}

}  // namespace isens::bench
