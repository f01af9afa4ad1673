// io_bench: the data path of isens (async_read / async_write through the
// facade, callbacks, one io thread) beside libiscsi 1.19's async API (one
// poll loop), against the same private tgtd and the same LUN (a file in
// /dev/shm), the two sides taking turns in short rounds (A/B, B/A, ...) so
// that drift of the machine hits both alike. Then isens with 2 and 4
// connections in one session (MC/S), the target dropping the connection
// under load, the memory 256 commands of 1 MiB in flight cost, and
// libiscsi's own iscsi-perf as an anchor. Every read is checked against the
// pattern the LUN holds; what was written is read back at the end. The
// floor rows put a bare hand-written initiator loop beside both sides, to
// show how much of a read's time and CPU is tgtd's and the kernel's.
//
//   io_bench [--rounds N] [--round-ms N] [--drops N] [--libiscsi-drops N] [--drop-spacing-ms N]
//            [--lun-mib N] [--memory-commands N] [--iscsi-perf-s N] [--quick] [--isens-only | --libiscsi-only]
//            [--no-mcs] [--no-drops] [--no-memory] [--no-iscsi-perf] [--no-floor] [--no-readback]
//   ISENS_IO_BENCH_ROWS=read_4k_qd16,... runs only those main rows (to profile one).
//
// Prints a table, then as its last line one JSON object with the figures.
// Exits 1 when something failed (an error outside the drops, wrong data, a
// hang: the JSON says which), 2 on a bad argument (--help: the usage).

#include "../common/io_runner.hpp"
#include "../common/run_and_report.hpp"
#include "../common/sample_summary.hpp"
#include "../failover/event_timer.hpp"
#include "bench_setup.hpp"
#include "drop_row.hpp"
#include "floor_rows.hpp"
#include "io_bench_options.hpp"
#include "../common/iscsi_perf_anchor.hpp"
#include "isens_sessions.hpp"
#include "isens_side.hpp"
#include "libiscsi_side.hpp"
#include "lun_pattern.hpp"
#include "memory_row.hpp"
#include "poll_row.hpp"
#include "rounds.hpp"
#include "row_report.hpp"
#include "shm_lun.hpp"
#include "side_totals.hpp"
#include "tgtd_target.hpp"
#include "workload.hpp"

#include "isens/events/event_bus.hpp"
#include "isens/initiator/initiator.hpp"
#include "isens/subscribers/failover_subscriber.hpp"

#include <nlohmann/json.hpp>
#include <sys/mman.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

// The parts of the bench, one header each: the command line
// (io_bench_options), the target and rows (bench_setup), running rounds
// (rounds), the table and ratios (row_report), isens's sessions
// (isens_sessions), the two sides (isens_side, libiscsi_side), the memory
// and drop rows, the iscsi-perf anchor. main() below runs them in order.
namespace bench = isens::bench;
using namespace isens::bench;
using namespace std::chrono_literals;

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
    bench::remove_on_hang(lun_file.path().string());

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
    // Errors or wrong reads of a side in a row fail the run.
    const auto check_totals = [&](const std::string& what, const side_totals& t) {
      if (t.errors || t.mismatches)
        problem(what + ": " + std::to_string(t.errors) + " errors, " + std::to_string(t.mismatches) +
                " wrong reads; first: " + t.first_error + t.first_mismatch);
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
                "cpu us/IO = CPU time of the thread driving that side (user us/IO: its user-space part); proc = the "
                "whole process; tgtd = all its threads; tgtd %% = its event-loop thread's busy share (near 100: tgtd is the ceiling)\n"
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
        check_totals(s->name() + " warm-up", warmup);
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
        check_totals(sides[k]->name() + " " + row.label, totals[k]);
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
        report[s->name() + "_" + row.key + "_" + row.rate_unit()] = side_json[row.rate_unit()];
        report[s->name() + "_" + row.key + "_p50_us"] = side_json["p50_us"];
      }
    }
    if (rows_json.contains("read_4k_qd16")) {
      if (isens) report["isens_cpu_us_per_io"] = rows_json["read_4k_qd16"]["isens"]["cpu_us_per_io"];
      if (libiscsi) report["libiscsi_cpu_us_per_io"] = rows_json["read_4k_qd16"]["libiscsi"]["cpu_us_per_io"];
    }

    // ---- both sides polling for a lone command's answer (4 KiB read QD1) ----
    if (options.poll_us > 0 && both) {
      std::printf("\npolling: each side polls its socket %zu us for a lone command's answer before it sleeps "
                  "(isens: lone_command_poll; libiscsi: poll() with no wait), a session each\n",
                  options.poll_us);
      print_header();
      const auto totals = run_poll_row(runner, bus, ini_options, tgtd, lun_bytes, options, ctx);
      std::printf("%s, polling\n", main_rows()[0].label.c_str());
      nlohmann::json j;
      const std::vector<std::string> names{"isens", "libiscsi"};
      for (std::size_t k = 0; k < totals.size(); ++k) {
        print_side(names[k] + " polling", totals[k]);
        j[names[k]] = totals[k].to_json();
        check_totals(names[k] + " polling row", totals[k]);
      }
      j["ratio"] = ratio_json(totals[0], totals[1]);
      print_ratio(j["ratio"]);
      j["poll_us"] = options.poll_us;
      report["poll"] = j;
      report["read_4k_qd1_poll_p50_us_ratio"] = j["ratio"]["p50_us"];
      report["isens_read_4k_qd1_poll_p50_us"] = j["isens"]["p50_us"];
      report["libiscsi_read_4k_qd1_poll_p50_us"] = j["libiscsi"]["p50_us"];
      if (ratios.contains("read_4k_qd1"))
        report["read_4k_qd1_poll_vs_plain_libiscsi_p50_us_ratio"] =
            j["isens"]["p50_us"].get<double>() / report["libiscsi_read_4k_qd1_p50_us"].get<double>();
    }

    // ---- the floor: a bare initiator loop beside both (the read rows, 4 KiB writes) ----
    if (options.floor && both) {
      std::printf("\nfloor: a bare initiator loop (one blocking socket, PDUs built by hand, no framework) beside "
                  "both sides, rounds rotating\n");
      print_header();
      run_floor_rows(*isens, *libiscsi,
                     bench::bare_options{tgtd.portal(), bench_iqn, bench_lun, bare_initiator_name,
                                         libiscsi->block_size()},
                     options, ctx, report, check_totals);
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
          check_totals(mcs_sides[k]->name() + " " + row.label, totals[k]);
        }
        const std::string unit = row.rate_unit();
        const auto rate = [&](const side_totals& t) { return unit == "mbps" ? t.mbps() : t.iops(); };
        // totals[k]: isens with 1 << k connections (k = 0, 1, 2), then libiscsi.
        for (std::size_t k = 0; k < 3; ++k)
          report["mcs" + std::to_string(1 << k) + "_" + row.key + "_" + unit] = rate(totals[k]);
        if (libiscsi) {
          const double lib = rate(totals[3]);
          report["mcs_libiscsi_" + row.key + "_" + unit] = lib;
          for (std::size_t k = 1; k < 3; ++k)
            report["mcs" + std::to_string(1 << k) + "_" + row.key + "_" + unit + "_ratio"] = ratio(rate(totals[k]), lib);
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
      anchors.push_back(run_iscsi_perf("read_4k_qd16", iscsi_perf_initiator_name, url, 16, 4096 / bs, bs, true,
                                       options.iscsi_perf_s, tgtd.pid()));
      if (!options.quick)
        anchors.push_back(run_iscsi_perf("read_128k_qd16", iscsi_perf_initiator_name, url, 16, (128 << 10) / bs, bs,
                                         false, options.iscsi_perf_s, tgtd.pid()));
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
