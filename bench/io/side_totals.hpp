#pragma once
// A side's figures over the rounds of one row, and how a row's rounds run:
// one round at a time, the tgtd and process CPU clocks read around it.

#include "../common/sample_summary.hpp"
#include "../common/proc_stats.hpp"
#include "workload.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace isens::bench {

/// Everything a side did in one row (summed over its rounds).
struct side_totals {
  std::uint64_t ops = 0, bytes = 0, errors = 0, mismatches = 0;
  double wall_s = 0, thread_cpu_s = 0, thread_user_cpu_s = 0, process_cpu_s = 0, tgtd_cpu_s = 0, tgtd_main_cpu_s = 0;
  std::vector<float> latency_us;
  // Per round, so that the sides can be compared round by round (paired):
  std::vector<double> round_iops, round_p50_us, round_cpu_us_per_io;
  std::string first_error, first_mismatch;

  void add(const round_state& r, double process_cpu, const threads_cpu& tgtd) {
    ops += r.ops();
    bytes += r.bytes();
    errors += r.errors();
    mismatches += r.mismatches();
    wall_s += r.wall_s();
    thread_cpu_s += r.thread_cpu_s();
    thread_user_cpu_s += r.thread_user_cpu_s();
    process_cpu_s += process_cpu;
    tgtd_cpu_s += static_cast<double>(tgtd.all_ns) / 1e9;
    tgtd_main_cpu_s += static_cast<double>(tgtd.main_ns) / 1e9;
    latency_us.insert(latency_us.end(), r.latency_us().begin(), r.latency_us().end());
    round_iops.push_back(r.wall_s() > 0 ? static_cast<double>(r.ops()) / r.wall_s() : 0);
    round_cpu_us_per_io.push_back(r.ops() > 0 ? r.thread_cpu_s() * 1e6 / static_cast<double>(r.ops()) : 0);
    std::vector<float> lat = r.latency_us();
    double p50 = 0;
    if (!lat.empty()) {
      auto mid = lat.begin() + static_cast<std::ptrdiff_t>((lat.size() - 1) / 2);
      std::nth_element(lat.begin(), mid, lat.end());
      p50 = *mid;
    }
    round_p50_us.push_back(p50);
    if (first_error.empty()) first_error = r.first_error();
    if (first_mismatch.empty()) first_mismatch = r.first_mismatch();
  }
  bool ran() const noexcept { return wall_s > 0; }
  double iops() const noexcept { return wall_s > 0 ? static_cast<double>(ops) / wall_s : 0; }
  double mbps() const noexcept { return wall_s > 0 ? static_cast<double>(bytes) / wall_s / 1e6 : 0; }
  double per_io_us(double seconds) const noexcept { return ops > 0 ? seconds * 1e6 / static_cast<double>(ops) : 0; }
  double cpu_us_per_io() const noexcept { return per_io_us(thread_cpu_s); }
  /// The user-space part of cpu_us_per_io (the rest is the kernel's, on the side's behalf).
  double user_cpu_us_per_io() const noexcept { return per_io_us(thread_user_cpu_s); }
  double process_cpu_us_per_io() const noexcept { return per_io_us(process_cpu_s); }
  double tgtd_cpu_us_per_io() const noexcept { return per_io_us(tgtd_cpu_s); }
  /// tgtd's event-loop thread busy share of the wall time (near 100 %: tgtd is the ceiling).
  double tgtd_main_busy_pct() const noexcept { return wall_s > 0 ? tgtd_main_cpu_s / wall_s * 100 : 0; }
  sample_summary latency() const {
    return summarize(std::vector<double>(latency_us.begin(), latency_us.end()));
  }

  nlohmann::json to_json() const {
    const auto lat = latency();
    nlohmann::json j{{"ops", ops},
                     {"iops", iops()},
                     {"mbps", mbps()},
                     {"p50_us", lat.p50},
                     {"p99_us", lat.p99},
                     {"mean_us", lat.mean},
                     {"cpu_us_per_io", cpu_us_per_io()},
                     {"user_cpu_us_per_io", user_cpu_us_per_io()},
                     {"process_cpu_us_per_io", process_cpu_us_per_io()},
                     {"tgtd_cpu_us_per_io", tgtd_cpu_us_per_io()},
                     {"tgtd_main_busy_pct", tgtd_main_busy_pct()},
                     {"round_iops", round_iops},
                     {"round_p50_us", round_p50_us},
                     {"round_cpu_us_per_io", round_cpu_us_per_io},
                     {"errors", errors},
                     {"mismatches", mismatches}};
    if (!first_error.empty()) j["first_error"] = first_error;
    if (!first_mismatch.empty()) j["first_mismatch"] = first_mismatch;
    return j;
  }
};

}  // namespace isens::bench
