#include "isens/subscribers/metrics_subscriber.hpp"

#include "exposition_parser.hpp"

#include "isens/events/event_bus.hpp"
#include "isens/initiator/json.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
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

// Each with an id of its own, as the initiator gives them.
isens::initiator::session_info session(bool connected, std::size_t connections) {
  static std::uint64_t last_id = 100;
  isens::initiator::session_info s;
  s.session_id = ++last_id;
  s.connected = connected;
  s.connections.resize(connections);
  return s;
}

// A session whose data path has done a little of everything, each counter
// a different number so a mixed-up field shows.
isens::initiator::session_info busy_session() {
  auto busy = session(true, 2);
  busy.session_id = 7;
  busy.target_name = "iqn.2026-11.org.isens:busy";
  auto& io = busy.io;
  io.read_ops = 10;
  io.read_bytes = 40960;
  io.write_ops = 3;
  io.write_bytes = 12288;
  io.failed = 1;
  io.held = 2;
  io.reissued = 4;
  io.retried = 5;
  io.aborted = 6;
  io.lun_resets = 11;
  io.in_flight = 8;
  io.queued = 9;
  io.latency_buckets.front() = 2;  // <= 50 µs
  io.latency_buckets[4] = 10;      // <= 1 ms
  io.latency_buckets.back() = 1;   // > 10 s
  io.latency_sum_us = 12'000'300;
  return busy;
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

TEST_CASE("metrics_snapshot exposes each session's io counters, labelled by session and target", "[metrics]") {
  using isens::initiator::io_latency_bounds_us;
  const auto busy = busy_session();
  auto idle = session(false, 0);
  idle.session_id = 8;
  idle.target_name = "iqn.2026-11.org.isens:idle";

  metrics_registry registry;
  metrics_snapshot(registry, {busy, idle}, {});
  auto x = parse_exposition(registry.render());
  const std::map<std::string, std::string> b{{"session", "7"}, {"target", "iqn.2026-11.org.isens:busy"}};
  const auto with = [](auto labels, std::string name, std::string value) {
    labels.emplace(std::move(name), std::move(value));
    return labels;
  };
  CHECK(x.value("isens_io_ops_total", with(b, "op", "read")) == 10);
  CHECK(x.value("isens_io_ops_total", with(b, "op", "write")) == 3);
  CHECK(x.value("isens_io_bytes_total", with(b, "op", "read")) == 40960);
  CHECK(x.value("isens_io_bytes_total", with(b, "op", "write")) == 12288);
  CHECK(x.value("isens_io_errors_total", b) == 1);
  CHECK(x.value("isens_io_held_total", b) == 2);
  CHECK(x.value("isens_io_reissued_total", b) == 4);
  CHECK(x.value("isens_io_retried_total", b) == 5);
  CHECK(x.value("isens_io_aborts_total", b) == 6);
  CHECK(x.value("isens_io_lun_resets_total", b) == 11);
  CHECK(x.value("isens_io_in_flight", b) == 8);
  CHECK(x.value("isens_io_queued", b) == 9);
  // The latency histogram in seconds, cumulative on the wire.
  CHECK(x.value("isens_io_latency_seconds_bucket", with(b, "le", "5e-05")) == 2);
  CHECK(x.value("isens_io_latency_seconds_bucket", with(b, "le", "5e-04")) == 2);  // the shortest form
  CHECK(x.value("isens_io_latency_seconds_bucket", with(b, "le", "0.001")) == 12);
  CHECK(x.value("isens_io_latency_seconds_bucket", with(b, "le", "10")) == 12);
  CHECK(x.value("isens_io_latency_seconds_bucket", with(b, "le", "+Inf")) == 13);
  CHECK(x.value("isens_io_latency_seconds_count", b) == 13);
  CHECK(x.value("isens_io_latency_seconds_sum", b) == Approx(12.0003));
  std::size_t bucket_lines = 0;
  for (const auto& sample : x.samples) {
    if (sample.name == "isens_io_latency_seconds_bucket" && sample.labels.at("session") == "7") ++bucket_lines;
  }
  CHECK(bucket_lines == io_latency_bounds_us.size() + 1);
  // A session that did nothing has every series, at 0.
  const std::map<std::string, std::string> i{{"session", "8"}, {"target", "iqn.2026-11.org.isens:idle"}};
  CHECK(x.value("isens_io_ops_total", with(i, "op", "read")) == 0);
  CHECK(x.value("isens_io_errors_total", i) == 0);
  CHECK(x.value("isens_io_in_flight", i) == 0);
  CHECK(x.value("isens_io_latency_seconds_count", i) == 0);
  CHECK(x.types.at("isens_io_ops_total") == "counter");
  CHECK(x.types.at("isens_io_aborts_total") == "counter");
  CHECK(x.types.at("isens_io_in_flight") == "gauge");
  CHECK(x.types.at("isens_io_latency_seconds") == "histogram");

  // A session that ended takes its series with it.
  metrics_snapshot(registry, {idle}, {});
  x = parse_exposition(registry.render());
  CHECK_FALSE(x.has("isens_io_ops_total", with(b, "op", "read")));
  CHECK_FALSE(x.has("isens_io_queued", b));
  CHECK_FALSE(x.has("isens_io_latency_seconds_count", b));
  CHECK(x.has("isens_io_queued", i));
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

TEST_CASE("a session's JSON (the sessions RPC, isensctl sessions --json) has the same io counters", "[metrics][json]") {
  using isens::initiator::io_latency_bounds_us;
  using json = nlohmann::ordered_json;
  const auto j = isens::initiator::to_json(busy_session());
  auto io = j.at("io");
  const auto latency = io.at("latency");
  io.erase("latency");
  CHECK(io == json{{"read_ops", 10}, {"read_bytes", 40960}, {"write_ops", 3}, {"write_bytes", 12288}, {"failed", 1},
                   {"held", 2}, {"reissued", 4}, {"retried", 5}, {"aborted", 6}, {"lun_resets", 11},
                   {"in_flight", 8}, {"queued", 9}});
  const auto& buckets = latency.at("buckets_us");
  REQUIRE(buckets.size() == io_latency_bounds_us.size() + 1);
  CHECK(buckets.front() == json{{"le", 50}, {"count", 2}});
  CHECK(buckets[4] == json{{"le", 1000}, {"count", 10}});  // per bucket, not cumulative
  CHECK(buckets[5].at("count") == 0);
  CHECK(buckets.back() == json{{"le", "+Inf"}, {"count", 1}});
  CHECK(latency.at("sum_us") == 12'000'300);
}
