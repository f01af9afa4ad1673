// The Prometheus endpoint of a real isensd, scraped over plain TCP the way
// Prometheus does, and the body checked against the exposition format.
#include "daemon_fixture.hpp"
#include "exposition_parser.hpp"
#include "http_test_client.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace isens::test;
using namespace std::chrono_literals;

TEST_CASE("GET /metrics serves valid Prometheus text with the session and event counts",
          "[daemon][metrics][integration]") {
  daemon_with_target env;
  const auto id = env.login();

  const std::map<std::string, std::string> session{{"session", std::to_string(id)}, {"target", std::string(standard_iqn)}};
  exposition metrics;
  // Events reach the metrics subscriber on its own queue: wait until the
  // login's logon has been counted, and until the NBD export's probe of the
  // LUN (MODE SENSE, sent at session_ready) is answered.
  REQUIRE(eventually([&] {
    const auto answer = http_get(env.daemon.metrics_port(), "/metrics");
    if (answer.status != 200) return false;
    metrics = parse_exposition(answer.body);  // throws (fails the test) on any format error
    // The series exists from the start at 0; wait for the count itself.
    return metrics.value("isens_events_total", {{"kind", "logon"}}) >= 1 && metrics.has("isens_io_in_flight", session) &&
           metrics.value("isens_io_in_flight", session) == 0;
  }));
  auto answer = http_get(env.daemon.metrics_port(), "/metrics");
  CHECK(answer.status == 200);
  CHECK_THAT(answer.headers["content-type"], Catch::StartsWith("text/plain; version=0.0.4"));
  CHECK(answer.headers["content-length"] == std::to_string(answer.body.size()));
  metrics = parse_exposition(answer.body);
  CHECK(metrics.value("isens_events_total", {{"kind", "logon"}}) >= 1);
  CHECK(metrics.value("isens_logins_total", {{"result", "ok"}}) >= 1);
  CHECK(metrics.value("isens_sessions", {{"state", "connected"}}) == 1);
  // The session's data-path series exist from its login on, at 0 (isensd
  // issues no reads or writes of its own).
  auto read = session;
  read.emplace("op", "read");
  CHECK(metrics.value("isens_io_ops_total", read) == 0);
  CHECK(metrics.value("isens_io_bytes_total", read) == 0);
  CHECK(metrics.value("isens_io_errors_total", session) == 0);
  CHECK(metrics.has("isens_io_in_flight", session));  // at 0 above; the export may probe the LUN again
  CHECK(metrics.value("isens_io_latency_seconds_count", session) == 0);
  CHECK(metrics.types.at("isens_io_latency_seconds") == "histogram");
}

TEST_CASE("the metrics endpoint answers other paths with 404 and other methods with 405", "[daemon][metrics]") {
  daemon_process daemon;
  CHECK(http_get(daemon.metrics_port(), "/other").status == 404);
  CHECK(http_get(daemon.metrics_port(), "/metrics/extra").status == 404);
  CHECK(http_get(daemon.metrics_port(), "/metrics", "POST").status == 405);
  CHECK(http_get(daemon.metrics_port(), "/metrics").status == 200);  // and it still serves
}
