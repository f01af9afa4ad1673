#pragma once
// The peer anchor: libiscsi's own iscsi-perf (libiscsi-bin, its own process
// and buffers) on the bench's LUN, its IOPS and CPU per I/O.

#include "proc_stats.hpp"
#include "subprocess.hpp"

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

namespace isens::bench {

struct anchor_result {
  std::string label;
  double iops = 0, mbps = 0, cpu_us_per_io = 0, tgtd_cpu_us_per_io = 0;
  std::string error;
};

/// Runs iscsi-perf as initiator `initiator_name` for `seconds` on `url`
/// (`depth` commands of `blocks` blocks), with its and tgtd's CPU per I/O.
inline anchor_result run_iscsi_perf(const std::string& label, const std::string& initiator_name, const std::string& url,
                                    std::uint32_t depth, std::uint32_t blocks, std::uint32_t block_size, bool random,
                                    std::size_t seconds, pid_t tgtd_pid) {
  anchor_result out;
  out.label = label;
  std::vector<std::string> argv{"iscsi-perf",           "-i", initiator_name, "-m",
                                std::to_string(depth),  "-b", std::to_string(blocks),    "-t",
                                std::to_string(seconds)};
  if (random) argv.push_back("-r");
  argv.push_back(url);
  rusage before{}, after{};
  ::getrusage(RUSAGE_CHILDREN, &before);
  const auto tgtd0 = bench::read_threads_cpu(tgtd_pid);
  isens::test::run_result r;
  try {
    r = isens::test::run(argv, isens::test::run_options{std::chrono::seconds(seconds + 20), {}, false});
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  const auto tgtd1 = bench::read_threads_cpu(tgtd_pid);
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

}  // namespace isens::bench
