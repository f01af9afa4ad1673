// login_bench: how long isens takes to log in, beside libiscsi, against the
// same private tgtd; and how long 500 sessions take to log in at once.
//
//   login_bench [--rounds N] [--sessions N] [--threads N] [--quick] [--no-libiscsi-storm]
//               [--isens-only | --libiscsi-only]
//
// Prints a table, then as its last line one JSON object with the figures.
// Exits 1 when any round or session failed (the JSON still comes last), 2 on
// a bad argument (--help: the usage).

#include "../common/command_line.hpp"
#include "../common/run_and_report.hpp"
#include "isens_side.hpp"
#include "libiscsi_side.hpp"
#include "sample_stats.hpp"
#include "tgtd_target.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace bench = isens::bench;

// A full run by default.
struct bench_options {
  std::size_t rounds = 200;
  std::size_t warmup = 10;
  std::size_t sessions = 500;
  unsigned threads = 1;
  bool libiscsi_storm = true;
  // One side alone, to profile it (strace -c, callgrind): no ratio then.
  bool run_isens = true;
  bool run_libiscsi = true;
};

bench_options parse_options(int argc, char** argv) {
  bench::command_line<bench_options> cli(
      "login_bench", "login_bench: isens login + INQUIRY + logout beside libiscsi against one private tgtd, then many "
      "sessions logging in at once. Prints a table, then as its last line one JSON object.",
      {.rounds = 10, .warmup = 2, .sessions = 50}, "a few seconds: 10 rounds (+2 warm-up), 50 sessions; rough figures");
  cli.count("--rounds", &bench_options::rounds, "Measured login rounds per side (after warm-up)");
  cli.count("--sessions", &bench_options::sessions, "Sessions logging in at once in the storm");
  cli.count("--threads", &bench_options::threads, "io threads running isens's storm");
  cli.flag("--no-libiscsi-storm", [](bench_options& o) { o.libiscsi_storm = false; }, "Skip libiscsi's storm");
  cli.flag("--isens-only", [](bench_options& o) { o.run_libiscsi = o.libiscsi_storm = false; },
           "Run isens's side alone (to profile it; no ratio)");
  cli.flag("--libiscsi-only", [](bench_options& o) { o.run_isens = false; },
           "Run libiscsi's side alone (to profile it; no ratio, no isens storm)");
  return cli.parse_or_exit(argc, argv);
}

// The benchmark's own target: one LUN, every initiator allowed.
constexpr const char* bench_iqn = "iqn.2026-11.org.isens:login-bench";
constexpr int bench_tid = 1;
constexpr std::uint64_t bench_lun_bytes = 64ull << 20;

// Failures seen while measuring: counted, the first few kept for the report.
struct failure_log {
  std::size_t count = 0;
  std::vector<std::string> first;
  void note(const std::string& side, const std::string& what) {
    ++count;
    if (first.size() < 10) first.push_back(side + ": " + what);
  }
};

struct round_results {
  bench::round_samples isens;
  bench::round_samples libiscsi;
  std::vector<double> libiscsi_full_connect;
};

// Warm-up, then `rounds` rounds in which isens and libiscsi alternate (the
// order swaps every round), so that drift of the machine hits both alike.
// libiscsi's calls are synchronous: they run right here on the io thread,
// which has nothing else to do between isens's rounds.
asio::awaitable<void> run_rounds(isens::initiator::initiator& ini, const bench::bench_target& target,
                                 const bench_options& options, round_results& out, failure_log& failures) {
  for (std::size_t i = 0; i < options.warmup + options.rounds; ++i) {
    const bool measured = i >= options.warmup;
    auto* isens_into = measured ? &out.isens : nullptr;
    auto* libiscsi_into = measured ? &out.libiscsi : nullptr;
    const bool isens_first = i % 2 == 0;
    if (options.run_isens && isens_first) {
      if (auto failed = co_await bench::isens_round(ini, target, isens_into)) failures.note("isens", *failed);
    }
    if (options.run_libiscsi) {
      if (auto failed = bench::libiscsi_round(target, libiscsi_into)) failures.note("libiscsi", *failed);
    }
    if (options.run_isens && !isens_first) {
      if (auto failed = co_await bench::isens_round(ini, target, isens_into)) failures.note("isens", *failed);
    }
    if (!options.run_libiscsi) continue;
    if (auto failed = bench::libiscsi_full_connect(target, measured ? &out.libiscsi_full_connect : nullptr))
      failures.note("libiscsi full connect", *failed);
  }
}

round_results measure_rounds(const bench::bench_target& target, const bench_options& options, failure_log& failures) {
  round_results out;
  asio::io_context io(1);
  isens::events::event_bus bus(1);
  isens::initiator::initiator ini(io.get_executor(), bus, bench::bench_initiator_options(1));
  std::exception_ptr crashed;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await run_rounds(ini, target, options, out, failures);
        co_await ini.shutdown();
      },
      [&](std::exception_ptr e) {
        crashed = e;
        io.stop();
      });
  io.run();
  if (crashed) std::rethrow_exception(crashed);
  return out;
}

void print_row(const char* name, const bench::sample_summary& s) {
  std::printf("%-34s %9.0f %9.0f %9.0f %9.0f %6zu\n", name, s.p50, s.p90, s.p99, s.mean, s.count);
}

void print_storm(const char* name, const bench::storm_result& r) {
  const auto latency = bench::summarize(r.login_us);
  std::printf("%-34s %zu sessions: all logged in after %.3f s (per session p50 %.1f ms, p99 %.1f ms), "
              "all logged out after %.3f s, %zu failures\n",
              name, r.sessions, r.login_all_s, latency.p50 / 1000, latency.p99 / 1000, r.logout_all_s, r.failures);
  for (const auto& e : r.errors) std::printf("    failure: %s\n", e.c_str());
}

nlohmann::json series(const bench::sample_summary& s) {
  return {{"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"mean", s.mean}};
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  return bench::run_and_report("login_bench", [&](nlohmann::json& report) {
    isens::test::tgtd_target tgtd;
    tgtd.add_target(bench_iqn, bench_tid);
    tgtd.add_lun(bench_tid, 1, bench_lun_bytes);
    tgtd.bind_all_initiators(bench_tid);
    bench::bench_target target;
    target.port = tgtd.port();
    target.iqn = bench_iqn;
    target.lun = 1;

    failure_log failures;
    const auto rounds = measure_rounds(target, options, failures);
    const auto isens_storm =
        options.run_isens ? bench::isens_storm(target, options.sessions, options.threads) : bench::storm_result{};
    std::optional<bench::storm_result> libiscsi_storm;
    if (options.libiscsi_storm) libiscsi_storm = bench::libiscsi_storm(target, options.sessions);

    const auto il = bench::summarize(rounds.isens.login), ii = bench::summarize(rounds.isens.inquiry),
               io = bench::summarize(rounds.isens.logout), ir = bench::summarize(rounds.isens.round);
    const auto ll = bench::summarize(rounds.libiscsi.login), li = bench::summarize(rounds.libiscsi.inquiry),
               lo = bench::summarize(rounds.libiscsi.logout), lr = bench::summarize(rounds.libiscsi.round);
    const auto lf = bench::summarize(rounds.libiscsi_full_connect);
    const auto ic = bench::summarize(rounds.isens.login_cpu), lc = bench::summarize(rounds.libiscsi.login_cpu);
    const double ratio = ll.p50 > 0 ? il.p50 / ll.p50 : 0;
    const double ratio_full = lf.p50 > 0 ? il.p50 / lf.p50 : 0;

    std::printf("login_bench: tgtd pid %d on 127.0.0.1:%u, LUN 1 = 64 MiB sparse file; %zu rounds per side "
                "(+%zu warm-up), interleaved\n\n",
                static_cast<int>(tgtd.pid()), target.port, options.rounds, options.warmup);
    std::printf("%-34s %9s %9s %9s %9s %6s\n", "phase (us)", "p50", "p90", "p99", "mean", "n");
    print_row("isens    login", il);
    print_row("isens    inquiry (std+VPD80+VPD83)", ii);
    print_row("isens    logout", io);
    print_row("isens    round", ir);
    print_row("isens    login CPU (io thread)", ic);
    print_row("libiscsi login (connect+login)", ll);
    print_row("libiscsi inquiry (std+VPD80+VPD83)", li);
    print_row("libiscsi logout", lo);
    print_row("libiscsi round", lr);
    print_row("libiscsi login CPU (its thread)", lc);
    print_row("libiscsi full_connect (+TUR)", lf);
    std::printf("\nratio isens/libiscsi login p50: %.3f   (vs full_connect: %.3f)\n\n", ratio, ratio_full);
    const std::string isens_storm_name = "isens (" + std::to_string(options.threads) + " io thread" +
                                         (options.threads == 1 ? ")" : "s)");
    print_storm(isens_storm_name.c_str(), isens_storm);
    if (libiscsi_storm) print_storm("libiscsi async (1 thread, poll)", *libiscsi_storm);
    for (const auto& f : failures.first) std::printf("round failure: %s\n", f.c_str());

    report = {
        {"isens_login_us_p50", il.p50},
        {"libiscsi_login_us_p50", ll.p50},
        // No ratio when one side did not run (--isens-only, --libiscsi-only): 0 would read as a win.
        {"ratio", options.run_isens && options.run_libiscsi ? nlohmann::json(ratio) : nlohmann::json(nullptr)},
        {"isens_round_us_p50", ir.p50},
        {"libiscsi_round_us_p50", lr.p50},
        {"sessions_500_login_s", isens_storm.login_all_s},
        {"sessions_500_failures", isens_storm.failures},
        {"sessions", options.sessions},
        {"sessions_threads", options.threads},
        {"sessions_500_logout_s", isens_storm.logout_all_s},
        {"libiscsi_full_connect_us_p50", lf.p50},
        {"ratio_vs_full_connect", ratio_full},
        {"isens_login_cpu_us_p50", ic.p50},
        {"libiscsi_login_cpu_us_p50", lc.p50},
        {"isens", {{"login", series(il)}, {"inquiry", series(ii)}, {"logout", series(io)}, {"round", series(ir)}, {"login_cpu", series(ic)}}},
        {"libiscsi", {{"login", series(ll)}, {"inquiry", series(li)}, {"logout", series(lo)}, {"round", series(lr)},
                      {"login_cpu", series(lc)}, {"full_connect", series(lf)}}},
        {"rounds", options.rounds},
        {"round_failures", failures.count},
    };
    if (libiscsi_storm) {
      report["libiscsi_sessions_login_s"] = libiscsi_storm->login_all_s;
      report["libiscsi_sessions_failures"] = libiscsi_storm->failures;
    }
    const bool ok = failures.count == 0 && isens_storm.failures == 0 &&
                    (!libiscsi_storm || libiscsi_storm->failures == 0);
    report["ok"] = ok;
  });
}
