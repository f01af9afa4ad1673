// The dashboard's HTTP side of a real isensd with a real tgtd behind it:
// the page's files, the JSON API (status, sessions and their tracked state,
// events, I/O rates) and bad requests (unknown paths, oversized or malformed
// requests). The Server-Sent Events stream: daemon_dashboard_events_test.cpp.
#include "daemon_fixture.hpp"
#include "dashboard_suite.hpp"
#include "http_test_client.hpp"
#include "loopback_connection.hpp"
#include "subprocess.hpp"

#include <isens/events/event.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

using namespace isens::test;
using namespace std::chrono_literals;

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
  CHECK(seqs == seq_range(1, head));
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
