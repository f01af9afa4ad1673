// The Prometheus endpoint of a real isensd, scraped over plain TCP the way
// Prometheus does, and the body checked against the exposition format.
#include "daemon_fixture.hpp"
#include "exposition_parser.hpp"
#include "loopback_connection.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include <poll.h>
#include <sys/socket.h>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

struct http_answer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One HTTP/1.1 request with Connection: close; reads to EOF, bounded.
http_answer http_get(unsigned short port, const std::string& path, const std::string& method = "GET") {
  const loopback_connection connection(port);
  const int fd = connection.fd();
  connection.send_all(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::string raw;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char chunk[8192];
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    raw.append(chunk, static_cast<std::size_t>(n));
  }

  http_answer answer;
  const auto head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  REQUIRE_THAT(line, Catch::StartsWith("HTTP/1.1 "));
  answer.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    answer.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  answer.body = raw.substr(head_end + 4);
  return answer;
}

}  // namespace

TEST_CASE("GET /metrics serves valid Prometheus text with the session and event counts",
          "[daemon][metrics][integration]") {
  daemon_with_target env;
  const auto id = env.login();

  exposition metrics;
  // Events reach the metrics subscriber on its own queue: wait until the
  // login's logon has been counted.
  REQUIRE(eventually([&] {
    const auto answer = http_get(env.daemon.metrics_port(), "/metrics");
    if (answer.status != 200) return false;
    metrics = parse_exposition(answer.body);  // throws (fails the test) on any format error
    // The series exists from the start at 0; wait for the count itself.
    return metrics.value("isens_events_total", {{"kind", "logon"}}) >= 1;
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
  const std::map<std::string, std::string> session{{"session", std::to_string(id)}, {"target", std::string(standard_iqn)}};
  auto read = session;
  read.emplace("op", "read");
  CHECK(metrics.value("isens_io_ops_total", read) == 0);
  CHECK(metrics.value("isens_io_bytes_total", read) == 0);
  CHECK(metrics.value("isens_io_errors_total", session) == 0);
  CHECK(metrics.value("isens_io_in_flight", session) == 0);
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
