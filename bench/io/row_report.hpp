#pragma once
// What a row prints and reports: the table's lines, the isens/libiscsi
// ratios (medians of the paired rounds), and the JSON of summaries and
// session counters.

#include "../common/sample_summary.hpp"
#include "side_totals.hpp"

#include "isens/initiator/initiator.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace isens::bench {

inline double ratio(double a, double b) { return b > 0 ? a / b : 0; }

inline void print_header() {
  std::printf("%-34s %10s %9s %8s %8s %9s %9s %9s %7s %9s\n", "row / side", "IOPS", "MB/s", "p50 us", "p99 us",
              "cpu us/IO", "proc us/IO", "tgtd us/IO", "tgtd %", "user us/IO");
}

inline void print_side(const std::string& name, const side_totals& t) {
  const auto lat = t.latency();
  std::printf("  %-32s %10.0f %9.1f %8.1f %8.1f %9.2f %9.2f %9.2f %7.1f %9.2f%s\n", name.c_str(), t.iops(), t.mbps(),
              lat.p50, lat.p99, t.cpu_us_per_io(), t.process_cpu_us_per_io(), t.tgtd_cpu_us_per_io(),
              t.tgtd_main_busy_pct(), t.user_cpu_us_per_io(), t.errors || t.mismatches ? "  ERRORS/WRONG DATA" : "");
}

// The median of a[r] / b[r] over the rounds both sides ran (rounds r of the
// two sides ran back to back, so each pair saw the same machine).
inline double paired_median(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (b[i] > 0) r.push_back(a[i] / b[i]);
  if (r.empty()) return 0;
  std::sort(r.begin(), r.end());
  return r.size() % 2 ? r[r.size() / 2] : (r[r.size() / 2 - 1] + r[r.size() / 2]) / 2;
}

// isens/libiscsi. The headline ratios (iops, mbps, p50_us, cpu_us_per_io)
// are medians of the paired rounds' ratios: on a shared machine one
// disturbed round moves a pooled figure a lot and this one little. The
// pooled ratios (over every command of the row) are there too, `_pooled`.
inline nlohmann::json ratio_json(const side_totals& a, const side_totals& b) {
  const auto la = a.latency(), lb = b.latency();
  double lo = 0, hi = 0;
  for (std::size_t r = 0; r < std::min(a.round_iops.size(), b.round_iops.size()); ++r) {
    const double x = ratio(a.round_iops[r], b.round_iops[r]);
    lo = r == 0 ? x : std::min(lo, x);
    hi = r == 0 ? x : std::max(hi, x);
  }
  const double iops = paired_median(a.round_iops, b.round_iops);
  return {{"iops", iops},
          {"mbps", iops},  // same commands, same size
          {"p50_us", paired_median(a.round_p50_us, b.round_p50_us)},
          {"cpu_us_per_io", paired_median(a.round_cpu_us_per_io, b.round_cpu_us_per_io)},
          {"p99_us", ratio(la.p99, lb.p99)},
          {"iops_pooled", ratio(a.iops(), b.iops())},
          {"p50_us_pooled", ratio(la.p50, lb.p50)},
          {"cpu_us_per_io_pooled", ratio(a.cpu_us_per_io(), b.cpu_us_per_io())},
          {"user_cpu_us_per_io_pooled", ratio(a.user_cpu_us_per_io(), b.user_cpu_us_per_io())},
          {"process_cpu_us_per_io_pooled", ratio(a.process_cpu_us_per_io(), b.process_cpu_us_per_io())},
          {"tgtd_cpu_us_per_io_pooled", ratio(a.tgtd_cpu_us_per_io(), b.tgtd_cpu_us_per_io())},
          {"round_iops_min", lo},
          {"round_iops_max", hi}};
}

inline void print_ratio(const nlohmann::json& r, const char* label = "ratio isens/libiscsi") {
  std::printf(
      "  %-32s %10.3f %9.3f %8.3f %8.3f %9.3f %9.3f %9.3f %7s %9.3f   (pooled: IOPS %.3f, p50 %.3f, cpu %.3f; "
      "rounds' IOPS ratios %.3f .. %.3f)\n",
      label, r["iops"].get<double>(), r["mbps"].get<double>(), r["p50_us"].get<double>(),
      r["p99_us"].get<double>(), r["cpu_us_per_io"].get<double>(), r["process_cpu_us_per_io_pooled"].get<double>(),
      r["tgtd_cpu_us_per_io_pooled"].get<double>(), "", r["user_cpu_us_per_io_pooled"].get<double>(),
      r["iops_pooled"].get<double>(), r["p50_us_pooled"].get<double>(),
      r["cpu_us_per_io_pooled"].get<double>(), r["round_iops_min"].get<double>(), r["round_iops_max"].get<double>());
}

inline nlohmann::json summary_json(const std::vector<double>& v) {
  const auto s = bench::summarize(v);
  return {{"p50", s.p50}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}, {"n", s.count}};
}

inline nlohmann::json io_counters_json(const isens::initiator::io_counters& c) {
  return {{"read_ops", c.read_ops}, {"write_ops", c.write_ops}, {"failed", c.failed},   {"held", c.held},
          {"reissued", c.reissued}, {"retried", c.retried},     {"aborted", c.aborted}, {"lun_resets", c.lun_resets}};
}

}  // namespace isens::bench
