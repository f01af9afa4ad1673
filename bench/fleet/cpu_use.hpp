#pragma once
// CPU time and context switches of the bench process and of the broker,
// sampled around each publisher's run: counters per event are steadier than
// wall-clock rates on a VM whose two vCPUs are shared.

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace isens::bench {

struct cpu_use {
  double process_s = 0;          // this process, user + system, every thread
  double broker_s = 0;           // the nats-server, user + system
  double context_switches = 0;   // this process, voluntary + involuntary

  cpu_use operator-(const cpu_use& o) const {
    return {process_s - o.process_s, broker_s - o.broker_s, context_switches - o.context_switches};
  }
};

// The broker's user + system time from /proc/<pid>/stat (clock ticks); 0 if unreadable.
inline double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt
  unsigned long long user = 0, system = 0;
  fields >> user >> system;
  return static_cast<double>(user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

inline cpu_use cpu_now(pid_t broker) {
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return {seconds(self.ru_utime) + seconds(self.ru_stime), process_cpu_seconds(broker),
          static_cast<double>(self.ru_nvcsw + self.ru_nivcsw)};
}

}  // namespace isens::bench
