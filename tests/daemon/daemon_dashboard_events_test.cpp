// The dashboard's Server-Sent Events stream of a real isensd with a real
// tgtd behind it: framing, resume with Last-Event-ID across a restart, the
// gap note, pings, and greedy clients (100 idle streams, a stream that never
// reads). The page and the JSON API: daemon_dashboard_test.cpp.
#include "daemon_fixture.hpp"
#include "dashboard_suite.hpp"
#include "http_test_client.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

// Event frames until one with id >= last (included); fails on a timeout or close.
std::vector<sse_frame> frames_through(sse_reader& reader, std::uint64_t last) {
  std::vector<sse_frame> frames;
  while (frames.empty() || !frames.back().id || *frames.back().id < last) {
    auto f = reader.next_event(10s);
    INFO("waiting for seq " << last << " after " << frames.size() << " frames");
    REQUIRE(f);
    frames.push_back(std::move(*f));
  }
  return frames;
}

std::vector<std::uint64_t> ids_of(const std::vector<sse_frame>& frames) {
  std::vector<std::uint64_t> ids;
  for (const auto& f : frames)
    if (f.event != "gap") ids.push_back(f.id.value_or(0));
  return ids;
}


}  // namespace

TEST_CASE("GET /events: SSE framing, id = seq, live events in order", "[daemon][dashboard][integration]") {
  daemon_with_target env;
  sse_reader stream(env.daemon.metrics_port(), "/events");
  REQUIRE(stream.read_head() == 200);
  CHECK(stream.headers().at("content-type") == "text/event-stream");
  CHECK(stream.headers().at("cache-control") == "no-cache");
  CHECK_FALSE(stream.headers().contains("content-length"));
  // Something at once, so neither browser nor proxy takes the server for hung.
  const auto hello = stream.next(2s);
  REQUIRE(hello);
  CHECK(hello->comment == "connected");

  const auto id = env.login();
  const auto head = journaled_head(env.daemon);
  const auto frames = frames_through(stream, head);
  CHECK(ids_of(frames) == seq_range(1, head));  // from the stream's start: nothing before, nothing skipped
  for (const auto& f : frames) {
    const auto e = json::parse(f.data);  // one line of JSON, the event's stable form
    CHECK(e.at("seq") == *f.id);
    CHECK(e.at("kind") == f.event);
    CHECK(e.at("session_id") == id);
  }
  CHECK(frames.front().event == "connection_made");
  CHECK(frames.back().event == "session_ready");
}

TEST_CASE("GET /events resumes with Last-Event-ID across an isensd restart: nothing lost, nothing doubled",
          "[daemon][dashboard][persistence][integration]") {
  daemon_with_target env;
  auto first = std::make_unique<sse_reader>(env.daemon.metrics_port(), "/events?since=0");
  REQUIRE(first->read_head() == 200);
  env.logout(env.login());
  env.login();  // logged out by the SIGTERM, with events the stream may or may not see
  const auto head = journaled_head(env.daemon);
  auto seen = frames_through(*first, head);
  REQUIRE(env.daemon.stop() == std::optional<int>(0));
  // Whatever the stream still delivered before isensd closed it.
  while (auto f = first->next_event(5s)) seen.push_back(std::move(*f));
  CHECK(first->closed());
  const auto last_seen = *seen.back().id;
  CHECK(ids_of(seen) == seq_range(1, last_seen));

  env.daemon.start();
  env.login();
  const auto new_head = journaled_head(env.daemon);
  REQUIRE(new_head > last_seen);
  // As the browser reconnects: Last-Event-ID wins over the page's first since.
  sse_reader resumed(env.daemon.metrics_port(), "/events?since=0", {"Last-Event-ID: " + std::to_string(last_seen)});
  REQUIRE(resumed.read_head() == 200);
  const auto rest = frames_through(resumed, new_head);
  CHECK(ids_of(rest) == seq_range(last_seen + 1, new_head));
  // The shutdown's logoff (stream closed before it, or not) is in either part, once.
  std::vector<std::string> kinds;
  for (const auto& f : seen) kinds.push_back(f.event);
  for (const auto& f : rest) kinds.push_back(f.event);
  CHECK(std::count(kinds.begin(), kinds.end(), "logoff") == 2);
  // And the two boots are told apart by the events' boot_id.
  CHECK(json::parse(seen.front().data).at("boot_id") != json::parse(rest.back().data).at("boot_id"));
}

TEST_CASE("GET /events says gap when the journal no longer holds what was asked", "[daemon][dashboard][integration]") {
  temp_dir config_dir("dash-gap");
  daemon_with_target env(with_args({"--config", config_file(config_dir, "[daemon]\njournal_max_events = 100\n"),
                                    "--log-level", "warn"}));
  std::uint64_t head = 0;
  for (int i = 0; i < 100 && head <= 210; ++i) {
    env.logout(env.login());
    head = get_json(env.daemon, "/api/status").at("head_seq").get<std::uint64_t>();
  }
  REQUIRE(head > 200);
  head = journaled_head(env.daemon);
  const auto oldest = get_json(env.daemon, "/api/status").at("journal").at("oldest_seq").get<std::uint64_t>();
  REQUIRE(oldest > 2);

  sse_reader stream(env.daemon.metrics_port(), "/events?since=1");
  REQUIRE(stream.read_head() == 200);
  const auto gap = stream.next_event();
  REQUIRE(gap);
  CHECK(gap->event == "gap");
  const auto note = json::parse(gap->data);
  CHECK(note.at("since") == 1);
  CHECK(note.at("oldest_available") == oldest);
  CHECK_THAT(note.at("detail").get<std::string>(), Catch::Contains("no longer holds"));
  const auto rest = frames_through(stream, head);
  CHECK(ids_of(rest) == seq_range(oldest, head));

  const auto api = get_json(env.daemon, "/api/events?since=1");
  CHECK(api.at("gap") == true);
  CHECK(api.at("oldest_available") == oldest);
  CHECK(api.at("events").at(0).at("seq") == oldest);

  // A seq this isensd never handed out (another state dir): a gap, then live.
  sse_reader ahead(env.daemon.metrics_port(), "/events", {"Last-Event-ID: " + std::to_string(head + 1000)});
  REQUIRE(ahead.read_head() == 200);
  const auto ahead_gap = ahead.next_event();
  REQUIRE(ahead_gap);
  CHECK(ahead_gap->event == "gap");
  CHECK(ahead_gap->id == head);
}

TEST_CASE("idle streams get a comment every ping interval", "[daemon][dashboard]") {
  temp_dir config_dir("dash-ping");
  daemon_process daemon(with_args({"--config", config_file(config_dir, "[dashboard]\nping_interval_ms = 50\n")}));
  sse_reader stream(daemon.metrics_port(), "/events");
  REQUIRE(stream.read_head() == 200);
  REQUIRE(stream.next(2s)->comment == "connected");
  for (int i = 0; i < 3; ++i) {
    const auto ping = stream.next(5s);
    REQUIRE(ping);
    CHECK(ping->comment == "ping");
  }
}

TEST_CASE("100 idle streams and one that never reads slow nobody: the laggard is closed and resumes",
          "[daemon][dashboard][integration]") {
  temp_dir config_dir("dash-slow");
  daemon_with_target env(with_args(
      {"--config", config_file(config_dir, "[dashboard]\nclient_queue_frames = 16\nmax_stream_clients = 102\n")}));
  const auto port = env.daemon.metrics_port();
  std::vector<std::unique_ptr<sse_reader>> idle;
  for (int i = 0; i < 100; ++i) {
    idle.push_back(std::make_unique<sse_reader>(port, "/events"));
    REQUIRE(idle.back()->read_head() == 200);
  }
  // A tiny receive window and no reading at all.
  sse_reader stuck(port, "/events", {}, 2048);
  REQUIRE(stuck.read_head() == 200);
  sse_reader reader(port, "/events");
  REQUIRE(reader.read_head() == 200);
  REQUIRE(eventually([&] { return get_json(env.daemon, "/api/status").at("stream_clients") == 102; }));
  // Beyond the limit: refused, not queued.
  sse_reader refused(port, "/events");
  CHECK(refused.read_head() == 503);

  // Events until isensd gives up on the stuck stream; the reader that reads keeps up.
  std::vector<sse_frame> got;
  std::uint64_t head = 0;
  bool dropped = false;
  for (int round = 0; round < 400 && !dropped; ++round) {
    env.logout(env.login());
    head = journaled_head(env.daemon);
    auto more = frames_through(reader, head);
    got.insert(got.end(), more.begin(), more.end());
    dropped = get_json(env.daemon, "/api/status").at("stream_clients") == 101;
  }
  REQUIRE(dropped);
  CHECK_THAT(env.daemon.log(), Catch::Contains("closing a client"));
  CHECK(ids_of(got) == seq_range(1, head));
  // The idle ones are all still there and got every event too.
  for (auto& s : idle) {
    const auto frames = frames_through(*s, head);
    CHECK(ids_of(frames) == seq_range(1, head));
  }
  // The stuck one was reset: what reached it ends short of the head (maybe
  // nothing); resuming from its last id fetches the rest from the journal,
  // each once.
  std::vector<sse_frame> partial;
  while (auto f = stuck.next_event(5s)) partial.push_back(std::move(*f));
  REQUIRE(stuck.closed());
  const auto last = partial.empty() ? 0 : *partial.back().id;
  CHECK(last < head);
  CHECK(ids_of(partial) == seq_range(1, last));
  sse_reader resumed(port, "/events", {"Last-Event-ID: " + std::to_string(last)});
  REQUIRE(resumed.read_head() == 200);
  CHECK(ids_of(frames_through(resumed, head)) == seq_range(last + 1, head));
}
