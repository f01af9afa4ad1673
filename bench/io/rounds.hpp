#pragma once
// Running rounds: one round of one side to its end (a hang ends the bench),
// a row's rounds with the sides taking turns, the read-back at the end.

#include "io_bench_options.hpp"
#include "lun_pattern.hpp"
#include "../common/proc_stats.hpp"
#include "side_totals.hpp"
#include "workload.hpp"

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace isens::bench {

namespace detail {
inline std::string shm_path_to_remove_on_hang;
}  // namespace detail

/// The LUN's file in /dev/shm, removed when a hang ends the bench.
inline void remove_on_hang(std::string shm_path) { detail::shm_path_to_remove_on_hang = std::move(shm_path); }

// A round that never ends cannot be abandoned (its side still writes into
// it): the bench reports the hang as its JSON line and exits at once.
[[noreturn]] inline void hung(const std::string& what) {
  std::fprintf(stderr, "io_bench: %s\n", what.c_str());
  std::fflush(stdout);
  std::cout << nlohmann::json{{"ok", false}, {"error", what}, {"hang", true}}.dump() << std::endl;
  const auto& shm_path = detail::shm_path_to_remove_on_hang;
  if (!shm_path.empty()) std::remove(shm_path.c_str());
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

inline bench::round_plan plan_for(const row_spec& row, bench_context& ctx, std::chrono::nanoseconds duration,
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
inline void run_round(bench::io_side& side, bench::round_plan plan, bench_context& ctx, side_totals& into) {
  using namespace std::chrono_literals;
  const auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(plan.duration) + 60s;
  bench::round_state state(std::move(plan), ctx.pattern, ctx.arena, ctx.arena_bytes);
  auto finished = state.finished.get_future();
  const auto tgtd0 = bench::read_threads_cpu(ctx.tgtd_pid);
  const auto process0 = bench::process_cpu_ns();
  side.start(state);
  if (finished.wait_for(limit) != std::future_status::ready)
    hung(side.name() + ": a round of '" + state.plan().row.label + "' did not end (" +
         std::to_string(state.completed()) + " commands completed, " + std::to_string(state.in_flight()) +
         " in flight)");
  const auto process1 = bench::process_cpu_ns();
  const auto tgtd1 = bench::read_threads_cpu(ctx.tgtd_pid);
  into.add(state, static_cast<double>(process1 - process0) / 1e9,
           bench::threads_cpu{tgtd1.all_ns - tgtd0.all_ns, tgtd1.main_ns - tgtd0.main_ns});
}

// `rounds` rounds of `row` on each side, the order rotating every round.
inline std::vector<side_totals> run_row(const row_spec& row, std::size_t row_index,
                                        const std::vector<bench::io_side*>& sides, const bench_options& options,
                                        bench_context& ctx) {
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

// Reads the whole LUN through `side` (1 MiB, QD4) comparing every byte.
inline side_totals read_back(bench::io_side& side, bench_context& ctx) {
  side_totals t;
  bench::round_plan plan;
  plan.row = {"readback", "read-back of the whole LUN", io_op::read, false, 1 << 20, 4};
  plan.max_ops = ctx.pattern.bytes() >> 20;
  plan.read_end = plan.write_end = ctx.pattern.bytes();
  plan.full_check_every = 1;
  run_round(side, plan, ctx, t);
  return t;
}

}  // namespace isens::bench
