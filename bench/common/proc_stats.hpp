#pragma once
// What /proc says about CPU time and memory: another process's CPU time
// (all its threads, and its main thread alone: for tgtd, the event loop
// serving every iSCSI connection), this process's CPU time, and its
// resident set.

#include <dirent.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace isens::bench {

/// CPU time of a task from /proc/.../schedstat (its first field, ns on CPU); -1 when unreadable.
inline std::int64_t schedstat_ns(const std::string& path) {
  std::ifstream in(path);
  std::int64_t on_cpu = -1;
  if (!(in >> on_cpu)) return -1;
  return on_cpu;
}

struct threads_cpu {
  std::int64_t all_ns = 0;   ///< every thread (for tgtd: event loop + backing-store workers)
  std::int64_t main_ns = 0;  ///< its main thread (for tgtd: the event loop serving every connection)
};

/// Process `pid`'s CPU time so far, from each of its threads' schedstat.
inline threads_cpu read_threads_cpu(pid_t pid) {
  threads_cpu out;
  const std::string base = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* dir = ::opendir(base.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      const auto ns = schedstat_ns(base + "/" + entry->d_name + "/schedstat");
      if (ns < 0) continue;
      out.all_ns += ns;
      if (std::to_string(pid) == entry->d_name) out.main_ns = ns;
    }
    ::closedir(dir);
  }
  return out;
}

/// This process's CPU time (user + system, every thread), in ns.
inline std::int64_t process_cpu_ns() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto ns = [](const timeval& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + std::int64_t{t.tv_usec} * 1000; };
  return ns(u.ru_utime) + ns(u.ru_stime);
}

struct memory_status {
  std::int64_t rss_kib = 0;  ///< VmRSS
  std::int64_t hwm_kib = 0;  ///< VmHWM (peak RSS since start or the last reset_peak_rss())
};

inline memory_status read_memory_status() {
  memory_status out;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    std::int64_t value = 0;
    fields >> key >> value;
    if (key == "VmRSS:") out.rss_kib = value;
    if (key == "VmHWM:") out.hwm_kib = value;
  }
  return out;
}

/// Resets VmHWM to the current RSS (Linux >= 4.0: "5" into clear_refs); false when refused.
inline bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

}  // namespace isens::bench
