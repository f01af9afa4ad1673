#pragma once
// io_bench's command line: which parts run and for how long.

#include "../common/command_line.hpp"

#include <cstddef>

namespace isens::bench {

// A full run by default.
struct bench_options {
  std::size_t rounds = 10;            // measured rounds per side per row
  std::size_t round_ms = 400;         // length of one round
  std::size_t drops = 20;             // isens connection drops
  std::size_t libiscsi_drops = 20;    // libiscsi connection drops
  std::size_t drop_spacing_ms = 100;  // from the end of one drop's recovery to the next drop
  std::size_t lun_mib = 256;
  std::size_t memory_commands = 256;  // 1 MiB commands in flight for the memory row
  std::size_t iscsi_perf_s = 2;       // per iscsi-perf run
  std::size_t poll_us = 50;           // the polling row: both sides poll this long for a lone command (0: no row)
  bool run_isens = true;
  bool run_libiscsi = true;
  bool mcs = true;
  bool drops_row = true;
  bool memory = true;
  bool iscsi_perf = true;
  bool readback = true;
  bool floor = true;
  bool quick = false;
};

/// Reads io_bench's command line (--help: the usage; a bad argument: exit 2).
inline bench_options parse_options(int argc, char** argv) {
  bench::command_line<bench_options> cli(
      "io_bench",
      "io_bench: isens's data path (async_read/async_write, callbacks, one io thread) beside libiscsi's async API "
      "against one private tgtd and one LUN in /dev/shm: 4 KiB random and 128 KiB / 1 MiB sequential rows, MC/S, "
      "connection drops under load, memory per command in flight. Prints a table, then as its last line one JSON "
      "object.",
      {.rounds = 3, .round_ms = 150, .drops = 5, .libiscsi_drops = 2, .lun_mib = 64, .iscsi_perf_s = 1, .quick = true},
      "about 15 s: 3 rounds of 150 ms per side and row, 5 + 2 drops, a 64 MiB LUN; rough figures");
  cli.count("--rounds", &bench_options::rounds, "Measured rounds per side and row (the sides alternate)");
  cli.count("--round-ms", &bench_options::round_ms, "Length of one round in ms");
  cli.count("--drops", &bench_options::drops, "Connection drops under load for isens");
  cli.count("--libiscsi-drops", &bench_options::libiscsi_drops,
            "Connection drops under load for libiscsi (each after the first costs ~3 s: its reconnect rule)");
  cli.count("--drop-spacing-ms", &bench_options::drop_spacing_ms, "Pause after a drop's recovery before the next");
  cli.count("--lun-mib", &bench_options::lun_mib, "LUN size in MiB (a file in /dev/shm)");
  cli.count("--memory-commands", &bench_options::memory_commands, "1 MiB reads in flight at once in the memory row");
  cli.count("--iscsi-perf-s", &bench_options::iscsi_perf_s, "Seconds per iscsi-perf run");
  cli.count("--poll-us", &bench_options::poll_us,
            "The polling row (4 KiB read QD1): isens with lone_command_poll and libiscsi's loop each poll this long "
            "before sleeping; 0 skips the row",
            true);
  cli.flag(
      "--isens-only", [](bench_options& o) { o.run_libiscsi = o.iscsi_perf = false; },
      "Run isens's side alone (to profile it; no ratios)");
  cli.flag(
      "--libiscsi-only", [](bench_options& o) { o.run_isens = o.mcs = false; },
      "Run libiscsi's side alone (to profile it; no ratios)");
  cli.flag(
      "--no-mcs", [](bench_options& o) { o.mcs = false; }, "Skip the MC/S rows");
  cli.flag(
      "--no-drops", [](bench_options& o) { o.drops_row = false; }, "Skip the connection-drop row");
  cli.flag(
      "--no-memory", [](bench_options& o) { o.memory = false; }, "Skip the memory row");
  cli.flag(
      "--no-iscsi-perf", [](bench_options& o) { o.iscsi_perf = false; }, "Skip the iscsi-perf anchor");
  cli.flag(
      "--no-floor", [](bench_options& o) { o.floor = false; },
      "Skip the floor rows (the read rows and 4 KiB writes again, with a bare hand-written initiator loop beside both sides)");
  cli.flag(
      "--no-readback", [](bench_options& o) { o.readback = false; },
      "Skip reading the whole LUN back through isens at the end (to profile; the backing file is still checked)");
  return cli.parse_or_exit(argc, argv);
}

}  // namespace isens::bench
