// io_bench: the data path of isens (async_read / async_write through the
// facade, callbacks, one io thread) beside libiscsi 1.19's async API (one
// poll loop), against the same private tgtd and the same LUN (a file in
// /dev/shm), the two sides taking turns in short rounds (A/B, B/A, ...) so
// that drift of the machine hits both alike. Then isens with 2 and 4
// connections in one session (MC/S), the target dropping the connection
// under load, the memory 256 commands of 1 MiB in flight cost, and
// libiscsi's own iscsi-perf as an anchor. Every read is checked against the
// pattern the LUN holds; what was written is read back at the end.
//
//   io_bench [--rounds N] [--round-ms N] [--drops N] [--libiscsi-drops N] [--drop-spacing-ms N]
//            [--lun-mib N] [--memory-commands N] [--iscsi-perf-s N] [--quick] [--isens-only | --libiscsi-only]
//            [--no-mcs] [--no-drops] [--no-memory] [--no-iscsi-perf] [--no-readback]
//   ISENS_IO_BENCH_ROWS=read_4k_qd16,... runs only those main rows (to profile one).
//
// Prints a table, then as its last line one JSON object with the figures.
// Exits 1 when something failed (an error outside the drops, wrong data, a
// hang: the JSON says which), 2 on a bad argument (--help: the usage).

#include "../common/command_line.hpp"
#include "../common/io_runner.hpp"
#include "../common/run_and_report.hpp"
#include "../common/sample_summary.hpp"
#include "../failover/event_timer.hpp"
#include "isens_side.hpp"
#include "libiscsi_side.hpp"
#include "lun_pattern.hpp"
#include "proc_stats.hpp"
#include "shm_lun.hpp"
#include "side_totals.hpp"
#include "subprocess.hpp"
#include "tgtd_target.hpp"
#include "workload.hpp"

#include "isens/events/event_bus.hpp"
#include "isens/initiator/initiator.hpp"
#include "isens/subscribers/failover_subscriber.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <malloc.h>
#include <pthread.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace bench = isens::bench;
using bench::io_runner;
using namespace std::chrono_literals;
using bench::io_op;
using bench::row_spec;
using bench::side_totals;

// A full run by default.
struct bench_options {
  std::size_t rounds = 10;           // measured rounds per side per row
  std::size_t round_ms = 400;        // length of one round
  std::size_t drops = 20;            // isens connection drops
  std::size_t libiscsi_drops = 20;   // libiscsi connection drops
  std::size_t drop_spacing_ms = 100; // from the end of one drop's recovery to the next drop
  std::size_t lun_mib = 256;
  std::size_t memory_commands = 256; // 1 MiB commands in flight for the memory row
  std::size_t iscsi_perf_s = 2;      // per iscsi-perf run
  bool run_isens = true;
  bool run_libiscsi = true;
  bool mcs = true;
  bool drops_row = true;
  bool memory = true;
  bool iscsi_perf = true;
  bool readback = true;
  bool quick = false;
};

bench_options parse_options(int argc, char** argv) {
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
  cli.flag("--isens-only", [](bench_options& o) { o.run_libiscsi = o.iscsi_perf = false; },
           "Run isens's side alone (to profile it; no ratios)");
  cli.flag("--libiscsi-only", [](bench_options& o) { o.run_isens = o.mcs = false; },
           "Run libiscsi's side alone (to profile it; no ratios)");
  cli.flag("--no-mcs", [](bench_options& o) { o.mcs = false; }, "Skip the MC/S rows");
  cli.flag("--no-drops", [](bench_options& o) { o.drops_row = false; }, "Skip the connection-drop row");
  cli.flag("--no-memory", [](bench_options& o) { o.memory = false; }, "Skip the memory row");
  cli.flag("--no-iscsi-perf", [](bench_options& o) { o.iscsi_perf = false; }, "Skip the iscsi-perf anchor");
  cli.flag("--no-readback", [](bench_options& o) { o.readback = false; },
           "Skip reading the whole LUN back through isens at the end (to profile; the backing file is still checked)");
  return cli.parse_or_exit(argc, argv);
}

constexpr const char* bench_iqn = "iqn.2026-12.org.isens:io-bench";
constexpr int bench_tid = 1;
constexpr int bench_lun = 1;
constexpr const char* isens_initiator_name = "iqn.2026-12.org.isens:io-bench-isens";
constexpr const char* libiscsi_initiator_name = "iqn.2026-12.org.isens:io-bench-libiscsi";
constexpr const char* iscsi_perf_initiator_name = "iqn.2026-12.org.isens:io-bench-iscsi-perf";

// The main rows: each side runs each of them, in alternating rounds.
const std::vector<row_spec>& main_rows() {
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

// A round that never ends cannot be abandoned (its side still writes into
// it): the bench reports the hang as its JSON line and exits at once.
std::string g_shm_path;  // removed on that exit too
[[noreturn]] void hung(const std::string& what) {
  std::fprintf(stderr, "io_bench: %s\n", what.c_str());
  std::fflush(stdout);
  std::cout << nlohmann::json{{"ok", false}, {"error", what}, {"hang", true}}.dump() << std::endl;
  if (!g_shm_path.empty()) std::remove(g_shm_path.c_str());
  std::_Exit(1);
}

// What every round needs: the LUN's pattern, the buffer arena, tgtd's pid.
struct bench_context {
  bench::lun_pattern& pattern;
  std::byte* arena;
  std::size_t arena_bytes;
  pid_t tgtd_pid;
  std::uint16_t next_gen = 1;
  std::uint16_t new_gen() {
    if (next_gen >= pattern.generations()) throw std::runtime_error("out of pattern generations");
    return next_gen++;
  }
};

bench::round_plan plan_for(const row_spec& row, bench_context& ctx, std::chrono::nanoseconds duration,
                           std::uint64_t seed) {
  bench::round_plan p;
  p.row = row;
  p.duration = duration;
  p.seed = seed;
  p.read_begin = p.write_begin = 0;
  p.read_end = p.write_end = ctx.pattern.bytes();
  if (row.op != io_op::read) p.write_gen = ctx.new_gen();
  return p;
}

// Runs one round of `side` to its end and adds it to `into`.
void run_round(bench::io_side& side, bench::round_plan plan, bench_context& ctx, side_totals& into) {
  const auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(plan.duration) + 60s;
  bench::round_state state(std::move(plan), ctx.pattern, ctx.arena, ctx.arena_bytes);
  auto finished = state.finished.get_future();
  const auto tgtd0 = bench::read_tgtd_cpu(ctx.tgtd_pid);
  const auto process0 = bench::process_cpu_ns();
  side.start(state);
  if (finished.wait_for(limit) != std::future_status::ready)
    hung(side.name() + ": a round of '" + state.plan().row.label + "' did not end (" +
         std::to_string(state.completed()) + " commands completed, " + std::to_string(state.in_flight()) +
         " in flight)");
  const auto process1 = bench::process_cpu_ns();
  const auto tgtd1 = bench::read_tgtd_cpu(ctx.tgtd_pid);
  into.add(state, static_cast<double>(process1 - process0) / 1e9,
           bench::tgtd_cpu{tgtd1.all_ns - tgtd0.all_ns, tgtd1.main_ns - tgtd0.main_ns});
}

// `rounds` rounds of `row` on each side, the order rotating every round.
std::vector<side_totals> run_row(const row_spec& row, std::size_t row_index, const std::vector<bench::io_side*>& sides,
                                 const bench_options& options, bench_context& ctx) {
  std::vector<side_totals> totals(sides.size());
  const auto duration = std::chrono::milliseconds(options.round_ms);
  for (std::size_t r = 0; r < options.rounds; ++r) {
    const std::uint64_t seed = 0x9E3779B97F4A7C15ull * (row_index + 1) + r;
    for (std::size_t k = 0; k < sides.size(); ++k) {
      const std::size_t i = (r + k) % sides.size();
      run_round(*sides[i], plan_for(row, ctx, duration, seed), ctx, totals[i]);
    }
  }
  return totals;
}

double ratio(double a, double b) { return b > 0 ? a / b : 0; }

void print_header() {
  std::printf("%-34s %10s %9s %8s %8s %9s %9s %9s %7s\n", "row / side", "IOPS", "MB/s", "p50 us", "p99 us",
              "cpu us/IO", "proc us/IO", "tgtd us/IO", "tgtd %");
}

void print_side(const std::string& name, const side_totals& t) {
  const auto lat = t.latency();
  std::printf("  %-32s %10.0f %9.1f %8.1f %8.1f %9.2f %9.2f %9.2f %7.1f%s\n", name.c_str(), t.iops(), t.mbps(),
              lat.p50, lat.p99, t.cpu_us_per_io(), t.process_cpu_us_per_io(), t.tgtd_cpu_us_per_io(),
              t.tgtd_main_busy_pct(), t.errors || t.mismatches ? "  ERRORS/WRONG DATA" : "");
}

// The median of a[r] / b[r] over the rounds both sides ran (rounds r of the
// two sides ran back to back, so each pair saw the same machine).
double paired_median(const std::vector<double>& a, const std::vector<double>& b) {
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
nlohmann::json ratio_json(const side_totals& a, const side_totals& b) {
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
          {"process_cpu_us_per_io_pooled", ratio(a.process_cpu_us_per_io(), b.process_cpu_us_per_io())},
          {"tgtd_cpu_us_per_io_pooled", ratio(a.tgtd_cpu_us_per_io(), b.tgtd_cpu_us_per_io())},
          {"round_iops_min", lo},
          {"round_iops_max", hi}};
}

void print_ratio(const nlohmann::json& r) {
  std::printf("  %-32s %10.3f %9.3f %8.3f %8.3f %9.3f %9.3f %9.3f   (pooled: IOPS %.3f, p50 %.3f, cpu %.3f; "
              "rounds' IOPS ratios %.3f .. %.3f)\n",
              "ratio isens/libiscsi", r["iops"].get<double>(), r["mbps"].get<double>(), r["p50_us"].get<double>(),
              r["p99_us"].get<double>(), r["cpu_us_per_io"].get<double>(),
              r["process_cpu_us_per_io_pooled"].get<double>(), r["tgtd_cpu_us_per_io_pooled"].get<double>(),
              r["iops_pooled"].get<double>(), r["p50_us_pooled"].get<double>(), r["cpu_us_per_io_pooled"].get<double>(),
              r["round_iops_min"].get<double>(), r["round_iops_max"].get<double>());
}

// ---- sessions ----

isens::initiator::login_options login_options_for(const isens::test::tgtd_target& tgtd) {
  isens::initiator::login_options o;
  o.target_portal = {"127.0.0.1", tgtd.port()};
  o.target_name = bench_iqn;
  o.enumerate_luns = true;  // the data path needs the LUN's block size
  return o;
}

std::uint32_t block_size_of(const isens::initiator::initiator& ini, std::uint64_t id, std::uint64_t lun_bytes) {
  const auto info = ini.session(id);
  if (!info) throw std::runtime_error("isens: no snapshot of session " + std::to_string(id));
  for (const auto& d : info->devices) {
    if (d.lun != bench_lun || !d.capacity) continue;
    if (d.capacity->bytes() != lun_bytes)
      throw std::runtime_error("isens sees LUN 1 as " + std::to_string(d.capacity->bytes()) + " bytes, not " +
                               std::to_string(lun_bytes));
    return d.capacity->block_size;
  }
  throw std::runtime_error("isens: LUN 1 was not enumerated");
}

// A session with `connections` connections (MC/S).
std::uint64_t login_with(io_runner& runner, isens::initiator::initiator& ini, const isens::test::tgtd_target& tgtd,
                         std::size_t connections) {
  auto id = runner.run(ini.login_to_target(login_options_for(tgtd)));
  if (!id) throw std::runtime_error("isens login failed: " + id.error().what());
  for (std::size_t c = 1; c < connections; ++c) {
    auto added = runner.run(ini.add_connection_to_session(*id));
    if (!added) throw std::runtime_error("isens add_connection_to_session failed: " + added.error().what());
  }
  const auto info = ini.session(*id);
  if (!info || info->connections.size() != connections)
    throw std::runtime_error("isens session has " + std::to_string(info ? info->connections.size() : 0) +
                             " connections, not " + std::to_string(connections));
  return *id;
}

// ---- the memory row ----

struct memory_result {
  std::size_t commands = 0;
  std::int64_t baseline_kib = 0, peak_kib = 0;
  std::uint64_t errors = 0, mismatches = 0;
  double wall_s = 0;
  std::string first_error;
  std::int64_t overhead_kib() const { return std::max<std::int64_t>(0, peak_kib - baseline_kib); }
  double bytes_per_command() const {
    return commands ? static_cast<double>(overhead_kib()) * 1024 / static_cast<double>(commands) : 0;
  }
  nlohmann::json to_json() const {
    return {{"commands", commands},         {"command_bytes", 1 << 20},
            {"baseline_rss_kib", baseline_kib}, {"peak_rss_kib", peak_kib},
            {"overhead_kib", overhead_kib()}, {"overhead_bytes_per_command", bytes_per_command()},
            {"errors", errors},             {"mismatches", mismatches}, {"wall_s", wall_s}};
  }
};

// `commands` 1 MiB reads issued at once into the (resident) arena: the RSS
// they add above it, sampled while they are in flight, and VmHWM.
memory_result memory_row(bench::io_side& side, std::size_t commands, bench_context& ctx) {
  memory_result out;
  out.commands = commands;
  bench::round_plan plan;
  plan.row = {"memory", "1 MiB reads all at once", io_op::read, false, 1 << 20, static_cast<std::uint32_t>(commands)};
  plan.max_ops = commands;
  plan.read_end = plan.write_end = ctx.pattern.bytes();
  plan.full_check_every = 1;
  bench::round_state state(plan, ctx.pattern, ctx.arena, ctx.arena_bytes);
  auto finished = state.finished.get_future();
  ::malloc_trim(0);  // memory freed earlier goes back, so what the commands take shows up as RSS
  bench::reset_peak_rss();
  out.baseline_kib = bench::read_memory_status().rss_kib;
  std::int64_t peak = out.baseline_kib;
  side.start(state);
  const auto limit = std::chrono::steady_clock::now() + 60s;
  while (finished.wait_for(200us) != std::future_status::ready) {
    peak = std::max(peak, bench::read_memory_status().rss_kib);
    if (std::chrono::steady_clock::now() > limit) hung(side.name() + ": the memory row's reads did not complete");
  }
  const auto after = bench::read_memory_status();
  out.peak_kib = std::max({peak, after.hwm_kib, after.rss_kib});
  out.errors = state.errors();
  out.mismatches = state.mismatches();
  out.wall_s = state.wall_s();
  out.first_error = state.first_error().empty() ? state.first_mismatch() : state.first_error();
  return out;
}

// ---- the drop row ----

nlohmann::json summary_json(const std::vector<double>& v) {
  const auto s = bench::summarize(v);
  return {{"p50", s.p50}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}, {"n", s.count}};
}

struct drop_result {
  std::size_t drops = 0;
  std::uint64_t ops = 0, caller_errors = 0, mismatches = 0;
  std::size_t unrecovered = 0;
  std::vector<double> stall_ms;
  std::vector<double> control_ms;  // the same measure around a tgtadm call that drops nothing
  // isens: the recovery itself, from the session's events (as published).
  std::vector<double> to_disconnect_ms;  // last completion before session_disconnect -> it
  std::vector<double> recover_ms;        // session_disconnect -> session_reconnect
  std::vector<double> resume_ms;         // session_reconnect -> the first completion after it
  std::vector<double> recovery_stall_ms; // last completion before session_disconnect -> first after session_reconnect
  std::size_t failed_attempts = 0;       // reconnect attempts that failed
  std::string first_error, first_mismatch;
  nlohmann::json counters;  // isens: the session's io counters across the row
  nlohmann::json to_json() const {
    const auto s = bench::summarize(stall_ms);
    nlohmann::json j{{"drops", drops},
                     {"ops", ops},
                     {"caller_errors", caller_errors},
                     {"mismatches", mismatches},
                     {"unrecovered", unrecovered},
                     {"stall_ms", {{"p50", s.p50}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}, {"n", s.count}}},
                     {"stall_ms_all", stall_ms},
                     {"control_stall_ms", summary_json(control_ms)}};
    if (!first_error.empty()) j["first_error"] = first_error;
    if (!first_mismatch.empty()) j["first_mismatch"] = first_mismatch;
    if (!counters.is_null()) j["isens_io_counters"] = counters;
    if (!recover_ms.empty()) {
      const auto part = [](const std::vector<double>& v) {
        const auto s = bench::summarize(v);
        return nlohmann::json{{"p50", s.p50}, {"p99", s.p99}, {"max", s.max}, {"n", s.count}};
      };
      j["recovery_stall_ms"] = part(recovery_stall_ms);
      j["stall_parts_ms"] = {{"last_completion_to_disconnect", part(to_disconnect_ms)},
                             {"disconnect_to_reconnect", part(recover_ms)},
                             {"reconnect_to_next_completion", part(resume_ms)}};
      j["failed_reconnect_attempts"] = failed_attempts;
    }
    return j;
  }
};

// The one connection tgtd holds for `initiator_name` (waits for it to come back).
isens::test::tgt_connection connection_of(const isens::test::tgtd_target& tgtd, const std::string& initiator_name) {
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (true) {
    for (const auto& c : tgtd.connections(bench_tid))
      if (c.initiator == initiator_name) return c;
    if (std::chrono::steady_clock::now() > limit)
      throw std::runtime_error("tgtd holds no connection of " + initiator_name);
    std::this_thread::sleep_for(5ms);
  }
}

// 4 KiB random reads (first half of the LUN) and writes (second half) at
// QD16 while tgtd drops the side's connection `drops` times; per drop the
// longest gap between two completions from the drop call on.
drop_result drop_row(bench::io_side& side, const std::string& initiator_name, std::size_t drops,
                     const bench_options& options, bench_context& ctx, isens::test::tgtd_target& tgtd,
                     const bench::event_timer* events = nullptr) {
  drop_result out;
  out.drops = drops;
  bench::round_plan plan;
  plan.row = {"drop", "4 KiB random read+write QD16, connection drops", io_op::mixed, true, 4096, 16};
  plan.until_stopped = true;
  plan.track_gaps = true;
  plan.seed = 0xD509;
  plan.read_begin = 0;
  plan.read_end = plan.write_begin = ctx.pattern.bytes() / 2;
  plan.write_end = ctx.pattern.bytes();
  plan.write_gen = ctx.new_gen();
  bench::round_state state(plan, ctx.pattern, ctx.arena, ctx.arena_bytes);
  auto finished = state.finished.get_future();
  side.start(state);
  std::this_thread::sleep_for(100ms);  // commands flowing before the first drop
  for (std::size_t i = 0; i < drops; ++i) {
    // Control: the same window around a tgtadm call that drops nothing
    // (the connection lookup itself): what the machine stalls anyway.
    const auto tc = bench::now_ns();
    state.window.open(tc);
    const auto cc = state.completed();
    const auto victim = connection_of(tgtd, initiator_name);
    while (state.completed() < cc + 50 || bench::now_ns() - tc < 20'000'000) std::this_thread::sleep_for(1ms);
    out.control_ms.push_back(state.window.max_gap_ms());
    const auto d0 = events ? events->disconnect_count() : 0;
    const auto r0 = events ? events->reconnect_count() : 0;
    const auto t0 = bench::now_ns();
    state.window.open(t0);
    tgtd.delete_connection(bench_tid, victim.sid, victim.cid);
    const auto c0 = state.completed();
    const auto t_ret = std::chrono::steady_clock::now();
    // Recovered once commands have flowed again for a while.
    const auto limit = t_ret + 15s;
    while (std::chrono::steady_clock::now() < limit &&
           (state.completed() < c0 + 50 || std::chrono::steady_clock::now() - t_ret < 20ms))
      std::this_thread::sleep_for(1ms);
    if (state.completed() < c0 + 50) ++out.unrecovered;
    out.stall_ms.push_back(state.window.max_gap_ms());
    if (events) {
      const auto disconnect = events->wait_disconnects(d0 + 1, 1s);
      const auto reconnect = events->wait_reconnects(r0 + 1, 1s);
      if (disconnect && reconnect) {
        const auto ns = [](std::chrono::steady_clock::time_point t) {
          return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
        };
        const auto [before, after] = state.window.around(ns(disconnect->published), ns(reconnect->published));
        if (before != 0 && after != 0) {
          out.to_disconnect_ms.push_back(static_cast<double>(ns(disconnect->published) - before) / 1e6);
          out.recover_ms.push_back(static_cast<double>(ns(reconnect->published) - ns(disconnect->published)) / 1e6);
          out.resume_ms.push_back(static_cast<double>(after - ns(reconnect->published)) / 1e6);
          out.recovery_stall_ms.push_back(static_cast<double>(after - before) / 1e6);
        }
      }
      out.failed_attempts += events->disconnect_count() - d0 - (disconnect ? 1 : 0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(options.drop_spacing_ms));
  }
  state.stop();
  if (finished.wait_for(60s) != std::future_status::ready)
    hung(side.name() + ": the drop row did not end (" + std::to_string(state.in_flight()) + " commands in flight)");
  out.ops = state.ops();
  out.caller_errors = state.errors();
  out.mismatches = state.mismatches();
  out.first_error = state.first_error();
  out.first_mismatch = state.first_mismatch();
  return out;
}

nlohmann::json io_counters_json(const isens::initiator::io_counters& c) {
  return {{"read_ops", c.read_ops}, {"write_ops", c.write_ops}, {"failed", c.failed},   {"held", c.held},
          {"reissued", c.reissued}, {"retried", c.retried},     {"aborted", c.aborted}, {"lun_resets", c.lun_resets}};
}

// ---- iscsi-perf, the peer anchor ----

struct anchor_result {
  std::string label;
  double iops = 0, mbps = 0, cpu_us_per_io = 0, tgtd_cpu_us_per_io = 0;
  std::string error;
};

anchor_result run_iscsi_perf(const std::string& label, const std::string& url, std::uint32_t depth,
                             std::uint32_t blocks, std::uint32_t block_size, bool random, std::size_t seconds,
                             pid_t tgtd_pid) {
  anchor_result out;
  out.label = label;
  std::vector<std::string> argv{"iscsi-perf", "-i", iscsi_perf_initiator_name, "-m", std::to_string(depth),
                                "-b",         std::to_string(blocks), "-t", std::to_string(seconds)};
  if (random) argv.push_back("-r");
  argv.push_back(url);
  rusage before{}, after{};
  ::getrusage(RUSAGE_CHILDREN, &before);
  const auto tgtd0 = bench::read_tgtd_cpu(tgtd_pid);
  isens::test::run_result r;
  try {
    r = isens::test::run(argv, isens::test::run_options{std::chrono::seconds(seconds + 20), {}, false});
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  const auto tgtd1 = bench::read_tgtd_cpu(tgtd_pid);
  ::getrusage(RUSAGE_CHILDREN, &after);
  // Its last word: "iops average N (M MB/s)" (after \r-refreshed progress lines).
  const auto at = r.output.rfind("iops average ");
  if (r.exit_code != 0 || at == std::string::npos) {
    out.error = "iscsi-perf exited " + std::to_string(r.exit_code) + ": " + r.output.substr(0, 300);
    return out;
  }
  out.iops = std::strtod(r.output.c_str() + at + 13, nullptr);
  out.mbps = out.iops * blocks * block_size / 1e6;
  const auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  const double cpu_us = us(after.ru_utime) - us(before.ru_utime) + us(after.ru_stime) - us(before.ru_stime);
  // iscsi-perf averages over its whole run (seconds, whole).
  const double ios = out.iops * static_cast<double>(seconds);
  if (ios > 0) {
    out.cpu_us_per_io = cpu_us / ios;
    out.tgtd_cpu_us_per_io = static_cast<double>(tgtd1.all_ns - tgtd0.all_ns) / 1e3 / ios;
  }
  return out;
}

// ---- the read-back at the end ----

// Reads the whole LUN through `side` (1 MiB, QD4) comparing every byte.
side_totals read_back(bench::io_side& side, bench_context& ctx) {
  side_totals t;
  bench::round_plan plan;
  plan.row = {"readback", "read-back of the whole LUN", io_op::read, false, 1 << 20, 4};
  plan.max_ops = ctx.pattern.bytes() >> 20;
  plan.read_end = plan.write_end = ctx.pattern.bytes();
  plan.full_check_every = 1;
  run_round(side, plan, ctx, t);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  // libiscsi writes Data-Out with writev(), which has no MSG_NOSIGNAL: a
  // target that drops the connection mid-write would kill the process
  // (isens sends with MSG_NOSIGNAL; qemu ignores SIGPIPE for libiscsi too).
  std::signal(SIGPIPE, SIG_IGN);
  return bench::run_and_report("io_bench", [&](nlohmann::json& report) {
    const auto bench_start = std::chrono::steady_clock::now();
    const std::uint64_t lun_bytes = std::uint64_t{options.lun_mib} << 20;
    bench::lun_pattern pattern(lun_bytes, 4096);
    bench::shm_lun lun_file(pattern);
    g_shm_path = lun_file.path().string();

    isens::test::tgtd_target tgtd;
    tgtd.add_target(bench_iqn, bench_tid);
    tgtd.set_max_connections(bench_tid, 4);
    tgtd.bind_all_initiators(bench_tid);
    tgtd.tgtadm({"--op", "new", "--mode", "logicalunit", "--tid", std::to_string(bench_tid), "--lun",
                 std::to_string(bench_lun), "--backing-store", lun_file.path().string()});
    const auto target_params = tgtd.params(bench_tid);

    // The caller's buffers: one arena, resident before anything is measured.
    const std::size_t arena_bytes = std::max<std::size_t>(options.memory_commands, 8) << 20;
    // Kept out of fork()ed children (tgtadm, iscsi-perf are started with
    // fork/exec while commands are in flight): otherwise every fork copies
    // its page tables and write-protects it, and the next Data-In into each
    // page takes a copy-on-write fault, a stall that is neither side's.
    void* mapped = ::mmap(nullptr, arena_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::runtime_error("cannot map the buffer arena");
    const auto unmap = [arena_bytes](std::byte* p) { ::munmap(p, arena_bytes); };
    std::unique_ptr<std::byte, decltype(unmap)> arena(static_cast<std::byte*>(mapped), unmap);
    ::madvise(mapped, arena_bytes, MADV_DONTFORK);
    std::memset(arena.get(), 0, arena_bytes);
    bench_context ctx{pattern, arena.get(), arena_bytes, tgtd.pid()};

    bool ok = true;
    std::vector<std::string> problems;
    const auto problem = [&](std::string what) {
      ok = false;
      std::fprintf(stderr, "io_bench: %s\n", what.c_str());
      if (problems.size() < 20) problems.push_back(std::move(what));
    };

    io_runner runner;
    isens::events::event_bus bus;
    isens::initiator::initiator_options ini_options;
    ini_options.initiator_name = isens_initiator_name;
    ini_options.nop_interval = 0ms;      // libiscsi sends no NOP-Outs either
    ini_options.recovery_hold = 10s;     // commands ride through a drop (the drop row)
    ini_options.single_threaded = true;  // one thread runs the io_context
    isens::initiator::initiator ini(runner.io().get_executor(), bus, ini_options);
    isens::subscribers::failover_policy policy;
    policy.recover_all_sessions = true;
    auto failover = std::make_shared<isens::subscribers::failover_subscriber>(ini, runner.io().get_executor(), policy);
    isens::events::subscription_options failover_sub;
    failover_sub.name = "failover";
    auto failover_subscription = bus.subscribe(failover, {}, failover_sub);
    auto event_times = std::make_shared<bench::event_timer>();
    isens::events::subscription_options timer_sub;
    timer_sub.name = "timer";
    auto timer_subscription = bus.subscribe(event_times, {}, timer_sub);

    std::optional<std::uint64_t> main_session;
    std::unique_ptr<bench::isens_side> isens;
    if (options.run_isens) {
      main_session = login_with(runner, ini, tgtd, 1);
      isens = std::make_unique<bench::isens_side>("isens", ini, runner.io(), *main_session, bench_lun,
                                                  block_size_of(ini, *main_session, lun_bytes));
    }
    std::unique_ptr<bench::libiscsi_side> libiscsi;
    if (options.run_libiscsi)
      libiscsi = std::make_unique<bench::libiscsi_side>(
          bench::libiscsi_options{tgtd.portal(), bench_iqn, bench_lun, libiscsi_initiator_name});
    std::vector<bench::io_side*> sides;
    if (isens) sides.push_back(isens.get());
    if (libiscsi) sides.push_back(libiscsi.get());
    const bool both = isens && libiscsi;

    const auto param = [&](const char* name) {
      const auto it = target_params.find(name);
      return it == target_params.end() ? std::string("?") : it->second;
    };
    std::printf("io_bench: tgtd pid %d on %s, LUN 1 = %s (%zu MiB, rdwr), one io thread for isens "
                "(callbacks, single_threaded), one poll loop for libiscsi; %zu rounds of %zu ms per side and row, "
                "alternating\ntarget: MaxRecvDataSegmentLength=%s MaxBurstLength=%s FirstBurstLength=%s "
                "InitialR2T=%s ImmediateData=%s MaxQueueCmd=%s MaxConnections=%s\n"
                "cpu us/IO = CPU time of the thread driving that side; proc = the whole process; tgtd = all its "
                "threads; tgtd %% = its event-loop thread's busy share (near 100: tgtd is the ceiling)\n"
                "ratio: IOPS, MB/s, p50 and cpu are the median over rounds of isens's round / libiscsi's round run "
                "next to it; p99, proc and tgtd are pooled over the row\n\n",
                static_cast<int>(tgtd.pid()), tgtd.portal().c_str(), lun_file.path().c_str(), options.lun_mib,
                options.rounds, options.round_ms, param("MaxRecvDataSegmentLength").c_str(),
                param("MaxBurstLength").c_str(), param("FirstBurstLength").c_str(), param("InitialR2T").c_str(),
                param("ImmediateData").c_str(), param("MaxQueueCmd").c_str(), param("MaxConnections").c_str());

    // Warm-up: each side, 4 KiB random reads for a moment; not counted.
    {
      const auto warm = std::chrono::milliseconds(options.quick ? 100 : 300);
      for (auto* s : sides) {
        side_totals warmup;
        run_round(*s, plan_for(main_rows()[1], ctx, warm, 7), ctx, warmup);
        report["warmup_ops"][s->name()] = warmup.ops;  // to count per command under a profiler
        if (warmup.errors || warmup.mismatches)
          problem(s->name() + " warm-up: " + std::to_string(warmup.errors) + " errors, " +
                  std::to_string(warmup.mismatches) + " wrong reads; first: " + warmup.first_error +
                  warmup.first_mismatch);
      }
    }

    // ---- the main rows ----
    print_header();
    nlohmann::json rows_json = nlohmann::json::object();
    std::map<std::string, nlohmann::json> ratios;
    // ISENS_IO_BENCH_ROWS=read_4k_qd16,... runs only those main rows (to profile one).
    const char* only_rows = std::getenv("ISENS_IO_BENCH_ROWS");
    for (std::size_t i = 0; i < main_rows().size(); ++i) {
      const auto& row = main_rows()[i];
      if (only_rows && ("," + std::string(only_rows) + ",").find("," + row.key + ",") == std::string::npos) continue;
      const auto totals = run_row(row, i, sides, options, ctx);
      std::printf("%s\n", row.label.c_str());
      nlohmann::json j;
      for (std::size_t k = 0; k < sides.size(); ++k) {
        print_side(sides[k]->name(), totals[k]);
        j[sides[k]->name()] = totals[k].to_json();
        if (totals[k].errors) problem(sides[k]->name() + " " + row.label + ": " + std::to_string(totals[k].errors) +
                                      " errors, first: " + totals[k].first_error);
        if (totals[k].mismatches)
          problem(sides[k]->name() + " " + row.label + ": " + std::to_string(totals[k].mismatches) +
                  " reads returned wrong data, first: " + totals[k].first_mismatch);
      }
      if (both) {
        j["ratio"] = ratio_json(totals[0], totals[1]);
        print_ratio(j["ratio"]);
        ratios[row.key] = j["ratio"];
      }
      rows_json[row.key] = j;
      std::fflush(stdout);
    }
    report["rows"] = rows_json;
    const auto ratio_of = [&](const std::string& key, const char* what) -> nlohmann::json {
      const auto it = ratios.find(key);
      return it == ratios.end() ? nlohmann::json() : it->second[what];
    };
    report["read_4k_qd1_p50_us_ratio"] = ratio_of("read_4k_qd1", "p50_us");
    report["read_4k_qd1_iops_ratio"] = ratio_of("read_4k_qd1", "iops");
    report["read_4k_qd16_iops_ratio"] = ratio_of("read_4k_qd16", "iops");
    report["read_4k_qd64_iops_ratio"] = ratio_of("read_4k_qd64", "iops");
    report["write_4k_qd16_iops_ratio"] = ratio_of("write_4k_qd16", "iops");
    report["read_128k_qd16_mbps_ratio"] = ratio_of("read_128k_qd16", "mbps");
    report["write_128k_qd16_mbps_ratio"] = ratio_of("write_128k_qd16", "mbps");
    report["read_1m_qd4_mbps_ratio"] = ratio_of("read_1m_qd4", "mbps");
    report["cpu_us_per_io_ratio"] = ratio_of("read_4k_qd16", "cpu_us_per_io");
    for (const auto& row : main_rows()) {
      if (!rows_json.contains(row.key)) continue;
      for (auto* s : sides) {
        const auto& side_json = rows_json[row.key][s->name()];
        const bool bytes_row = row.io_bytes > 4096;
        report[s->name() + "_" + row.key + (bytes_row ? "_mbps" : "_iops")] =
            side_json[bytes_row ? "mbps" : "iops"];
        report[s->name() + "_" + row.key + "_p50_us"] = side_json["p50_us"];
      }
    }
    if (rows_json.contains("read_4k_qd16")) {
      if (isens) report["isens_cpu_us_per_io"] = rows_json["read_4k_qd16"]["isens"]["cpu_us_per_io"];
      if (libiscsi) report["libiscsi_cpu_us_per_io"] = rows_json["read_4k_qd16"]["libiscsi"]["cpu_us_per_io"];
    }

    // ---- MC/S: isens with 2 and 4 connections in one session ----
    if (options.mcs && isens) {
      std::printf("\nMC/S: one isens session with 1, 2, 4 connections (libiscsi: 1), rounds rotating\n");
      print_header();
      const auto mcs2 = login_with(runner, ini, tgtd, 2);
      const auto mcs4 = login_with(runner, ini, tgtd, 4);
      const auto block_size = block_size_of(ini, mcs2, lun_bytes);
      bench::isens_side isens2("isens 2 connections", ini, runner.io(), mcs2, bench_lun, block_size);
      bench::isens_side isens4("isens 4 connections", ini, runner.io(), mcs4, bench_lun, block_size);
      std::vector<bench::io_side*> mcs_sides{isens.get(), &isens2, &isens4};
      if (libiscsi) mcs_sides.push_back(libiscsi.get());
      const std::vector<std::string> names{"isens_1c", "isens_2c", "isens_4c", "libiscsi"};
      const std::vector<row_spec> mcs_rows{main_rows()[4], main_rows()[2]};  // 128 KiB QD16, 4 KiB QD64 reads
      nlohmann::json mcs_json;
      for (std::size_t i = 0; i < mcs_rows.size(); ++i) {
        const auto& row = mcs_rows[i];
        const auto totals = run_row(row, 100 + i, mcs_sides, options, ctx);
        std::printf("%s\n", row.label.c_str());
        for (std::size_t k = 0; k < mcs_sides.size(); ++k) {
          print_side(mcs_sides[k]->name(), totals[k]);
          mcs_json[row.key][names[k]] = totals[k].to_json();
          if (totals[k].errors || totals[k].mismatches)
            problem(mcs_sides[k]->name() + " " + row.label + ": " + std::to_string(totals[k].errors) + " errors, " +
                    std::to_string(totals[k].mismatches) + " wrong reads; first: " + totals[k].first_error +
                    totals[k].first_mismatch);
        }
        const bool bytes_row = row.io_bytes > 4096;
        const char* unit = bytes_row ? "mbps" : "iops";
        for (std::size_t c : {1, 2, 4})
          report["mcs" + std::to_string(c) + "_" + row.key + "_" + unit] =
              bytes_row ? totals[c == 1 ? 0 : c == 2 ? 1 : 2].mbps() : totals[c == 1 ? 0 : c == 2 ? 1 : 2].iops();
        if (libiscsi) {
          const double lib = bytes_row ? totals[3].mbps() : totals[3].iops();
          report["mcs_libiscsi_" + row.key + "_" + unit] = lib;
          for (std::size_t c : {2, 4})
            report["mcs" + std::to_string(c) + "_" + row.key + "_" + unit + "_ratio"] =
                ratio(bytes_row ? totals[c / 2].mbps() : totals[c / 2].iops(), lib);
        }
      }
      report["mcs"] = mcs_json;
      (void)runner.run(ini.logout_from_target(mcs2));
      (void)runner.run(ini.logout_from_target(mcs4));
    }

    // ---- memory: 256 commands of 1 MiB in flight ----
    if (options.memory) {
      std::printf("\nmemory: %zu reads of 1 MiB issued at once into resident buffers (%zu MiB): RSS above them\n",
                  options.memory_commands, options.memory_commands);
      nlohmann::json memory_json;
      for (auto* s : sides) {
        const auto m = memory_row(*s, options.memory_commands, ctx);
        std::printf("  %-32s baseline %8lld KiB, peak %8lld KiB: +%lld KiB, %.0f bytes per command (%.3f s)%s\n",
                    s->name().c_str(), static_cast<long long>(m.baseline_kib), static_cast<long long>(m.peak_kib),
                    static_cast<long long>(m.overhead_kib()), m.bytes_per_command(), m.wall_s,
                    m.errors || m.mismatches ? "  ERRORS/WRONG DATA" : "");
        memory_json[s->name()] = m.to_json();
        if (m.errors || m.mismatches)
          problem(s->name() + " memory row: " + std::to_string(m.errors) + " errors, " +
                  std::to_string(m.mismatches) + " wrong reads; first: " + m.first_error);
      }
      report["memory"] = memory_json;
      if (isens) {
        report["memory_overhead_kib"] = memory_json["isens"]["overhead_kib"];
        report["memory_overhead_bytes_per_command"] = memory_json["isens"]["overhead_bytes_per_command"];
      }
      if (libiscsi) report["libiscsi_memory_overhead_kib"] = memory_json["libiscsi"]["overhead_kib"];
    }

    // ---- connection drops under load ----
    if (options.drops_row) {
      std::printf("\ndrops: 4 KiB random read+write QD16 while tgtd drops the connection (tgtadm delete conn), "
                  "%zu ms after each recovery; stall = longest gap between completions from the drop call on\n",
                  options.drop_spacing_ms);
      std::printf("  %-32s %6s %10s %10s %10s %10s %8s %11s %17s\n", "side", "drops", "stall p50", "stall p99",
                  "stall max", "commands", "errors", "unrecovered", "control p50/p99");
      nlohmann::json drop_json;
      const auto print_drop = [](const std::string& name, const drop_result& d) {
        const auto s = bench::summarize(d.stall_ms), c = bench::summarize(d.control_ms);
        std::printf("  %-32s %6zu %8.2fms %8.2fms %8.2fms %10llu %8llu %11zu %7.2f/%6.2fms\n", name.c_str(), d.drops,
                    s.p50, s.p99, s.max, static_cast<unsigned long long>(d.ops),
                    static_cast<unsigned long long>(d.caller_errors), d.unrecovered, c.p50, c.p99);
      };
      if (isens) {
        const auto before = ini.session(*main_session);
        auto d = drop_row(*isens, isens_initiator_name, options.drops, options, ctx, tgtd, event_times.get());
        const auto after = ini.session(*main_session);
        if (before && after) {
          auto c = after->io;
          c.read_ops -= before->io.read_ops;
          c.write_ops -= before->io.write_ops;
          c.failed -= before->io.failed;
          c.held -= before->io.held;
          c.reissued -= before->io.reissued;
          c.retried -= before->io.retried;
          c.aborted -= before->io.aborted;
          c.lun_resets -= before->io.lun_resets;
          d.counters = io_counters_json(c);
        }
        print_drop("isens (failover subscriber)", d);
        if (!d.counters.is_null())
          std::printf("    isens session counters over the row: %s\n", d.counters.dump().c_str());
        if (!d.recover_ms.empty()) {
          const auto a = bench::summarize(d.to_disconnect_ms), b = bench::summarize(d.recover_ms),
                     c = bench::summarize(d.resume_ms), r = bench::summarize(d.recovery_stall_ms);
          std::printf("    isens recovery (p50 / p99 ms): last completion -> session_disconnect %.2f / %.2f, "
                      "-> session_reconnect %.2f / %.2f, -> next completion %.2f / %.2f; in all %.2f / %.2f; failed "
                      "reconnect attempts %zu\n",
                      a.p50, a.p99, b.p50, b.p99, c.p50, c.p99, r.p50, r.p99, d.failed_attempts);
        }
        drop_json["isens"] = d.to_json();
        report["drop_caller_errors"] = d.caller_errors;
        const auto s = bench::summarize(d.stall_ms);
        report["drop_stall_ms_p50"] = s.p50;
        report["drop_stall_ms_p99"] = s.p99;
        report["drop_stall_ms_max"] = s.max;
        report["drop_control_stall_ms_p99"] = bench::summarize(d.control_ms).p99;
        report["drop_recovery_stall_ms_p50"] = bench::summarize(d.recovery_stall_ms).p50;
        report["drop_recovery_stall_ms_p99"] = bench::summarize(d.recovery_stall_ms).p99;
        if (d.caller_errors) problem("isens drop row: " + std::to_string(d.caller_errors) +
                                     " commands failed to the caller, first: " + d.first_error);
        if (d.mismatches) problem("isens drop row: wrong data: " + d.first_mismatch);
        if (d.unrecovered) problem("isens drop row: " + std::to_string(d.unrecovered) + " drops not recovered in 15 s");
      }
      if (libiscsi) {
        auto d = drop_row(*libiscsi, libiscsi_initiator_name, options.libiscsi_drops, options, ctx, tgtd);
        print_drop("libiscsi (own reconnect)", d);
        if (!d.first_error.empty()) std::printf("    libiscsi first error: %s\n", d.first_error.c_str());
        drop_json["libiscsi"] = d.to_json();
        drop_json["libiscsi"]["service_errors"] = libiscsi->service_errors();
        report["libiscsi_drop_caller_errors"] = d.caller_errors;
        const auto s = bench::summarize(d.stall_ms);
        report["libiscsi_drop_stall_ms_p50"] = s.p50;
        report["libiscsi_drop_stall_ms_p99"] = s.p99;
        if (d.mismatches) problem("libiscsi drop row: wrong data: " + d.first_mismatch);
        if (d.unrecovered) problem("libiscsi drop row: " + std::to_string(d.unrecovered) + " drops not recovered in 15 s");
      }
      report["drop"] = drop_json;
    }

    // ---- the peer anchor: libiscsi's own iscsi-perf on the same LUN ----
    if (options.iscsi_perf) {
      std::printf("\niscsi-perf (libiscsi-bin, its own process and buffers; reads only) on the same LUN, %zu s each\n",
                  options.iscsi_perf_s);
      nlohmann::json anchor_json;
      const auto url = tgtd.url(bench_iqn, bench_lun);
      const std::uint32_t bs = libiscsi ? libiscsi->block_size() : 512;
      std::vector<anchor_result> anchors;
      anchors.push_back(run_iscsi_perf("read_4k_qd16", url, 16, 4096 / bs, bs, true, options.iscsi_perf_s, tgtd.pid()));
      if (!options.quick)
        anchors.push_back(
            run_iscsi_perf("read_128k_qd16", url, 16, (128 << 10) / bs, bs, false, options.iscsi_perf_s, tgtd.pid()));
      for (const auto& a : anchors) {
        if (!a.error.empty()) {
          std::printf("  %-32s failed: %s\n", a.label.c_str(), a.error.c_str());
          anchor_json[a.label] = {{"error", a.error}};
          continue;
        }
        std::printf("  %-32s %10.0f %9.1f %8s %8s %9s %9.2f %9.2f\n", a.label.c_str(), a.iops, a.mbps, "", "", "",
                    a.cpu_us_per_io, a.tgtd_cpu_us_per_io);
        anchor_json[a.label] = {{"iops", a.iops}, {"mbps", a.mbps}, {"process_cpu_us_per_io", a.cpu_us_per_io},
                                {"tgtd_cpu_us_per_io", a.tgtd_cpu_us_per_io}};
      }
      report["iscsi_perf"] = anchor_json;
    }

    // ---- what the LUN holds now: read back through isens, and the file itself ----
    std::printf("\nverification: ");
    if (isens && options.readback) {
      const auto back = read_back(*isens, ctx);
      std::printf("isens read the whole LUN back (%llu MiB, every byte compared): %s; ",
                  static_cast<unsigned long long>(back.bytes >> 20),
                  back.errors || back.mismatches ? "WRONG" : "ok");
      if (back.errors || back.mismatches)
        problem("read-back through isens: " + std::to_string(back.errors) + " errors, " +
                std::to_string(back.mismatches) + " wrong; first: " + back.first_error + back.first_mismatch);
      report["readback_ok"] = back.errors == 0 && back.mismatches == 0;
    }
    const auto file_wrong = lun_file.verify(pattern);
    std::printf("the backing file: %s\n", file_wrong.empty() ? "ok" : file_wrong.c_str());
    if (!file_wrong.empty()) problem("the backing file does not hold what was written: " + file_wrong);
    report["backing_file_ok"] = file_wrong.empty();

    // ---- targets ----
    const auto at_least = [&](const char* key, double bound) {
      return report.contains(key) && report[key].is_number() && report[key].get<double>() >= bound;
    };
    const auto at_most = [&](const char* key, double bound) {
      return report.contains(key) && report[key].is_number() && report[key].get<double>() <= bound;
    };
    nlohmann::json targets{
        {"throughput_ratios_ge_1_1",
         at_least("read_4k_qd1_iops_ratio", 1.1) && at_least("read_4k_qd16_iops_ratio", 1.1) &&
             at_least("read_4k_qd64_iops_ratio", 1.1) && at_least("write_4k_qd16_iops_ratio", 1.1) &&
             at_least("read_128k_qd16_mbps_ratio", 1.1) && at_least("write_128k_qd16_mbps_ratio", 1.1) &&
             at_least("read_1m_qd4_mbps_ratio", 1.1)},
        {"qd1_p50_ratio_le_0_95", at_most("read_4k_qd1_p50_us_ratio", 0.95)},
        {"cpu_per_io_ratio_le_0_9", at_most("cpu_us_per_io_ratio", 0.9)},
        {"drops_zero_errors_p99_stall_lt_5ms",
         report.contains("drop_caller_errors") && report["drop_caller_errors"] == 0 &&
             at_most("drop_stall_ms_p99", 4.999999)}};
    report["targets_met"] = targets;
    std::printf("\ntargets: every throughput ratio >= 1.1: %s; QD1 p50 ratio <= 0.95: %s; CPU per I/O ratio <= 0.9: "
                "%s; drops: 0 caller errors and p99 stall < 5 ms: %s\n",
                targets["throughput_ratios_ge_1_1"] ? "met" : "MISSED",
                targets["qd1_p50_ratio_le_0_95"] ? "met" : "MISSED",
                targets["cpu_per_io_ratio_le_0_9"] ? "met" : "MISSED",
                targets["drops_zero_errors_p99_stall_lt_5ms"] ? "met" : "MISSED");

    failover_subscription.unsubscribe();
    if (main_session) (void)runner.run(ini.logout_from_target(*main_session));
    runner.run(ini.shutdown());
    libiscsi.reset();

    const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - bench_start).count();
    std::printf("run time %.1f s\n", run_s);
    report["bench"] = "io";
    report["quick"] = options.quick;
    report["rounds"] = options.rounds;
    report["round_ms"] = options.round_ms;
    report["lun_mib"] = options.lun_mib;
    report["run_s"] = run_s;
    report["target_params"] = target_params;
    if (!problems.empty()) report["problems"] = problems;
    report["ok"] = ok;
  });
}
