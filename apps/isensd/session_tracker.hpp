#pragma once
// What the dashboard knows about each session beyond its snapshot, learnt
// from the event stream: its state (logged in, disconnected, recovering
// with the attempt number), since when, its last event, and how often it
// reconnected in the last hour.

#include <isens/events/subscriber.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace isens::daemon {

/// One session as its events describe it.
struct tracked_session {
  std::string state = "logging_in";  ///< logged_in | disconnected | recovering | logged_off
  std::uint32_t attempt = 0;         ///< the last recovery attempt while recovering
  std::chrono::system_clock::time_point since{};       ///< logged in (or back) since
  std::chrono::system_clock::time_point down_since{};  ///< disconnected since, while down
  std::string last_kind;
  std::string last_reason;
  std::uint64_t last_seq = 0;
  std::chrono::system_clock::time_point last_time{};
  std::uint64_t disconnects = 0;  ///< session_disconnect events with no attempt (drops, not retries)
  std::deque<std::chrono::system_clock::time_point> reconnects;  ///< in the last hour
};

/// Subscribed on isensd's io_context: its callbacks and its readers run on
/// that one thread, so it needs no lock.
class session_tracker : public events::subscriber {
 public:
  void on_event(const events::event& e) override;
  void on_gap(std::uint64_t lost) override { lost_ += lost; }

  /// The tracked fields of a live session as JSON, or null when none are known.
  nlohmann::ordered_json to_json(std::uint64_t session_id, std::chrono::system_clock::time_point now) const;
  /// Events this tracker missed (its queue overflowed): its fields may be stale.
  std::uint64_t lost() const noexcept { return lost_; }

 private:
  std::map<std::uint64_t, tracked_session> sessions_;
  std::uint64_t lost_ = 0;
};

/// Milliseconds since the epoch, as the page's JavaScript Date takes them.
std::int64_t epoch_ms(std::chrono::system_clock::time_point t);

}  // namespace isens::daemon
