#pragma once
// A subscriber that stamps session_disconnect / session_reconnect with
// steady_clock the moment they are delivered, and lets the bench wait for them.

#include "isens/events/subscriber.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

namespace isens::bench {

/// One delivered event: when it arrived, when it was published, which session, why.
struct timed_event {
  std::chrono::steady_clock::time_point at;         ///< delivered to this subscriber
  std::chrono::steady_clock::time_point published;  ///< the event's timestamp (system_clock) on the steady clock
  std::uint64_t session_id = 0;
  events::event_reason reason = events::event_reason::none;
};

/// Records disconnects and reconnects as they are delivered. Thread-safe.
class event_timer final : public events::subscriber {
 public:
  using clock = std::chrono::steady_clock;

  void on_session_disconnect(const events::event& e) override { record(disconnects_, e); }
  void on_session_reconnect(const events::event& e) override { record(reconnects_, e); }
  void on_logoff(const events::event& e) override { record(logoffs_, e); }

  /// Number of session_disconnect events delivered so far.
  std::size_t disconnect_count() const { return count(disconnects_); }
  /// Number of session_reconnect events delivered so far.
  std::size_t reconnect_count() const { return count(reconnects_); }

  /// Waits until at least `n` disconnects were delivered; the n-th (1-based), or nothing on timeout.
  std::optional<timed_event> wait_disconnects(std::size_t n, std::chrono::milliseconds timeout) const {
    return wait(disconnects_, n, timeout);
  }
  /// Waits until at least `n` reconnects were delivered; the n-th (1-based), or nothing on timeout.
  std::optional<timed_event> wait_reconnects(std::size_t n, std::chrono::milliseconds timeout) const {
    return wait(reconnects_, n, timeout);
  }
  /// `t` (this clock) on the system clock, e.g. to compare with a packet capture's timestamps.
  std::chrono::system_clock::time_point to_system(clock::time_point t) const {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(t.time_since_epoch() + offset_));
  }
  /// Every disconnect delivered so far.
  std::vector<timed_event> disconnects() const {
    std::lock_guard lock(mutex_);
    return disconnects_;
  }

 private:
  void record(std::vector<timed_event>& into, const events::event& e) {
    const auto now = clock::now();  // first thing: the delivery moment
    {
      std::lock_guard lock(mutex_);
      into.push_back({now, to_steady(e.timestamp), e.session_id, e.reason});
    }
    changed_.notify_all();
  }
  // The two clocks' offset, taken once; good to a few µs over a bench run.
  clock::time_point to_steady(std::chrono::system_clock::time_point t) const {
    return clock::time_point(std::chrono::duration_cast<clock::duration>(t.time_since_epoch() - offset_));
  }
  std::size_t count(const std::vector<timed_event>& v) const {
    std::lock_guard lock(mutex_);
    return v.size();
  }
  std::optional<timed_event> wait(const std::vector<timed_event>& v, std::size_t n,
                                  std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return v.size() >= n; })) return std::nullopt;
    return v[n - 1];
  }

  const std::chrono::nanoseconds offset_ =
      std::chrono::system_clock::now().time_since_epoch() - clock::now().time_since_epoch();
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<timed_event> disconnects_;
  std::vector<timed_event> reconnects_;
  std::vector<timed_event> logoffs_;
};

}  // namespace isens::bench
