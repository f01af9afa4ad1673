// failover_bench: how fast dropped sessions come back, against one private
// tgtd, with faults the real target makes:
//  (1) the target drops a connection (tgtadm --op delete --mode conn): isens
//      (failover subscriber) time to session_disconnect and session_reconnect,
//      beside libiscsi reading in a loop and reconnecting by itself;
//  (2) tgtd is killed (-9) and restarted: time until N sessions are back;
//  (3) tgtd hangs (SIGSTOP): NOP-Out detection time vs interval + timeout.
//
//   failover_bench [--drops N] [--libiscsi-drops N] [--sessions N] [--quick]
//
// Prints a table, then as its last line one JSON object with the figures.
// Exits 1 when something failed outright (the JSON still comes last), 2 on a
// bad argument (--help: the usage).

#include "../common/command_line.hpp"
#include "../common/io_runner.hpp"
#include "../common/run_and_report.hpp"
#include "event_timer.hpp"
#include "isens_reader.hpp"
#include "libiscsi_reader.hpp"
#include "packet_capture.hpp"
#include "stats.hpp"
#include "tgtd_target.hpp"

#include "isens/events/event_bus.hpp"
#include "isens/initiator/initiator.hpp"
#include "isens/subscribers/failover_subscriber.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace bench = isens::bench;
using bench::io_runner;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using isens::events::event_reason;

// A full run by default.
struct bench_options {
  std::size_t drops = 100;          // isens drops
  std::size_t libiscsi_drops = 12;  // one every libiscsi_spacing (see below), so fewer
  std::size_t sessions = 100;   // for the kill -9 / restart round
  std::chrono::milliseconds outage{1000};  // how long tgtd stays dead
  std::size_t nop_samples_fast = 5;        // 100 + 200 ms
  std::size_t nop_samples_slow = 3;        // 500 + 500 ms
  bool quick = false;
};

bench_options parse_options(int argc, char** argv) {
  bench::command_line<bench_options> cli(
      "failover_bench",
      "failover_bench: how fast isens gets dropped sessions back, beside libiscsi, against one private tgtd: "
      "connection drops, tgtd kill -9 and restart, NOP-Out detection of a hung tgtd. Prints a table, then as its "
      "last line one JSON object.",
      {.drops = 10, .libiscsi_drops = 2, .sessions = 20, .outage = 300ms, .nop_samples_fast = 2,
       .nop_samples_slow = 1, .quick = true},
      "about 12 s: 10 + 2 drops, 20 sessions, 300 ms outage, 2 + 1 NOP samples; rough figures");
  cli.count("--drops", &bench_options::drops, "isens connection drops (+1 warm-up)");
  cli.count("--libiscsi-drops", &bench_options::libiscsi_drops, "libiscsi connection drops, 4.1 s apart");
  cli.count("--sessions", &bench_options::sessions, "Sessions brought back after tgtd's kill -9 and restart");
  return cli.parse_or_exit(argc, argv);
}

// libiscsi (1.19, lib/connect.c iscsi_reconnect_cb) will not start a
// reconnect sooner than 3 s (time(NULL) + 3, whole seconds) after the last
// one succeeded: a drop inside that window waits it out. Its drops are spaced
// so that each one measures a reconnect, not that rule.
constexpr auto libiscsi_spacing = 4100ms;

constexpr const char* bench_iqn = "iqn.2026-11.org.isens:failover-bench";
constexpr int bench_tid = 1;
constexpr std::uint64_t bench_lun_bytes = 64ull << 20;
constexpr const char* isens_initiator_name = "iqn.2026-11.org.isens:failover-bench-isens";
constexpr const char* libiscsi_initiator_name = "iqn.2026-11.org.isens:failover-bench-libiscsi";

isens::events::subscription_options named(const char* name) {
  isens::events::subscription_options o;
  o.name = name;
  return o;
}

isens::initiator::login_options login_options_for(const isens::test::tgtd_target& tgtd) {
  isens::initiator::login_options o;
  o.target_portal = {"127.0.0.1", tgtd.port()};
  o.target_name = bench_iqn;
  o.enumerate_luns = false;
  return o;
}

// The one connection tgtd holds for `initiator_name`; throws when there is none.
isens::test::tgt_connection connection_of(const isens::test::tgtd_target& tgtd, const std::string& initiator_name) {
  for (const auto& c : tgtd.connections(bench_tid))
    if (c.initiator == initiator_name) return c;
  throw std::runtime_error("tgtd holds no connection of " + initiator_name);
}

using bench::isens_reader;

struct drop_results {
  std::vector<double> tgtadm_ms;          // the delete call itself (spawn tgtadm .. it exits)
  std::vector<double> disconnect_ms;      // delete call start -> session_disconnect delivered
  std::vector<double> reconnect_ms;       // delete call start -> session_reconnect delivered
  std::vector<double> recover_ms;         // session_disconnect -> session_reconnect delivered
  // Where the time between the drop call and session_reconnect goes:
  std::vector<double> to_disconnect_published_ms;   // drop call -> session_disconnect published
  std::vector<double> disconnect_bus_ms;            // published -> delivered (bus hand-off)
  std::vector<double> failover_reconnect_ms;        // session_disconnect delivered -> session_reconnect published
  std::vector<double> reconnect_bus_ms;             // published -> delivered (bus hand-off)
  std::size_t failed_attempts = 0;        // reconnect attempts that failed (extra session_disconnects)
  std::size_t lost = 0;                   // drops after which no reconnect came within the limit
  std::vector<double> libiscsi_gap_ms;    // longest gap between completed reads around each drop
  std::size_t libiscsi_unrecovered = 0;   // drops after which libiscsi did not read again in time
  std::vector<double> isens_io_gap_ms;    // the same for isens reading (READ CAPACITY) through the drop
  std::size_t isens_io_unrecovered = 0;
  std::vector<double> isens_io_recover_ms;  // reading: session_disconnect -> session_reconnect delivered
  std::vector<double> isens_io_before_ms;   // reading: last completed read -> session_disconnect delivered
  std::vector<double> isens_io_after_ms;    // reading: session_reconnect delivered -> first completed read
  // Per counted isens drop, to be matched with the target's FIN in the capture:
  std::vector<unsigned short> dropped_ports;                  // the isens side's port of the dropped connection
  std::vector<std::chrono::system_clock::time_point> disconnect_at, reconnect_at;  // delivered
  std::vector<double> fin_to_disconnect_ms;  // the target's FIN (capture) -> session_disconnect delivered
  std::vector<double> fin_to_reconnect_ms;   // the target's FIN (capture) -> session_reconnect delivered
  std::size_t fins_unmatched = 0;            // counted drops whose FIN the capture does not show
};

// The local (initiator) port of the session's first connection, e.g. "127.0.0.1:41234" -> 41234.
unsigned short local_port_of(const isens::initiator::initiator& ini, std::uint64_t session_id) {
  const auto s = ini.session(session_id);
  if (!s || s->connections.empty()) throw std::runtime_error("the isens session has no connection");
  const auto& address = s->connections.front().local_address;
  return static_cast<unsigned short>(std::stoul(address.substr(address.rfind(':') + 1)));
}

// "From the target dropping the connection" is measured from the FIN tgtd
// sent, as the capture saw it, not from the tgtadm call that asks for the
// drop: spawning tgtadm and tgtd's handling of it are no part of recovery.
void match_fins(const std::vector<isens::test::tcp_fin>& fins, drop_results& out) {
  // Ports come round again (discovery sessions and reconnects use new ones
  // all the time), so a drop's FIN is the last one to its port before the
  // disconnect was delivered; 1 ms of slack covers the two clocks' offset.
  for (std::size_t i = 0; i < out.dropped_ports.size(); ++i) {
    const isens::test::tcp_fin* fin = nullptr;
    for (const auto& f : fins)
      if (f.destination_port == out.dropped_ports[i] && f.at <= out.disconnect_at[i] + 1ms) fin = &f;
    if (fin == nullptr) {
      ++out.fins_unmatched;
      continue;
    }
    out.fin_to_disconnect_ms.push_back(std::chrono::duration<double, std::milli>(out.disconnect_at[i] - fin->at).count());
    out.fin_to_reconnect_ms.push_back(std::chrono::duration<double, std::milli>(out.reconnect_at[i] - fin->at).count());
  }
}

// One isens drop: the target closes the session's only connection; the
// failover subscriber brings it back.
void isens_drop(isens::test::tgtd_target& tgtd, bench::event_timer& timer, unsigned short dropped_port,
                drop_results& out) {
  const auto victim = connection_of(tgtd, isens_initiator_name);
  const auto d0 = timer.disconnect_count();
  const auto r0 = timer.reconnect_count();
  const auto t_call = clock_type::now();
  tgtd.delete_connection(bench_tid, victim.sid, victim.cid);
  const auto t_ret = clock_type::now();
  const auto disconnect = timer.wait_disconnects(d0 + 1, 5s);
  const auto reconnect = timer.wait_reconnects(r0 + 1, 10s);
  out.tgtadm_ms.push_back(bench::ms_between(t_call, t_ret));
  if (!disconnect || !reconnect) {
    ++out.lost;
    return;
  }
  out.disconnect_ms.push_back(bench::ms_between(t_call, disconnect->at));
  out.reconnect_ms.push_back(bench::ms_between(t_call, reconnect->at));
  out.recover_ms.push_back(bench::ms_between(disconnect->at, reconnect->at));
  out.to_disconnect_published_ms.push_back(bench::ms_between(t_call, disconnect->published));
  out.disconnect_bus_ms.push_back(bench::ms_between(disconnect->published, disconnect->at));
  out.failover_reconnect_ms.push_back(bench::ms_between(disconnect->at, reconnect->published));
  out.reconnect_bus_ms.push_back(bench::ms_between(reconnect->published, reconnect->at));
  out.failed_attempts += timer.disconnect_count() - d0 - 1;
  out.dropped_ports.push_back(dropped_port);
  out.disconnect_at.push_back(timer.to_system(disconnect->at));
  out.reconnect_at.push_back(timer.to_system(reconnect->at));
}

// One libiscsi drop: the same tgtadm call on libiscsi's connection while it
// reads; the figure is the longest gap between two completed reads.
void libiscsi_drop(isens::test::tgtd_target& tgtd, bench::libiscsi_reader& reader, drop_results& out) {
  reader.set_running(true);
  std::this_thread::sleep_for(20ms);  // reads flowing before the drop
  const auto victim = connection_of(tgtd, libiscsi_initiator_name);
  reader.reset_window();
  const auto t_call = clock_type::now();
  tgtd.delete_connection(bench_tid, victim.sid, victim.cid);
  const auto t_ret = clock_type::now();
  if (std::getenv("ISENS_BENCH_LIBISCSI_LOG"))
    std::fprintf(stderr, "bench %.3f ms: libiscsi drop call, returned after %.3f ms\n",
                 std::chrono::duration<double, std::milli>(t_call.time_since_epoch()).count(),
                 bench::ms_between(t_call, t_ret));
  const auto c0 = reader.completed();
  // Done once reads have flowed again for a while after the drop.
  const auto limit = t_ret + 15s;
  while (clock_type::now() < limit && (reader.completed() < c0 + 50 || clock_type::now() - t_ret < 50ms))
    std::this_thread::sleep_for(1ms);
  if (reader.completed() < c0 + 50) ++out.libiscsi_unrecovered;
  out.libiscsi_gap_ms.push_back(reader.window_max_gap_ms());
  reader.set_running(false);
}

// One isens drop while it reads: the libiscsi drop's figure, for isens.
void isens_io_drop(isens::test::tgtd_target& tgtd, bench::event_timer& timer, isens_reader& reader, drop_results& out) {
  reader.set_running(true);
  std::this_thread::sleep_for(20ms);
  const auto victim = connection_of(tgtd, isens_initiator_name);
  const auto r0 = timer.reconnect_count();
  const auto d0 = timer.disconnect_count();
  reader.reset_window();
  tgtd.delete_connection(bench_tid, victim.sid, victim.cid);
  const auto t_ret = clock_type::now();
  const auto disconnect = timer.wait_disconnects(d0 + 1, 5s);
  const auto reconnect = timer.wait_reconnects(r0 + 1, 10s);
  if (disconnect && reconnect) out.isens_io_recover_ms.push_back(bench::ms_between(disconnect->at, reconnect->at));
  const auto c0 = reader.completed_count();
  const auto limit = t_ret + 15s;
  while (clock_type::now() < limit && (reader.completed_count() < c0 + 50 || clock_type::now() - t_ret < 50ms))
    std::this_thread::sleep_for(1ms);
  if (reader.completed_count() < c0 + 50) ++out.isens_io_unrecovered;
  if (disconnect && reconnect) {
    const auto [before, after] = reader.around(disconnect->at, reconnect->at);
    out.isens_io_before_ms.push_back(before);
    out.isens_io_after_ms.push_back(after);
  }
  out.isens_io_gap_ms.push_back(reader.window_max_gap_ms());
  reader.set_running(false);
  std::this_thread::sleep_for(5ms);  // let the command in flight finish before the next drop
}

struct restart_results {
  std::size_t sessions = 0;
  std::size_t logged_in = 0;
  double restart_call_s = 0;      // restart(): tgtd up and configured again
  double first_back_s = 0;        // restart() called -> first session_reconnect
  double all_back_s = 0;          // restart() called -> N-th session_reconnect
  std::size_t back = 0;           // sessions back within the limit
  std::size_t failed_attempts = 0;  // failed reconnect attempts during the outage and after
  std::size_t logoffs = 0;
};

restart_results kill_and_restart(io_runner& runner, isens::initiator::initiator& ini, isens::test::tgtd_target& tgtd,
                                 bench::event_timer& timer, const bench_options& options) {
  restart_results out;
  out.sessions = options.sessions;
  std::vector<std::future<isens::initiator::result<std::uint64_t>>> logins;
  for (std::size_t i = 0; i < options.sessions; ++i)
    logins.push_back(asio::co_spawn(runner.io(), ini.login_to_target(login_options_for(tgtd)), asio::use_future));
  for (auto& f : logins)
    if (f.wait_for(30s) == std::future_status::ready && f.get()) ++out.logged_in;
  if (out.logged_in != options.sessions) return out;
  std::this_thread::sleep_for(100ms);

  const auto d0 = timer.disconnect_count();
  const auto r0 = timer.reconnect_count();
  tgtd.kill9();
  (void)timer.wait_disconnects(d0 + options.sessions, 10s);
  std::this_thread::sleep_for(options.outage);
  const auto t_restart = clock_type::now();
  tgtd.restart();
  out.restart_call_s = bench::ms_between(t_restart, clock_type::now()) / 1e3;
  const auto first = timer.wait_reconnects(r0 + 1, 30s);
  const auto last = timer.wait_reconnects(r0 + options.sessions, 30s);
  out.back = timer.reconnect_count() - r0;
  if (first) out.first_back_s = bench::ms_between(t_restart, first->at) / 1e3;
  if (last) out.all_back_s = bench::ms_between(t_restart, last->at) / 1e3;
  out.failed_attempts = timer.disconnect_count() - d0 - options.sessions;
  return out;
}

// How long after a ping is due tgtd is frozen (see nop_detection).
constexpr auto nop_placement = 5ms;

struct nop_results {
  std::chrono::milliseconds interval{};
  std::chrono::milliseconds timeout{};
  std::vector<double> detect_ms;  // SIGSTOP -> session_disconnect(nop_timeout) delivered
  std::size_t wrong_reason = 0;
  std::size_t missed = 0;
  double expected_ms() const { return static_cast<double>((interval + timeout).count()); }
  double error_pct(double measured) const { return (measured - expected_ms()) / expected_ms() * 100; }
};

// NOP-Out detection: one session with pings every `interval`, each to be
// answered within `timeout`. The initiator's ping loop (session::ping_loop)
// sleeps `interval`, pings, waits for the answer, sleeps again, starting at
// login; tgtd is frozen `placement` after the second ping is due, once it has
// been answered, so the next ping is the one that goes unanswered and the
// expected detection time is interval + timeout (minus the placement).
nop_results nop_detection(io_runner& runner, isens::test::tgtd_target& tgtd, std::chrono::milliseconds interval,
                          std::chrono::milliseconds timeout, std::size_t samples) {
  nop_results out;
  out.interval = interval;
  out.timeout = timeout;
  isens::events::event_bus bus(1);
  auto timer = std::make_shared<bench::event_timer>();
  auto timer_subscription = bus.subscribe(timer, {}, named("timer"));
  isens::initiator::initiator_options options;
  options.initiator_name = isens_initiator_name;
  options.nop_interval = interval;
  options.nop_timeout = timeout;
  isens::initiator::initiator ini(runner.io().get_executor(), bus, options);
  for (std::size_t i = 0; i < samples; ++i) {
    auto id = runner.run(ini.login_to_target(login_options_for(tgtd)));
    const auto t_login = clock_type::now();
    if (!id) throw std::runtime_error("nop: login failed: " + id.error().what());
    std::this_thread::sleep_until(t_login + 2 * interval + nop_placement);
    const auto d0 = timer->disconnect_count();
    const auto t_stop = clock_type::now();
    tgtd.pause();
    const auto disconnect = timer->wait_disconnects(d0 + 1, 3 * (interval + timeout) + 1s);
    tgtd.resume();
    if (!disconnect) {
      ++out.missed;
    } else {
      out.detect_ms.push_back(bench::ms_between(t_stop, disconnect->at));
      if (disconnect->reason != event_reason::nop_timeout) ++out.wrong_reason;
    }
    (void)runner.run(ini.abandon_session(*id, "bench: next sample"));
  }
  runner.run(ini.shutdown());
  return out;
}

void print_row(const char* name, const bench::sample_summary& s) {
  std::printf("%-52s %9.2f %9.2f %9.2f %9.2f %5zu\n", name, s.p50, s.p99, s.max, s.mean, s.count);
}

nlohmann::json series(const bench::sample_summary& s) {
  return {{"p50", s.p50}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}, {"n", s.count}};
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse_options(argc, argv);
  return bench::run_and_report("failover_bench", [&](nlohmann::json& report) {
    const auto bench_start = clock_type::now();

    isens::test::tgtd_target tgtd;
    tgtd.add_target(bench_iqn, bench_tid);
    tgtd.add_lun(bench_tid, 1, bench_lun_bytes);
    tgtd.bind_all_initiators(bench_tid);

    io_runner runner;
    drop_results drops;
    restart_results restart;
    std::vector<nop_results> nops;
    {
      // (1) + (2): one initiator with the failover subscriber and the timing
      // subscriber on its bus; no NOP-Out pings (a drop is seen by the FIN).
      isens::events::event_bus bus;
      auto timer = std::make_shared<bench::event_timer>();
      auto timer_subscription = bus.subscribe(timer, {}, named("timer"));
      isens::initiator::initiator_options ini_options;
      ini_options.initiator_name = isens_initiator_name;
      ini_options.nop_interval = 0ms;
      ini_options.recovery_hold = 10s;  // commands wait for the failover instead of failing (isens_reader)
      ini_options.single_threaded = true;  // io_runner runs the io_context on one thread
      isens::initiator::initiator ini(runner.io().get_executor(), bus, ini_options);
      isens::subscribers::failover_policy policy;
      policy.recover_all_sessions = true;  // first attempt immediate; then first_retry_delay (100 ms), doubling
      policy.max_concurrent_per_target = 16;
      auto failover = std::make_shared<isens::subscribers::failover_subscriber>(ini, runner.io().get_executor(), policy);
      auto failover_subscription = bus.subscribe(failover, {}, named("failover"));

      auto id = runner.run(ini.login_to_target(login_options_for(tgtd)));
      if (!id) throw std::runtime_error("isens login failed: " + id.error().what());
      {
        bench::libiscsi_reader reader(tgtd.portal(), bench_iqn, 1, libiscsi_initiator_name);
        // Warm-up: one isens drop, not counted. (No libiscsi warm-up drop:
        // it would cost a libiscsi_spacing.)
        drop_results warmup;
        isens_drop(tgtd, *timer, local_port_of(ini, *id), warmup);
        isens::test::packet_capture fins(tgtd.port(), isens::test::tcp_segments::connection_ends);
        // libiscsi drops come libiscsi_spacing apart; the isens drops are
        // paced to spread over the same time, so that drift of the machine
        // hits both alike.
        const auto pace = std::max<clock_type::duration>(
            20ms, libiscsi_spacing * static_cast<long>(options.libiscsi_drops) / static_cast<long>(options.drops));
        isens_reader io_reader;
        auto io_loop = asio::co_spawn(runner.io(), io_reader.loop(ini, *id), asio::use_future);
        std::size_t isens_done = 0, libiscsi_done = 0;
        auto libiscsi_due = clock_type::now();  // no reconnect yet: the first may come at once
        auto isens_due = clock_type::now();
        while (isens_done < options.drops || libiscsi_done < options.libiscsi_drops) {
          const auto now = clock_type::now();
          if (libiscsi_done < options.libiscsi_drops && now >= libiscsi_due) {
            // Each libiscsi drop is paired with an isens drop under the same load (reading).
            if (libiscsi_done % 2 == 0) {
              libiscsi_drop(tgtd, reader, drops);
              isens_io_drop(tgtd, *timer, io_reader, drops);
            } else {
              isens_io_drop(tgtd, *timer, io_reader, drops);
              libiscsi_drop(tgtd, reader, drops);
            }
            ++libiscsi_done;
            libiscsi_due = clock_type::now() + libiscsi_spacing;
          } else if (isens_done < options.drops && now >= isens_due) {
            isens_drop(tgtd, *timer, local_port_of(ini, *id), drops);
            ++isens_done;
            isens_due = now + pace;
          } else {
            std::this_thread::sleep_for(1ms);
          }
        }
        match_fins(fins.fins_from(tgtd.port()), drops);
        io_reader.stop = true;
        if (io_loop.wait_for(15s) != std::future_status::ready) throw std::runtime_error("isens reader did not stop");
        report["isens_io_caller_errors"] = io_reader.failed;
        report["isens_io_reads"] = io_reader.completed;
        if (io_reader.failed > 0) report["isens_io_first_error"] = io_reader.first_error;
        report["libiscsi_caller_errors"] = reader.failed();
        report["libiscsi_reads"] = reader.completed();
        if (reader.failed() > 0) report["libiscsi_first_error"] = reader.first_error();
      }  // libiscsi logs out
      (void)runner.run(ini.logout_from_target(*id));

      restart = kill_and_restart(runner, ini, tgtd, *timer, options);
      failover_subscription.unsubscribe();
      runner.run(ini.shutdown());
    }
    nops.push_back(nop_detection(runner, tgtd, 100ms, 200ms, options.nop_samples_fast));
    nops.push_back(nop_detection(runner, tgtd, 500ms, 500ms, options.nop_samples_slow));

    const auto tg = bench::summarize(drops.tgtadm_ms), dis = bench::summarize(drops.disconnect_ms),
               rec = bench::summarize(drops.reconnect_ms), rcv = bench::summarize(drops.recover_ms),
               gap = bench::summarize(drops.libiscsi_gap_ms), iogap = bench::summarize(drops.isens_io_gap_ms),
               fin_dis = bench::summarize(drops.fin_to_disconnect_ms),
               fin_rec = bench::summarize(drops.fin_to_reconnect_ms);
    const double vs_gap = gap.p99 > 0 ? fin_rec.p99 / gap.p99 : 0;
    const double vs_gap_p50 = gap.p50 > 0 ? fin_rec.p50 / gap.p50 : 0;

    std::printf("failover_bench: tgtd pid %d on 127.0.0.1:%u; %zu isens drops (+1 warm-up), %zu libiscsi drops "
                "%.1f s apart, interleaved; isens recovery: failover_subscriber (recover_all_sessions)\n\n",
                static_cast<int>(tgtd.pid()), tgtd.port(), options.drops, options.libiscsi_drops,
                std::chrono::duration<double>(libiscsi_spacing).count());
    std::printf("%-52s %9s %9s %9s %9s %5s\n", "(1) target drops the connection (ms)", "p50", "p99", "max", "mean", "n");
    print_row("isens    target's FIN (capture) -> session_disconnect", fin_dis);
    print_row("isens    target's FIN (capture) -> session_reconnect", fin_rec);
    print_row("tgtadm delete conn call (spawn .. exit)", tg);
    print_row("isens    drop call -> session_disconnect delivered", dis);
    print_row("isens    drop call -> session_reconnect delivered", rec);
    print_row("isens    session_disconnect -> session_reconnect", rcv);
    print_row("  of which: drop call -> session_disconnect published", bench::summarize(drops.to_disconnect_published_ms));
    print_row("           bus: session_disconnect published -> delivered", bench::summarize(drops.disconnect_bus_ms));
    print_row("           failover: delivered -> session_reconnect published", bench::summarize(drops.failover_reconnect_ms));
    print_row("           bus: session_reconnect published -> delivered", bench::summarize(drops.reconnect_bus_ms));
    print_row("isens    longest gap between completed READ CAPACITYs", iogap);
    print_row("  (reading) last read -> session_disconnect", bench::summarize(drops.isens_io_before_ms));
    print_row("  (reading) session_disconnect -> session_reconnect", bench::summarize(drops.isens_io_recover_ms));
    print_row("  (reading) session_reconnect -> next read done", bench::summarize(drops.isens_io_after_ms));
    print_row("libiscsi longest gap between completed READ(10)s", gap);
    std::printf("isens failed reconnect attempts: %zu, drops not recovered: %zu + %zu, caller errors while reading: "
                "%s\nlibiscsi caller errors: %s, drops not recovered: %zu\n",
                drops.failed_attempts, drops.lost, drops.isens_io_unrecovered,
                report["isens_io_caller_errors"].dump().c_str(), report["libiscsi_caller_errors"].dump().c_str(),
                drops.libiscsi_unrecovered);
    std::printf("FINs the capture did not show: %zu of %zu drops\n", drops.fins_unmatched, drops.dropped_ports.size());
    std::printf("ratio isens reconnect (FIN -> session_reconnect) / libiscsi gap:      p99 %.3f, p50 %.3f\n", vs_gap,
                vs_gap_p50);
    std::printf("ratio isens I/O gap / libiscsi I/O gap:                               p99 %.3f, p50 %.3f\n\n",
                gap.p99 > 0 ? iogap.p99 / gap.p99 : 0, gap.p50 > 0 ? iogap.p50 / gap.p50 : 0);

    std::printf("(2) tgtd kill -9, down %lld ms, restart: %zu sessions (max_concurrent_per_target 16)\n",
                static_cast<long long>(options.outage.count()), restart.sessions);
    std::printf("    restart() call (tgtd up + config replayed)      %8.3f s\n", restart.restart_call_s);
    std::printf("    restart() called -> first session_reconnect       %8.3f s\n", restart.first_back_s);
    std::printf("    restart() called -> %3zu-th session_reconnect     %8.3f s   (%zu of %zu back, "
                "%zu failed attempts)\n\n",
                restart.sessions, restart.all_back_s, restart.back, restart.sessions, restart.failed_attempts);

    std::printf("(3) NOP-Out detection: SIGSTOP -> session_disconnect(nop_timeout) delivered\n");
    std::printf("    %-22s %10s %10s %10s %10s %10s %4s\n", "interval + timeout", "expected", "min", "p50", "max",
                "worst err %", "n");
    double nop_error = 0;
    nlohmann::json nop_json = nlohmann::json::array();
    for (const auto& n : nops) {
      const auto s = bench::summarize(n.detect_ms);
      // The sample farthest from interval + timeout, either way.
      const double err = std::abs(n.error_pct(s.max)) >= std::abs(n.error_pct(s.min)) ? n.error_pct(s.max)
                                                                                        : n.error_pct(s.min);
      if (std::abs(err) > std::abs(nop_error)) nop_error = err;
      std::printf("    %5lld ms + %5lld ms     %10.1f %10.1f %10.1f %10.1f %+10.1f %4zu%s\n",
                  static_cast<long long>(n.interval.count()), static_cast<long long>(n.timeout.count()),
                  n.expected_ms(), s.min, s.p50, s.max, err, s.count,
                  n.missed || n.wrong_reason ? "  (missed or wrong reason!)" : "");
      nop_json.push_back({{"interval_ms", n.interval.count()}, {"timeout_ms", n.timeout.count()},
                          {"expected_ms", n.expected_ms()}, {"min_ms", s.min}, {"p50_ms", s.p50}, {"max_ms", s.max},
                          {"worst_error_pct", err}, {"p50_error_pct", n.error_pct(s.p50)}, {"n", s.count},
                          {"missed", n.missed}, {"wrong_reason", n.wrong_reason}});
    }
    const double run_s = bench::ms_between(bench_start, clock_type::now()) / 1e3;
    std::printf("\nrun time %.1f s\n", run_s);

    const bool reconnect_ok = fin_rec.count > 0 && fin_rec.p99 < 5.0 && fin_rec.p99 <= gap.p99;
    const bool restart_ok = restart.back == restart.sessions && restart.all_back_s < 3.0;
    const bool nop_ok = std::abs(nop_error) <= 10.0;
    std::printf("targets: reconnect p99 < 5 ms and <= libiscsi gap p99: %s; %zu sessions back within 3 s: %s; "
                "NOP detection within 10%%: %s\n",
                reconnect_ok ? "met" : "MISSED", restart.sessions, restart_ok ? "met" : "MISSED",
                nop_ok ? "met" : "MISSED");

    report.update(nlohmann::json{
        {"bench", "failover"},
        {"quick", options.quick},
        {"recovery", "failover_subscriber"},
        {"drops", options.drops},
        {"libiscsi_drops", options.libiscsi_drops},
        {"isens_reconnect_ms_p50", fin_rec.p50},  // from the target's FIN
        {"isens_reconnect_ms_p99", fin_rec.p99},
        {"isens_disconnect_ms_p50", fin_dis.p50},
        {"isens_disconnect_ms_p99", fin_dis.p99},
        {"isens_fins_unmatched", drops.fins_unmatched},
        {"isens_reconnect_from_drop_call_ms_p50", rec.p50},  // from before tgtadm is spawned
        {"isens_reconnect_from_drop_call_ms_p99", rec.p99},
        {"isens_disconnect_from_drop_call_ms_p50", dis.p50},
        {"isens_disconnect_from_drop_call_ms_p99", dis.p99},
        {"isens_disconnect_to_reconnect_ms_p50", rcv.p50},
        {"isens_disconnect_to_reconnect_ms_p99", rcv.p99},
        {"tgtadm_delete_ms_p50", tg.p50},
        {"isens_failed_attempts", drops.failed_attempts},
        {"isens_drops_unrecovered", drops.lost},
        {"libiscsi_gap_ms", gap.max},
        {"libiscsi_gap_ms_p50", gap.p50},
        {"libiscsi_gap_ms_p99", gap.p99},
        {"libiscsi_drops_unrecovered", drops.libiscsi_unrecovered},
        {"isens_io_gap_ms", iogap.max},
        {"isens_io_gap_ms_p50", iogap.p50},
        {"isens_io_gap_ms_p99", iogap.p99},
        {"isens_io_drops_unrecovered", drops.isens_io_unrecovered},
        {"isens_io_disconnect_to_reconnect_ms_p50", bench::summarize(drops.isens_io_recover_ms).p50},
        {"io_gap_vs_libiscsi_gap", gap.p99 > 0 ? iogap.p99 / gap.p99 : 0},
        {"io_gap_vs_libiscsi_gap_p50", gap.p50 > 0 ? iogap.p50 / gap.p50 : 0},
        {"reconnect_vs_libiscsi_gap", vs_gap},
        {"reconnect_vs_libiscsi_gap_p50", vs_gap_p50},
        {"sessions", restart.sessions},
        {"outage_ms", options.outage.count()},
        {"recover_100_sessions_s", restart.all_back_s},
        {"recover_first_session_s", restart.first_back_s},
        {"restart_call_s", restart.restart_call_s},
        {"sessions_back", restart.back},
        {"restart_failed_attempts", restart.failed_attempts},
        {"nop_detect_error_pct", nop_error},
        {"nop", nop_json},
        {"isens",
         {{"fin_to_disconnect", series(fin_dis)},
          {"fin_to_reconnect", series(fin_rec)},
          {"disconnect", series(dis)},
          {"reconnect", series(rec)},
          {"disconnect_to_reconnect", series(rcv)},
          {"drop_call_to_disconnect_published", series(bench::summarize(drops.to_disconnect_published_ms))},
          {"disconnect_bus", series(bench::summarize(drops.disconnect_bus_ms))},
          {"failover_to_reconnect_published", series(bench::summarize(drops.failover_reconnect_ms))},
          {"reconnect_bus", series(bench::summarize(drops.reconnect_bus_ms))}}},
        {"libiscsi", {{"gap", series(gap)}}},
        {"run_s", run_s},
        {"targets_met",
         {{"reconnect_p99_lt_5ms_and_le_libiscsi_gap", reconnect_ok},
          {"sessions_back_within_3s", restart_ok},
          {"nop_detect_within_10pct", nop_ok}}},
    });
    bool ok = drops.lost == 0 && drops.fins_unmatched == 0 && drops.libiscsi_unrecovered == 0 && drops.isens_io_unrecovered == 0 && restart.logged_in == restart.sessions &&
              restart.back == restart.sessions;
    for (const auto& n : nops) ok = ok && n.missed == 0 && n.wrong_reason == 0;
    report["ok"] = ok;
  });
}
