#pragma once
// What the plugin tests use to drive a loaded plugin through a real
// event_bus: events to publish, subscription options named as isensd names
// plugins, a subscriber beside the plugin, and waiting for deliveries.

#include <isens/events/event_bus.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>

namespace isens::test::plugins {

/// Polls until `done` holds or 10 s pass: deliveries run on bus threads.
template <class Predicate>
bool eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

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
