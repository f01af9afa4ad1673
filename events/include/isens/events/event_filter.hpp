#pragma once
/// Which events a subscription wants: a set of kinds, and optionally one
/// target or one session. Evaluated on the publisher's thread, before
/// anything is queued, so filtered-out events cost a subscriber nothing.

#include "isens/events/event.hpp"

#include <bitset>
#include <initializer_list>
#include <optional>
#include <string>

namespace isens::events {

/// A predicate over events; the default matches everything.
struct event_filter {
  std::bitset<event_kind_count> kinds = std::bitset<event_kind_count>{}.set();  ///< wanted kinds
  std::optional<std::string> target;            ///< only events of this target IQN
  std::optional<std::uint64_t> session_id;      ///< only events of this session

  /// A filter that matches only the given kinds.
  static event_filter only(std::initializer_list<event_kind> wanted);

  /// True when the event passes every condition.
  bool matches(const event& e) const noexcept;
};

}  // namespace isens::events
