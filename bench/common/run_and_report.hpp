#pragma once
// The frame a tgtd benchmark runs in: stdout carries its table and, as the
// last line, one JSON object (scripts and smoke tests read only that line);
// logs go to stderr. The exit code is 0 when the report says "ok", else 1,
// also when the bench threw: the JSON line then carries the error.

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <iostream>

namespace isens::bench {

/// Many sessions need as many sockets here and in tgtd, which inherits the
/// limit: raised to the hard limit before tgtd starts.
inline void raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/// Runs `measure(report)`, which prints the table and fills `report`
/// (including "ok"); prints the report as the last line and returns the
/// process's exit code.
template <class Measure>
int run_and_report(const char* bench_name, Measure&& measure) {
  nlohmann::json report;
  try {
    spdlog::set_default_logger(spdlog::stderr_color_mt(bench_name));
    spdlog::set_level(spdlog::level::warn);
    raise_fd_limit();
    measure(report);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", bench_name, e.what());
    report = {{"ok", false}, {"error", e.what()}};
  }
  std::fflush(stdout);  // the table (printf) before the JSON line (iostream)
  std::cout << report.dump() << std::endl;
  const auto ok = report.find("ok");
  return ok != report.end() && *ok == true ? 0 : 1;
}

}  // namespace isens::bench
