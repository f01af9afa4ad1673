#pragma once
// Millisecond timing for the failover benchmark; summaries are the shared
// bench/common ones.

#include "../common/sample_summary.hpp"

#include <chrono>

namespace isens::bench {

/// Milliseconds between two steady_clock points.
inline double ms_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace isens::bench
