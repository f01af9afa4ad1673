#pragma once
/// Small measuring tools for the bus benchmark: a monotonic nanosecond
/// clock, percentiles, a pacer for a steady offered rate, and a countdown
/// that a waiting thread can give up on (a benchmark must never hang).

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/prctl.h>
#include <sys/resource.h>

namespace isens::bench {

/// Nanoseconds on the steady clock; only differences are meaningful.
inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// CPU time (user + system) used by every thread of this process so far, in
/// nanoseconds. Unlike wall time it hardly changes when other processes
/// compete for the cores, so it compares runs on a busy machine.
inline std::int64_t process_cpu_ns() noexcept {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ns = [](const timeval& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_usec * 1000; };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

/// Percentiles of a set of latencies, in microseconds.
struct latency_summary {
  std::size_t samples = 0;  ///< how many latencies were measured
  double p50_us = 0;        ///< median
  double p99_us = 0;        ///< 99th percentile
  double p999_us = 0;       ///< 99.9th percentile
  double max_us = 0;        ///< worst seen
};

/// Summarises latencies given in nanoseconds; reorders `ns`.
inline latency_summary summarise(std::vector<std::int64_t>& ns) {
  latency_summary s;
  s.samples = ns.size();
  if (ns.empty()) return s;
  auto at = [&](double q) {
    const auto k = static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1));
    std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
    return static_cast<double>(ns[k]) / 1000.0;
  };
  s.p50_us = at(0.50);
  s.p99_us = at(0.99);
  s.p999_us = at(0.999);
  s.max_us = static_cast<double>(*std::max_element(ns.begin(), ns.end())) / 1000.0;
  return s;
}

/// Releases a caller at a steady rate. Sleeps rather than spins, so the
/// publisher leaves the cores to the delivery threads, as a real initiator
/// does between session events. When it falls behind (a late wake-up) it
/// restarts the schedule instead of catching up with a burst, so the
/// offered load never turns into a queue backlog.
///
/// While it exists, the calling thread's timer slack is 1 ns: it sleeps
/// ~100 us at a time, and the default 50 us slack would release events late
/// and in clumps. Only this thread: threads started meanwhile would inherit
/// it, so create the bus (its delivery threads) and any subscriber thread
/// before the pacer. They then keep the default slack a real daemon's
/// threads have, and a subscriber that sleeps is not woken by a timer
/// interrupt of its own that the kernel could otherwise have merged.
class pacer {
 public:
  /// One release every `period`.
  explicit pacer(std::chrono::nanoseconds period)
      : period_(period), next_(std::chrono::steady_clock::now()), slack_before_(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  }
  ~pacer() {
    if (slack_before_ > 0) prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack_before_), 0UL, 0UL, 0UL);
  }
  pacer(const pacer&) = delete;
  pacer& operator=(const pacer&) = delete;

  /// Returns at the next release time (or at once when already late).
  void wait() {
    next_ += period_;
    const auto now = std::chrono::steady_clock::now();
    if (next_ > now) {
      std::this_thread::sleep_until(next_);
    } else if (now - next_ > period_) {
      next_ = now;
    }
  }

 private:
  std::chrono::nanoseconds period_;
  std::chrono::steady_clock::time_point next_;
  int slack_before_;  // the thread's timer slack in ns, put back on destruction
};

/// Counts down from n; the waiter may time out (std::latch cannot).
class countdown {
 public:
  /// Expects `n` calls of done().
  explicit countdown(std::size_t n) : left_(n) {}

  /// One of the n parties has finished.
  void done() {
    std::lock_guard lock(mutex_);
    if (left_ != 0 && --left_ == 0) cv_.notify_all();
  }

  /// True when every party finished within `limit`.
  bool wait_for(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return left_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t left_;
};

}  // namespace isens::bench
