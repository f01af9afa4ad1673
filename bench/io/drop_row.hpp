#pragma once
// The drop row: 4 KiB random reads and writes at QD16 while tgtd drops the
// side's connection again and again; per drop the longest gap between two
// completions and, for isens, the parts of its recovery (from its events).

#include "../common/sample_summary.hpp"
#include "../failover/event_timer.hpp"
#include "bench_setup.hpp"
#include "io_bench_options.hpp"
#include "row_report.hpp"
#include "rounds.hpp"
#include "tgtd_target.hpp"
#include "workload.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace isens::bench {

struct drop_result {
  std::size_t drops = 0;
  std::uint64_t ops = 0, caller_errors = 0, mismatches = 0;
  std::size_t unrecovered = 0;
  std::vector<double> stall_ms;
  std::vector<double> control_ms;  // the same measure around a tgtadm call that drops nothing
  // isens: the recovery itself, from the session's events (as published).
  std::vector<double> to_disconnect_ms;   // last completion before session_disconnect -> it
  std::vector<double> recover_ms;         // session_disconnect -> session_reconnect
  std::vector<double> resume_ms;          // session_reconnect -> the first completion after it
  std::vector<double> recovery_stall_ms;  // last completion before session_disconnect -> first after session_reconnect
  std::size_t failed_attempts = 0;        // reconnect attempts that failed
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
inline isens::test::tgt_connection connection_of(const isens::test::tgtd_target& tgtd,
                                                 const std::string& initiator_name) {
  using namespace std::chrono_literals;
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
inline drop_result drop_row(bench::io_side& side, const std::string& initiator_name, std::size_t drops,
                            const bench_options& options, bench_context& ctx, isens::test::tgtd_target& tgtd,
                            const bench::event_timer* events = nullptr) {
  using namespace std::chrono_literals;
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

}  // namespace isens::bench
