#pragma once
// What the dashboard suites (daemon_dashboard_test.cpp,
// daemon_dashboard_events_test.cpp) share: a GET of the JSON API, the
// journal's head once it holds everything, a run of seqs, a config file.

#include "daemon_process.hpp"
#include "http_test_client.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace isens::test {

/// GET `path` of the dashboard's JSON API; fails the test unless it is 200 with JSON.
inline json get_json(const daemon_process& daemon, const std::string& path) {
  const auto answer = http_get(daemon.metrics_port(), path);
  INFO(path << " -> " << answer.status << " " << answer.body);
  REQUIRE(answer.status == 200);
  REQUIRE(answer.headers.at("content-type") == "application/json");
  return json::parse(answer.body);
}

/// The journal's last seq once it holds everything the bus published.
inline std::uint64_t journaled_head(const daemon_process& daemon) {
  std::uint64_t head = 0;
  REQUIRE(eventually([&] {
    const auto status = get_json(daemon, "/api/status");
    head = status.at("head_seq").get<std::uint64_t>();
    return status.at("journal").at("last_seq").get<std::uint64_t>() == head;
  }));
  return head;
}

/// The seqs first..last (none when last < first).
inline std::vector<std::uint64_t> seq_range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> v(last >= first ? last - first + 1 : 0);
  std::iota(v.begin(), v.end(), first);
  return v;
}

/// Writes isensd.toml with `text` into `dir`; returns its path.
inline std::string config_file(const temp_dir& dir, const std::string& text) {
  return write_file(dir.path(), "isensd.toml", text).string();
}

}  // namespace isens::test
