// The dashboard's HTTP side of a real isensd with a real tgtd behind it:
// the page's files, the JSON API, the Server-Sent Events stream (framing,
// resume with Last-Event-ID across a restart, the gap note, pings) and bad
// or greedy clients (unknown paths, oversized or malformed requests, 100
// idle streams, a stream that never reads).
#include "daemon_fixture.hpp"
#include "http_test_client.hpp"
#include "loopback_connection.hpp"
#include "subprocess.hpp"

#include <isens/events/event.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <numeric>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

json get_json(const daemon_process& daemon, const std::string& path) {
  const auto answer = http_get(daemon.metrics_port(), path);
  INFO(path << " -> " << answer.status << " " << answer.body);
  REQUIRE(answer.status == 200);
  REQUIRE(answer.headers.at("content-type") == "application/json");
  return json::parse(answer.body);
}

// The journal's last seq once it holds everything the bus published.
std::uint64_t journaled_head(const daemon_process& daemon) {
  std::uint64_t head = 0;
  REQUIRE(eventually([&] {
    const auto status = get_json(daemon, "/api/status");
    head = status.at("head_seq").get<std::uint64_t>();
    return status.at("journal").at("last_seq").get<std::uint64_t>() == head;
  }));
  return head;
}

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

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> v(last >= first ? last - first + 1 : 0);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::string config_file(const temp_dir& dir, const std::string& text) {
  return write_file(dir.path(), "isensd.toml", text).string();
}

}  // namespace

TEST_CASE("the dashboard page and its files are served from the binary", "[daemon][dashboard]") {
  daemon_process daemon;
  const auto page = http_get(daemon.metrics_port(), "/");
  CHECK(page.status == 200);
  CHECK(page.headers.at("content-type") == "text/html; charset=utf-8");
  CHECK_THAT(page.body, Catch::Contains("<script src=\"/dashboard.js\"") && Catch::Contains("Read-only"));
  // Nothing from another origin: the page's policy allows only its own files.
  CHECK_THAT(page.headers.at("content-security-policy"), Catch::Contains("default-src 'self'"));
  CHECK_THAT(page.body, !Catch::Contains("http://") && !Catch::Contains("https://"));
  CHECK(http_get(daemon.metrics_port(), "/index.html").body == page.body);
  const auto script = http_get(daemon.metrics_port(), "/dashboard.js");
  CHECK(script.status == 200);
  CHECK(script.headers.at("content-type") == "text/javascript; charset=utf-8");
  CHECK_THAT(script.body, Catch::Contains("new EventSource"));
  // The stream sends each kind as a named event: the page listens for every one.
  for (std::size_t k = 0; k < isens::events::event_kind_count; ++k) {
    const auto kind = std::string(isens::events::to_string(static_cast<isens::events::event_kind>(k)));
    CHECK_THAT(script.body, Catch::Contains("'" + kind + "'"));
  }
  // The page's other scripts: each named by the page and served.
  for (const std::string part : {"/dashboard_sessions.js", "/dashboard_timeline.js"}) {
    INFO(part);
    CHECK_THAT(page.body, Catch::Contains("<script src=\"" + part + "\""));
    const auto file = http_get(daemon.metrics_port(), part);
    CHECK(file.status == 200);
    CHECK(file.headers.at("content-type") == "text/javascript; charset=utf-8");
  }
  const auto style = http_get(daemon.metrics_port(), "/dashboard.css");
  CHECK(style.status == 200);
  CHECK(style.headers.at("content-type") == "text/css; charset=utf-8");
  const auto head = http_get(daemon.metrics_port(), "/", "HEAD");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.headers.at("content-length") == std::to_string(page.body.size()));
}

TEST_CASE("the JSON API: status, sessions with their tracked state, events and io rates",
          "[daemon][dashboard][integration]") {
  daemon_with_target env;
  const auto before = get_json(env.daemon, "/api/status");
  CHECK(before.at("read_only") == true);
  CHECK(before.at("initiator_name").get<std::string>().rfind("iqn.", 0) == 0);
  CHECK(before.at("version") == "0.1.0");
  CHECK(before.at("pid") == env.daemon.pid());
  CHECK_FALSE(before.at("host").get<std::string>().empty());
  CHECK(before.at("uptime_s").get<double>() >= 0);

  // Keys away from the RFC's defaults and isensd's offer, so each value
  // shown can only have come from this login's negotiation.
  env.target->set_target_param(standard_tid, "MaxBurstLength", "131072");
  env.target->set_target_param(standard_tid, "FirstBurstLength", "32768");
  env.target->set_target_param(standard_tid, "MaxRecvDataSegmentLength", "16384");
  env.target->set_target_param(standard_tid, "ImmediateData", "No");
  env.target->set_target_param(standard_tid, "MaxOutstandingR2T", "4");
  auto params = env.login_params();
  params["persistent"] = true;
  const auto id = env.client()->call("login_to_target", params).at("session_id").get<std::uint64_t>();
  const auto head = journaled_head(env.daemon);

  json session;
  REQUIRE(eventually([&] {
    const auto answer = get_json(env.daemon, "/api/sessions");
    if (answer.at("sessions").size() != 1) return false;
    session = answer.at("sessions").at(0);
    // The exports follow session_ready on the bus: wait for both disks' URIs too.
    const auto& devices = session.at("devices");
    const auto exported = std::count_if(devices.begin(), devices.end(), [](const json& d) { return d.contains("nbd_uri"); });
    return session.at("tracked").is_object() && session.at("tracked").at("last_event").at("kind") == "session_ready" &&
           exported == 2;
  }));
  CHECK(session.at("session_id") == id);
  CHECK(session.at("target_name") == std::string(standard_iqn));
  CHECK(session.at("persistent") == true);
  CHECK(session.at("tracked").at("state") == "logged_in");
  CHECK(session.at("tracked").at("reconnects_last_hour") == 0);
  CHECK(session.at("devices").size() == 3);  // LUN 0 (controller) and two disks
  CHECK(session.at("rate").at("rb") == 0);
  CHECK(session.at("portal_group_tag") == 1);
  CHECK(session.at("connections_wanted") == 1);

  // The negotiated parameters, both directions of MaxRecvDataSegmentLength.
  const auto& negotiated = session.at("negotiated");
  INFO("negotiated: " << negotiated.dump());
  CHECK(negotiated.at("max_burst_length") == 131072);
  CHECK(negotiated.at("first_burst_length") == 32768);
  CHECK(negotiated.at("max_recv_data_segment_length") == 262144);  // what isensd declared
  CHECK(negotiated.at("max_send_data_segment_length") == 16384);   // what tgtd declared
  CHECK(negotiated.at("immediate_data") == false);                 // AND: tgtd said No
  CHECK(negotiated.at("initial_r2t") == true);                     // OR: tgtd's default Yes
  CHECK(negotiated.at("max_outstanding_r2t") == 4);                // min of isensd's 8 and tgtd's 4
  CHECK(negotiated.at("max_connections") == standard_max_connections);
  CHECK(negotiated.at("error_recovery_level") == 0);
  CHECK(negotiated.at("header_digest") == "None");
  CHECK(negotiated.at("data_digest") == "None");
  CHECK(negotiated.at("data_pdu_in_order") == true);
  CHECK(negotiated.at("data_sequence_in_order") == true);
  CHECK(negotiated.at("default_time2wait").is_number());
  CHECK(negotiated.at("default_time2retain").is_number());
  CHECK(negotiated.at("target_portal_group_tag") == 1);
  CHECK(negotiated.contains("target_alias"));
  REQUIRE(session.at("connections").size() == 1);
  CHECK(session.at("connections")[0].at("max_recv_data_segment_length") == 262144);
  CHECK(session.at("connections")[0].at("max_send_data_segment_length") == 16384);

  // The control socket's snapshot is the same, NBD export URIs included:
  // one per disk LUN, none on the controller.
  const auto rpc = env.client()->call("sessions").at(0);
  CHECK(rpc.at("negotiated") == negotiated);
  CHECK(rpc.at("persistent") == true);
  REQUIRE(rpc.at("devices") == session.at("devices"));
  const auto exports = env.client()->call("exports");
  REQUIRE(exports.size() == 2);
  for (const auto& device : session.at("devices")) {
    INFO("LUN " << device.at("lun"));
    const auto e = std::find_if(exports.begin(), exports.end(), [&](const json& x) { return x.at("lun") == device.at("lun"); });
    if (e == exports.end()) {
      CHECK(device.at("lun") == 0);
      CHECK_FALSE(device.contains("nbd_uri"));
    } else {
      CHECK(device.at("nbd_uri") == e->at("uri"));
    }
  }

  const auto status = get_json(env.daemon, "/api/status");
  CHECK(status.at("boot_id") == before.at("boot_id"));
  const auto all = get_json(env.daemon, "/api/events?since=0");
  CHECK(all.at("gap") == false);
  CHECK(all.at("last_seq") == head);
  std::vector<std::uint64_t> seqs;
  for (const auto& e : all.at("events")) seqs.push_back(e.at("seq").get<std::uint64_t>());
  CHECK(seqs == range(1, head));
  // The same events the control socket replays.
  auto replay = std::make_unique<rpc_test_client>(env.daemon.socket_path());
  replay->call("subscribe", {{"since", 0}});
  const auto replayed = events_through(*replay, head);
  REQUIRE(replayed.size() == all.at("events").size());
  for (std::size_t i = 0; i < replayed.size(); ++i) CHECK(replayed[i] == all.at("events")[i]);
  const auto tail = get_json(env.daemon, "/api/events?since=" + std::to_string(head - 2) + "&limit=1");
  REQUIRE(tail.at("events").size() == 1);
  CHECK(tail.at("events")[0].at("seq") == head - 1);
  CHECK(tail.at("next_after") == head - 1);

  // The sampler ticks once a second; a session's series starts at its login.
  REQUIRE(eventually([&] {
    const auto sessions = get_json(env.daemon, "/api/io").at("sessions");
    return sessions.contains(std::to_string(id)) && !sessions.at(std::to_string(id)).empty();
  }));
  const auto io = get_json(env.daemon, "/api/io");
  CHECK(io.at("period_ms") == 1000);
  CHECK(io.at("total").back().at("rb") == 0);
}

TEST_CASE("sessions' tracked state follows a target crash: disconnected, recovering (attempt N), logged in again",
          "[daemon][dashboard][failover][integration]") {
  temp_dir config_dir("dash-recover");
  daemon_with_target env(with_args({"--config", config_file(config_dir, "[failover]\nfirst_retry_delay_ms = 200\n"
                                                                        "max_retry_delay_ms = 500\n"
                                                                        "give_up_after_ms = 60000\n")}));
  // Failover recovers the persistent session only; the other stays down.
  auto params = env.login_params();
  params["persistent"] = true;
  const auto persistent = env.client()->call("login_to_target", params).at("session_id").get<std::uint64_t>();
  const auto plain = env.login();
  std::map<std::uint64_t, json> sessions;
  const auto tracked = [&](std::uint64_t id) {
    sessions.clear();
    const auto answer = get_json(env.daemon, "/api/sessions");
    for (const auto& s : answer.at("sessions"))
      sessions[s.at("session_id").get<std::uint64_t>()] = s;
    return sessions.contains(id) ? sessions[id].value("tracked", json()) : json();
  };
  // "" until the session's first event reached the tracker (tracked is null then).
  const auto state_in = [](const json& t) { return t.is_object() ? t.at("state").get<std::string>() : std::string(); };
  const auto state_of = [&](std::uint64_t id) { return state_in(tracked(id)); };
  REQUIRE(eventually([&] { return state_of(persistent) == "logged_in" && state_of(plain) == "logged_in"; }));
  const auto logged_in_since = tracked(persistent).at("since_ms").get<std::int64_t>();

  env.target->kill9();
  json t;
  REQUIRE(eventually([&] { return state_in(t = tracked(plain)) == "disconnected"; }));
  CHECK(sessions[plain].at("connected") == false);
  CHECK(t.at("disconnects") == 1);
  CHECK(t.at("down_since_ms").get<std::int64_t>() >= logged_in_since);
  CHECK(t.at("last_event").at("kind") == "session_disconnect");
  CHECK(t.at("last_event").at("reason") == "peer_closed");
  REQUIRE(eventually([&] { return state_in(t = tracked(persistent)) == "recovering" && t.at("attempt") >= 2; },
                     20s));
  CHECK(sessions[persistent].at("connected") == false);
  CHECK(t.at("disconnects") == 1);  // failed attempts are not new drops
  CHECK(t.at("down_since_ms").is_number());

  env.target->restart();
  REQUIRE(eventually([&] { return state_in(t = tracked(persistent)) == "logged_in"; }, 20s));
  CHECK(sessions[persistent].at("connected") == true);
  CHECK(t.at("attempt") == 0);
  CHECK(t.at("down_since_ms").is_null());
  CHECK(t.at("reconnects_last_hour") == 1);
  CHECK(t.at("since_ms").get<std::int64_t>() > logged_in_since);
  CHECK(state_of(plain) != "logged_in");
}

TEST_CASE("I/O through an NBD export shows in the sessions' read and write rates", "[daemon][dashboard][nbd][integration]") {
  daemon_with_target env;
  const auto id = env.login();
  std::string uri;
  REQUIRE(eventually([&] {
    const auto sessions = get_json(env.daemon, "/api/sessions").at("sessions");
    for (const auto& d : sessions.at(0).at("devices"))
      if (d.at("lun") == 2) uri = d.value("nbd_uri", "");
    return !uri.empty();
  }));
  const auto in = write_file(env.daemon.dir(), "in.raw", random_bytes(standard_lun2_bytes, 14));
  const auto out = env.daemon.dir() / "out.raw";
  run_options slow;
  slow.timeout = 60s;
  run_checked({"nbdcopy", in.string(), uri}, slow);
  run_checked({"nbdcopy", uri, out.string()}, slow);

  // Each sample is a rate over the time since the tick before (the total
  // has every tick), so rate times that time, summed, is what moved: every
  // byte of the copies, once, even those moved before the session's first tick.
  const auto moved = [&](const char* field) {
    const auto io = get_json(env.daemon, "/api/io");
    std::vector<std::int64_t> ticks;
    for (const auto& p : io.at("total")) ticks.push_back(p.at("t").get<std::int64_t>());
    double bytes = 0;
    for (const auto& p : io.at("sessions").value(std::to_string(id), json::array())) {
      const auto t = p.at("t").get<std::int64_t>();
      const auto at = std::lower_bound(ticks.begin(), ticks.end(), t);
      const auto interval_ms = at == ticks.begin() ? io.at("period_ms").get<std::int64_t>() : t - *std::prev(at);
      bytes += p.at(field).get<double>() * static_cast<double>(interval_ms) / 1000;
    }
    return bytes;
  };
  const auto lun2 = static_cast<double>(standard_lun2_bytes);
  REQUIRE(eventually([&] { return moved("wb") > 0.9 * lun2 && moved("rb") > 0.9 * lun2; }));
  CHECK(moved("wb") < 1.1 * lun2);
  CHECK(moved("rb") < 1.1 * lun2);
  const auto total = get_json(env.daemon, "/api/io").at("total");
  CHECK(std::any_of(total.begin(), total.end(), [](const json& p) { return p.at("wb").get<double>() > 0; }));
}

TEST_CASE("bad HTTP requests are refused with a clear status and isensd keeps serving", "[daemon][dashboard]") {
  daemon_process daemon;
  const auto port = daemon.metrics_port();
  CHECK(http_get(port, "/nothing-here").status == 404);
  CHECK(http_get(port, "/api/").status == 404);
  CHECK(http_get(port, "/../etc/passwd").status == 404);
  CHECK(http_get(port, "/api/sessions", "POST").status == 405);
  CHECK(http_get(port, "/events", "DELETE").status == 405);
  CHECK(http_get(port, "/api/sessions", "PUT").headers.at("allow") == "GET, HEAD");
  // Oversized: a header past 8 KiB, a body (nothing here takes one).
  CHECK(http_get(port, "/", "GET", {"X-Filler: " + std::string(9000, 'a')}).status == 431);
  CHECK(http_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").status == 413);
  CHECK(http_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            .status == 413);
  // Malformed.
  CHECK(http_exchange(port, "this is not HTTP\r\n\r\n").status == 400);
  CHECK(http_exchange(port, "GET / HTTP/1.1\r\nBad Header Line\r\n\r\n").status == 400);
  CHECK(http_get(port, "/api/events?since=abc").status == 400);
  CHECK(http_get(port, "/api/events?since=-1").status == 400);
  CHECK(http_get(port, "/api/events?limit=0").status == 400);
  CHECK(http_get(port, "/api/events?limit=10001").status == 400);
  CHECK(http_get(port, "/events?since=x").status == 400);
  CHECK(http_get(port, "/events", "GET", {"Last-Event-ID: 12abc"}).status == 400);
  // A client that connects and sends half a request costs only its socket,
  // and does not hold up the others.
  const loopback_connection half(port);
  half.send_all("GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // the blank line never comes
  CHECK(http_get(port, "/api/status").status == 200);
  CHECK(http_get(port, "/metrics").status == 200);
}

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
  CHECK(ids_of(frames) == range(1, head));  // from the stream's start: nothing before, nothing skipped
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
  CHECK(ids_of(seen) == range(1, last_seen));

  env.daemon.start();
  env.login();
  const auto new_head = journaled_head(env.daemon);
  REQUIRE(new_head > last_seen);
  // As the browser reconnects: Last-Event-ID wins over the page's first since.
  sse_reader resumed(env.daemon.metrics_port(), "/events?since=0", {"Last-Event-ID: " + std::to_string(last_seen)});
  REQUIRE(resumed.read_head() == 200);
  const auto rest = frames_through(resumed, new_head);
  CHECK(ids_of(rest) == range(last_seen + 1, new_head));
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
  CHECK(ids_of(rest) == range(oldest, head));

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
  CHECK(ids_of(got) == range(1, head));
  // The idle ones are all still there and got every event too.
  for (auto& s : idle) {
    const auto frames = frames_through(*s, head);
    CHECK(ids_of(frames) == range(1, head));
  }
  // The stuck one was reset: what reached it ends short of the head (maybe
  // nothing); resuming from its last id fetches the rest from the journal,
  // each once.
  std::vector<sse_frame> partial;
  while (auto f = stuck.next_event(5s)) partial.push_back(std::move(*f));
  REQUIRE(stuck.closed());
  const auto last = partial.empty() ? 0 : *partial.back().id;
  CHECK(last < head);
  CHECK(ids_of(partial) == range(1, last));
  sse_reader resumed(port, "/events", {"Last-Event-ID: " + std::to_string(last)});
  REQUIRE(resumed.read_head() == 200);
  CHECK(ids_of(frames_through(resumed, head)) == range(last + 1, head));
}
