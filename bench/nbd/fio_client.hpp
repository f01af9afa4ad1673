#pragma once
// fio with its nbd engine as the NBD client of every side of bench/nbd:
// one fio process per measurement (a row of one side, or a failover run),
// its JSON report parsed, and for failover its completion-latency log read
// back to find how long requests waited after each target-side drop.

#include "subprocess.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::bench {

/// One fio job's outcome.
struct fio_result {
  double iops = 0;
  double mbps = 0;           ///< MB/s (10^6 bytes)
  std::uint64_t errors = 0;  ///< I/O errors fio saw (total_err, plus a job error)
  std::uint64_t ios = 0;     ///< I/Os completed
  double cpu_s = 0;          ///< fio's own CPU time (user + system), the client's cost
};

/// Reads fio's JSON report (fio may write a line before it).
inline nlohmann::json read_fio_report(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const auto all = text.str();
  const auto at = all.find('{');
  if (at == std::string::npos) throw std::runtime_error("fio wrote no JSON report to " + file.string());
  return nlohmann::json::parse(all.substr(at));
}

inline fio_result fio_outcome(const nlohmann::json& report, bool reads) {
  const auto& job = report.at("jobs").at(0);
  const auto& side = job.at(reads ? "read" : "write");
  fio_result r;
  r.iops = side.at("iops").get<double>();
  r.mbps = side.at("bw_bytes").get<double>() / 1e6;
  r.errors = job.value("total_err", std::uint64_t{0}) + (job.at("error").get<int>() != 0 ? 1 : 0);
  r.ios = side.value("total_ios", std::uint64_t{0});
  // usr_cpu and sys_cpu are percent of the job's runtime (ms).
  r.cpu_s = (job.value("usr_cpu", 0.0) + job.value("sys_cpu", 0.0)) / 100 * job.value("job_runtime", 0.0) / 1000;
  return r;
}

/// The fio command line for `rw` (randread, randwrite, read, write) of
/// `block` bytes at queue depth `depth` on `uri`.
inline std::vector<std::string> fio_command(const std::string& uri, const std::string& rw, std::uint32_t block,
                                            std::uint32_t depth, std::uint64_t size, std::size_t run_ms,
                                            const std::filesystem::path& report) {
  return {"fio", "--name=nbd-bench", "--ioengine=nbd", "--uri=" + uri, "--rw=" + rw, "--bs=" + std::to_string(block),
          "--iodepth=" + std::to_string(depth), "--size=" + std::to_string(size), "--time_based",
          "--runtime=" + std::to_string(run_ms) + "ms", "--output-format=json", "--output=" + report.string()};
}

/// Runs one measurement to its end.
inline fio_result run_fio(const std::string& uri, const std::string& rw, std::uint32_t block, std::uint32_t depth,
                          std::uint64_t size, std::size_t run_ms, const std::filesystem::path& dir) {
  const auto report = dir / "fio.json";
  test::run_options o;
  o.timeout = std::chrono::milliseconds(run_ms) + std::chrono::seconds(60);
  o.separate_stderr = true;
  const auto r = test::run(fio_command(uri, rw, block, depth, size, run_ms, report), o);
  if (r.exit_code != 0) throw std::runtime_error("fio on " + uri + " exited " + std::to_string(r.exit_code) + ": " + r.errors);
  return fio_outcome(read_fio_report(report), rw.find("read") != std::string::npos);
}

/// A completion from fio's latency log: when (ms since the epoch) and how long it took.
struct completion {
  std::int64_t at_ms = 0;
  double latency_ms = 0;
};

/// fio's completion-latency log (`--write_lat_log=PREFIX --log_avg_msec=0
/// --log_unix_epoch=1`): one line per I/O, "time_ms, clat_ns, dir, bs, prio".
inline std::vector<completion> read_clat_log(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<completion> out;
  std::string line;
  while (std::getline(in, line)) {
    completion c;
    std::int64_t ns = 0;
    if (std::sscanf(line.c_str(), "%ld, %ld", &c.at_ms, &ns) != 2) continue;
    c.latency_ms = static_cast<double>(ns) / 1e6;
    out.push_back(c);
  }
  return out;
}

/// One target-side drop: when it was asked for, and when the bench saw the
/// initiator's new connection at the target (ms since the epoch).
struct drop_window {
  std::int64_t dropped_ms = 0;
  std::int64_t recovered_ms = 0;
};

/// For each drop: the longest a request completing between the drop and
/// `margin_ms` after the recovery was seen had waited. A request sent just
/// before the drop completes only after the recovery, so this bounds the gap
/// in completions from above, in µs precision. The window ends well before
/// the next drop, so one drop's stall is never another's.
inline std::vector<double> stalls_after(const std::vector<completion>& log, const std::vector<drop_window>& drops,
                                        std::int64_t margin_ms) {
  std::vector<double> stalls;
  for (const auto& drop : drops) {
    double longest = 0;
    for (const auto& c : log)
      if (c.at_ms >= drop.dropped_ms && c.at_ms <= drop.recovered_ms + margin_ms)
        longest = std::max(longest, c.latency_ms);
    stalls.push_back(longest);
  }
  return stalls;
}

}  // namespace isens::bench
