#pragma once
// The floor rows: the read rows once more (4 KiB random at QD1 and QD16,
// 128 KiB sequential at QD16, 1 MiB at QD4) and the 4 KiB writes, with a third side beside
// isens and libiscsi, the bare loop (bare_side.hpp), which costs
// next to nothing itself. Its ratios to libiscsi are the best any initiator
// could reach against this tgtd on this machine; isens's ratios to it are
// what isens costs above that floor. The three take turns as in every row.

#include "bare_side.hpp"
#include "bench_setup.hpp"
#include "row_report.hpp"
#include "rounds.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace isens::bench {

/// Runs the floor rows with `isens` and `libiscsi` beside a bare loop logged
/// in with `bare`; puts its figures into `report` (`floor`, and top-level
/// keys: the bare loop's ratios to libiscsi, `floor_<row>_iops|mbps_ratio`,
/// `floor_read_4k_qd1_p50_us_ratio`, `floor_cpu_us_per_io_ratio`; isens's to
/// the bare loop, `isens_vs_floor_…`; isens's to libiscsi in these rounds,
/// `floor_rows_…`); `check` is told each side's totals.
inline void run_floor_rows(io_side& isens, io_side& libiscsi, const bare_options& bare, const bench_options& options,
                           bench_context& ctx, nlohmann::json& report,
                           const std::function<void(const std::string&, const side_totals&)>& check) {
  bare_side floor(bare);
  const std::vector<io_side*> sides{&isens, &libiscsi, &floor};
  nlohmann::json floor_json;
  // The 4 KiB QD1 and QD16 reads, the 4 KiB writes (one PDU of immediate
  // data each), the 128 KiB and 1 MiB reads.
  constexpr std::size_t floor_rows[]{0, 1, 3, 4, 6};
  for (const std::size_t i : floor_rows) {
    const auto& row = main_rows()[i];
    const auto totals = run_row(row, 300 + i, sides, options, ctx);
    std::printf("%s\n", row.label.c_str());
    nlohmann::json j;
    for (std::size_t k = 0; k < sides.size(); ++k) {
      print_side(sides[k]->name(), totals[k]);
      j[sides[k]->name()] = totals[k].to_json();
      check(sides[k]->name() + " floor " + row.label, totals[k]);
    }
    j["isens_vs_libiscsi"] = ratio_json(totals[0], totals[1]);
    j["bare_vs_libiscsi"] = ratio_json(totals[2], totals[1]);
    j["isens_vs_bare"] = ratio_json(totals[0], totals[2]);
    print_ratio(j["isens_vs_libiscsi"]);
    print_ratio(j["bare_vs_libiscsi"], "ratio bare loop/libiscsi");
    print_ratio(j["isens_vs_bare"], "ratio isens/bare loop");
    report["floor_" + row.key + "_" + row.rate_unit() + "_ratio"] = j["bare_vs_libiscsi"]["iops"];
    floor_json[row.key] = j;
    std::fflush(stdout);
  }
  report["floor"] = floor_json;
  const auto& qd1 = floor_json["read_4k_qd1"];
  const auto& qd16 = floor_json["read_4k_qd16"];
  report["floor_read_4k_qd1_p50_us_ratio"] = qd1["bare_vs_libiscsi"]["p50_us"];
  report["floor_cpu_us_per_io_ratio"] = qd16["bare_vs_libiscsi"]["cpu_us_per_io"];
  report["isens_vs_floor_read_4k_qd1_p50_us_ratio"] = qd1["isens_vs_bare"]["p50_us"];
  report["isens_vs_floor_cpu_us_per_io_ratio"] = qd16["isens_vs_bare"]["cpu_us_per_io"];
  report["floor_rows_read_4k_qd1_p50_us_ratio"] = qd1["isens_vs_libiscsi"]["p50_us"];
  report["floor_rows_cpu_us_per_io_ratio"] = qd16["isens_vs_libiscsi"]["cpu_us_per_io"];
}

}  // namespace isens::bench
