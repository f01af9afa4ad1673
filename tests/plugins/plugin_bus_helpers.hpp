#pragma once
// What the plugin tests use to drive a loaded plugin through a real
// event_bus: events to publish, subscription options named as isensd names
// plugins, a subscriber beside the plugin, and waiting for deliveries.

#include "eventually.hpp"

#include <isens/events/event_bus.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace isens::test::plugins {

// Deliveries run on bus threads: wait for them with a bounded poll.
using isens::test::eventually;

/// Subscription options with a name, as isensd gives plugins.
inline isens::events::subscription_options named(std::string name) {
  isens::events::subscription_options options;
  options.name = std::move(name);
  return options;
}

inline isens::events::event make_event(isens::events::event_kind kind, std::uint64_t session,
                                       isens::events::event_reason reason = isens::events::event_reason::none) {
  isens::events::event e;
  e.kind = kind;
  e.reason = reason;
  e.session_id = session;
  e.target = "iqn.2026-01.test:disk";
  return e;
}

/// A subscriber beside the plugin: shows the bus kept delivering to others.
class counting_sink final : public isens::events::subscriber {
 public:
  void on_event(const isens::events::event&) override { ++count; }
  std::atomic<std::uint64_t> count{0};
};

}  // namespace isens::test::plugins
