#pragma once
// The memory row: what many 1 MiB commands in flight at once cost in RSS
// above the caller's (resident) buffers.

#include "../common/proc_stats.hpp"
#include "rounds.hpp"
#include "workload.hpp"

#include <malloc.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>

namespace isens::bench {

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
    return {{"commands", commands},
            {"command_bytes", 1 << 20},
            {"baseline_rss_kib", baseline_kib},
            {"peak_rss_kib", peak_kib},
            {"overhead_kib", overhead_kib()},
            {"overhead_bytes_per_command", bytes_per_command()},
            {"errors", errors},
            {"mismatches", mismatches},
            {"wall_s", wall_s}};
  }
};

// `commands` 1 MiB reads issued at once into the (resident) arena: the RSS
// they add above it, sampled while they are in flight, and VmHWM.
inline memory_result memory_row(bench::io_side& side, std::size_t commands, bench_context& ctx) {
  using namespace std::chrono_literals;
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

}  // namespace isens::bench
