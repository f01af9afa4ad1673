#include "isens/subscribers/metrics_subscriber.hpp"

#include "exposition_parser.hpp"

#include "isens/events/event_bus.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>

using namespace isens::events;
using namespace isens::subscribers;
using isens::test::parse_exposition;
using namespace std::chrono_literals;

namespace {

// Polls a subscription until it has taken `n` events (delivered or lost);
// a timeout is a failed REQUIRE, not a hang.
void wait_for(const subscription& sub, std::uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sub.delivered() + sub.lost() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(sub.delivered() + sub.lost() == n);
}

event make(event_kind kind, event_reason reason = event_reason::none, std::optional<std::uint32_t> attempt = {}) {
  event e;
  e.kind = kind;
  e.reason = reason;
  e.session_id = 1;
  e.attempt = attempt;
  return e;
}

// Designated initializers would trip -Wmissing-field-initializers.
subscription_options named(std::string name, std::size_t capacity = 4096,
                           std::optional<boost::asio::any_io_executor> executor = {}) {
  subscription_options o;
  o.name = std::move(name);
  o.queue_capacity = capacity;
  o.executor = std::move(executor);
  return o;
}

isens::initiator::session_info session(bool connected, std::size_t connections) {
  isens::initiator::session_info s;
  s.connected = connected;
  s.connections.resize(connections);
  return s;
}

subscription_stats stats(std::string name, std::uint64_t lost, std::uint64_t errors, std::size_t depth) {
  subscription_stats s;
  s.name = std::move(name);
  s.lost = lost;
  s.errors = errors;
  s.queue_depth = depth;
  return s;
}

}  // namespace

TEST_CASE("the metrics subscriber counts what a real bus delivers, by kind and reason", "[metrics]") {
  auto registry = std::make_shared<metrics_registry>();
  event_bus bus;
  auto sub = bus.subscribe(std::make_shared<metrics_subscriber>(registry), {}, named("metrics"));

  bus.publish(make(event_kind::connection_made, event_reason::admin_login));
  bus.publish(make(event_kind::logon, event_reason::admin_login));
  bus.publish(make(event_kind::session_ready));
  bus.publish(make(event_kind::connection_made, event_reason::admin_login));
  bus.publish(make(event_kind::session_disconnect, event_reason::peer_closed));
  bus.publish(make(event_kind::session_disconnect, event_reason::peer_closed));
  bus.publish(make(event_kind::session_disconnect, event_reason::nop_timeout));
  bus.publish(make(event_kind::session_reconnect, event_reason::recovery, 1));
  bus.publish(make(event_kind::session_reconnect, event_reason::recovery, 2));
  bus.publish(make(event_kind::logoff, event_reason::recovery_failed, 3));
  wait_for(sub, 10);
  REQUIRE(sub.lost() == 0);

  const auto x = parse_exposition(registry->render());
  CHECK(x.value("isens_events_total", {{"kind", "connection_made"}}) == 2);
  CHECK(x.value("isens_events_total", {{"kind", "logon"}}) == 1);
  CHECK(x.value("isens_events_total", {{"kind", "session_ready"}}) == 1);
  CHECK(x.value("isens_events_total", {{"kind", "session_disconnect"}}) == 3);
  CHECK(x.value("isens_events_total", {{"kind", "session_reconnect"}}) == 2);
  CHECK(x.value("isens_events_total", {{"kind", "logoff"}}) == 1);
  // Kinds that never happened are there at 0, not missing.
  CHECK(x.value("isens_events_total", {{"kind", "connection_lost"}}) == 0);
  CHECK(x.value("isens_session_disconnects_total", {{"reason", "peer_closed"}}) == 2);
  CHECK(x.value("isens_session_disconnects_total", {{"reason", "nop_timeout"}}) == 1);
  CHECK_FALSE(x.has("isens_session_disconnects_total", {{"reason", "recovery_failed"}}));
  CHECK(x.value("isens_reconnects_total") == 2);
  CHECK(x.value("isens_recovery_attempts_total") == 3);
  CHECK(x.value("isens_events_lost_total") == 0);
  CHECK(x.types.at("isens_events_total") == "counter");
  CHECK(sub.errors() == 0);
}

TEST_CASE("the metrics subscriber counts its own gaps", "[metrics]") {
  auto registry = std::make_shared<metrics_registry>();
  // The subscriber's executor does not run until every event is published,
  // so its queue of 2 must overflow and the bus must report the loss.
  boost::asio::io_context paused;
  event_bus bus;
  auto sub = bus.subscribe(std::make_shared<metrics_subscriber>(registry), {},
                           named("metrics", 2, paused.get_executor()));
  for (int i = 0; i < 7; ++i) bus.publish(make(event_kind::logon));
  paused.run();
  wait_for(sub, 7);
  CHECK(sub.lost() > 0);
  CHECK(registry->value("isens_events_lost_total") == static_cast<double>(sub.lost()));
  CHECK(registry->value("isens_events_total", {{"kind", "logon"}}) == static_cast<double>(sub.delivered()));
  sub.unsubscribe();
}

TEST_CASE("metrics_snapshot sets session and subscription families from snapshots", "[metrics]") {
  metrics_registry registry;
  metrics_snapshot(registry, {session(true, 1), session(true, 2), session(false, 0)},
                   {stats("logger", 0, 1, 3), stats("subscriber", 4, 0, 1), stats("subscriber", 1, 2, 0)});
  auto x = parse_exposition(registry.render());
  CHECK(x.value("isens_sessions", {{"state", "connected"}}) == 2);
  CHECK(x.value("isens_sessions", {{"state", "disconnected"}}) == 1);
  CHECK(x.value("isens_connections") == 3);
  CHECK(x.value("isens_subscriber_queue_depth", {{"subscriber", "logger"}}) == 3);
  CHECK(x.value("isens_subscriber_queue_depth", {{"subscriber", "subscriber"}}) == 1);
  CHECK(x.value("isens_subscriber_dropped_events_total", {{"subscriber", "subscriber"}}) == 5);
  CHECK(x.value("isens_subscriber_errors_total", {{"subscriber", "subscriber"}}) == 2);
  CHECK(x.value("isens_subscriber_errors_total", {{"subscriber", "logger"}}) == 1);
  CHECK(x.types.at("isens_sessions") == "gauge");
  CHECK(x.types.at("isens_subscriber_dropped_events_total") == "counter");

  // The next scrape reflects the next snapshot: the logger is gone, no sessions.
  metrics_snapshot(registry, {}, {stats("subscriber", 6, 2, 0)});
  x = parse_exposition(registry.render());
  CHECK(x.value("isens_sessions", {{"state", "connected"}}) == 0);
  CHECK(x.value("isens_sessions", {{"state", "disconnected"}}) == 0);
  CHECK(x.value("isens_connections") == 0);
  CHECK_FALSE(x.has("isens_subscriber_queue_depth", {{"subscriber", "logger"}}));
  CHECK(x.value("isens_subscriber_dropped_events_total", {{"subscriber", "subscriber"}}) == 6);
}

TEST_CASE("metrics_snapshot takes a real bus's stats beside the subscriber's counters", "[metrics]") {
  auto registry = std::make_shared<metrics_registry>();
  event_bus bus;
  auto sub = bus.subscribe(std::make_shared<metrics_subscriber>(registry), {}, named("metrics"));
  bus.publish(make(event_kind::logon));
  wait_for(sub, 1);
  metrics_snapshot(*registry, {session(true, 1)}, bus.stats());
  registry->record_login(true, 25ms);
  const auto x = parse_exposition(registry->render());
  CHECK(x.value("isens_subscriber_queue_depth", {{"subscriber", "metrics"}}) == 0);
  CHECK(x.value("isens_subscriber_dropped_events_total", {{"subscriber", "metrics"}}) == 0);
  CHECK(x.value("isens_events_total", {{"kind", "logon"}}) == 1);
  CHECK(x.value("isens_logins_total", {{"result", "ok"}}) == 1);
  CHECK(x.value("isens_sessions", {{"state", "connected"}}) == 1);
}
