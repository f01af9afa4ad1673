#pragma once
// What io_bench logs in to (one target, one LUN, an initiator name per
// side) and the main rows every side runs.

#include "workload.hpp"

#include <vector>

namespace isens::bench {

inline constexpr const char* bench_iqn = "iqn.2026-12.org.isens:io-bench";
inline constexpr int bench_tid = 1;
inline constexpr int bench_lun = 1;
inline constexpr const char* isens_initiator_name = "iqn.2026-12.org.isens:io-bench-isens";
inline constexpr const char* libiscsi_initiator_name = "iqn.2026-12.org.isens:io-bench-libiscsi";
inline constexpr const char* bare_initiator_name = "iqn.2026-12.org.isens:io-bench-bare";
inline constexpr const char* iscsi_perf_initiator_name = "iqn.2026-12.org.isens:io-bench-iscsi-perf";

// The main rows: each side runs each of them, in alternating rounds.
inline const std::vector<row_spec>& main_rows() {
  static const std::vector<row_spec> rows{
      {"read_4k_qd1", "4 KiB random read QD1", io_op::read, true, 4096, 1},
      {"read_4k_qd16", "4 KiB random read QD16", io_op::read, true, 4096, 16},
      {"read_4k_qd64", "4 KiB random read QD64", io_op::read, true, 4096, 64},
      {"write_4k_qd16", "4 KiB random write QD16", io_op::write, true, 4096, 16},
      {"read_128k_qd16", "128 KiB sequential read QD16", io_op::read, false, 128 << 10, 16},
      {"write_128k_qd16", "128 KiB sequential write QD16", io_op::write, false, 128 << 10, 16},
      {"read_1m_qd4", "1 MiB sequential read QD4", io_op::read, false, 1 << 20, 4},
  };
  return rows;
}

}  // namespace isens::bench
