#include "session_tracker.hpp"

#include <algorithm>

namespace isens::daemon {

using events::event_kind;

std::int64_t epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void session_tracker::on_event(const events::event& e) {
  if (e.session_id == 0) return;
  if (e.kind == event_kind::logoff) {
    sessions_.erase(e.session_id);  // the snapshot no longer lists it either
    return;
  }
  auto& s = sessions_[e.session_id];
  s.last_kind = std::string(events::to_string(e.kind));
  s.last_reason = std::string(events::to_string(e.reason));
  s.last_seq = e.seq;
  s.last_time = e.timestamp;
  switch (e.kind) {
    case event_kind::logon:
      s.state = "logged_in";
      s.since = e.timestamp;
      break;
    case event_kind::session_reconnect:
      s.state = "logged_in";
      s.since = e.timestamp;
      s.attempt = 0;
      s.reconnects.push_back(e.timestamp);
      break;
    case event_kind::session_disconnect:
      // The first one is the drop; failed recovery attempts follow with their number.
      if (e.attempt) {
        s.state = "recovering";
        s.attempt = *e.attempt;
      } else {
        s.state = "disconnected";
        s.down_since = e.timestamp;
        ++s.disconnects;
      }
      break;
    default:
      break;
  }
  while (!s.reconnects.empty() && e.timestamp - s.reconnects.front() > std::chrono::hours(1)) s.reconnects.pop_front();
}

nlohmann::ordered_json session_tracker::to_json(std::uint64_t session_id, std::chrono::system_clock::time_point now) const {
  const auto found = sessions_.find(session_id);
  if (found == sessions_.end()) return nullptr;
  const auto& s = found->second;
  const auto recent = std::count_if(s.reconnects.begin(), s.reconnects.end(),
                                    [&](auto t) { return now - t <= std::chrono::hours(1); });
  nlohmann::ordered_json out{{"state", s.state},
                             {"attempt", s.attempt},
                             {"since_ms", s.since == decltype(s.since){} ? nullptr : nlohmann::ordered_json(epoch_ms(s.since))},
                             {"down_since_ms", s.state == "logged_in" ? nullptr : nlohmann::ordered_json(epoch_ms(s.down_since))},
                             {"last_event", {{"kind", s.last_kind}, {"reason", s.last_reason}, {"seq", s.last_seq},
                                             {"time_ms", epoch_ms(s.last_time)}}},
                             {"disconnects", s.disconnects},
                             {"reconnects_last_hour", recent}};
  return out;
}

}  // namespace isens::daemon
