#include "isens/events/event_filter.hpp"

namespace isens::events {

event_filter event_filter::only(std::initializer_list<event_kind> wanted) {
  event_filter f;
  f.kinds.reset();
  for (const auto k : wanted) f.kinds.set(static_cast<std::size_t>(k));
  return f;
}

bool event_filter::matches(const event& e) const noexcept {
  if (!kinds.test(static_cast<std::size_t>(e.kind))) return false;
  if (target && *target != e.target) return false;
  if (session_id && *session_id != e.session_id) return false;
  return true;
}

}  // namespace isens::events
