// isensd publishing a real session's life to a real nats-server: every
// event once, in order, under its subject and id, also when isensd is
// killed -9 between a publish and its ack; and [nats] misconfiguration
// refused, or reported while isensd runs on.
#include "daemon_fixture.hpp"
#include "nats_server.hpp"
#include "stream_reader.hpp"

#include <isens/fleet/subjects.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace isens;
using namespace isens::test;
using namespace std::chrono_literals;

namespace {

std::string nats_toml(const nats_server& broker, const std::string& host) {
  return "[nats]\nenabled = true\nurl = " + toml_string(broker.url()) + "\nhost = " + toml_string(host) +
         "\nstream = \"ISENS_TEST\"\nheartbeat_interval_ms = 200\nretry_interval_ms = 100\nack_timeout_ms = 1000\n";
}

// Failover recovers every session, so a dropped one comes back by itself.
daemon_options fleet_daemon(const temp_dir& dir, const nats_server& broker, const std::string& host) {
  const auto toml = nats_toml(broker, host) + "[failover]\nrecover_all_sessions = true\n";
  return with_args({"--config", write_file(dir.path(), "isensd.toml", toml).string()});
}

std::uint64_t journal_last_seq(daemon_with_target& env) {
  return env.client()->call("subscribe").at("last_seq").get<std::uint64_t>();
}

// Waits until the stream holds `n` messages (or more) and returns them.
std::vector<stored_message> stream_with(const nats_server& broker, std::size_t n) {
  std::vector<stored_message> stored;
  eventually([&] { return (stored = read_stream(broker.url(), "ISENS_TEST")).size() >= n; }, 20s);
  return stored;
}

// Each message's subject and id agree with the event JSON it carries.
void check_names(const std::vector<stored_message>& stored, const std::string& host) {
  const auto token = fleet::escape_host_token(host);
  for (const auto& m : stored) {
    INFO(m.subject << " " << m.body);
    const auto e = json::parse(m.body);
    CHECK(m.subject == "isens.v1.ev." + token + "." + std::to_string(e.at("session_id").get<std::uint64_t>()) + "." +
                           e.at("kind").get<std::string>());
    CHECK(m.msg_id == token + ":" + e.at("boot_id").get<std::string>() + ":" + std::to_string(e.at("seq").get<std::uint64_t>()));
    CHECK(m.seq == e.at("seq").get<std::uint64_t>());
  }
}

}  // namespace

TEST_CASE("a session's life (login, MC/S, drop, reconnect, logout) reaches the stream once, in order",
          "[fleet][daemon][integration]") {
  nats_server broker;
  temp_dir dir("fleet-life");
  daemon_with_target env(fleet_daemon(dir, broker, "life.example"));
  auto c = env.client();
  const auto id = env.login();
  const auto added = c->call("add_connection_to_session", {{"session_id", id}}).at("connection_id");
  c->call("remove_connection_from_session", {{"session_id", id}, {"connection_id", added}});
  REQUIRE(eventually([&] { return env.target->connections(standard_tid).size() == 1; }));
  // The target drops the last connection: session_disconnect, then failover logs it in again.
  const auto last_connection = env.target->connections(standard_tid).at(0);
  env.target->delete_connection(standard_tid, last_connection.sid, last_connection.cid);
  std::string subjects;
  const bool reconnected = eventually([&] {
    subjects.clear();
    for (const auto& m : read_stream(broker.url(), "ISENS_TEST")) subjects += m.subject + "\n";
    return subjects.find(".session_reconnect\n") != std::string::npos;
  }, 20s);
  INFO(subjects << env.daemon.log());
  REQUIRE(reconnected);
  env.logout(id);
  const auto last = journal_last_seq(env);

  const auto stored = stream_with(broker, last);
  REQUIRE(seqs_of(stored) == one_to(last));
  check_names(stored, "life.example");
  std::multiset<std::string> kinds;
  for (const auto& m : stored) kinds.insert(json::parse(m.body).at("kind").get<std::string>());
  for (const char* kind : {"logon", "connection_made", "connection_lost", "session_disconnect", "session_reconnect", "logoff"}) {
    INFO(kind);
    CHECK(kinds.count(kind) >= 1);
  }
  CHECK(kinds.count("connection_made") >= 2);  // MC/S
  // The metrics say the stream is caught up.
  CHECK_THAT(env.daemon.log(), Catch::Contains("nats bridge: connected to nats://127.0.0.1:" + std::to_string(broker.port())));
}

TEST_CASE("isensd killed -9 between publish and ack, then restarted: no event missing, none doubled",
          "[fleet][daemon][integration]") {
  nats_server broker;
  temp_dir dir("fleet-kill");
  daemon_with_target env(fleet_daemon(dir, broker, "kill.example"));
  env.logout(env.login());
  const auto first = journal_last_seq(env);
  REQUIRE(stream_with(broker, first).size() == first);

  // The broker takes publishes into its socket but answers nothing: the
  // bridge's publishes are sent and unacknowledged when isensd dies.
  broker.pause();
  env.logout(env.login());
  const auto second = journal_last_seq(env);
  REQUIRE(second > first);
  REQUIRE(eventually([&] { return read_tree(env.daemon.state_dir() / "journal").find("\"seq\":" + std::to_string(second) + ",") != std::string::npos; }));
  env.daemon.kill9();
  broker.resume();  // it now stores what was sent; the acks go to a dead socket

  env.daemon.start();
  env.logout(env.login());
  const auto third = journal_last_seq(env);
  const auto stored = stream_with(broker, third);
  CHECK(seqs_of(stored) == one_to(third));
  check_names(stored, "kill.example");
  std::set<std::string> ids;
  for (const auto& m : stored) ids.insert(m.msg_id);
  CHECK(ids.size() == stored.size());
}

TEST_CASE("[nats] misconfiguration: refused at start with one line, or reported while isensd runs",
          "[fleet][daemon][config]") {
  temp_dir dir("fleet-config");
  SECTION("a password in the file is refused: secrets go in files") {
    const auto config = write_file(dir.path(), "bad.toml", "[nats]\nenabled = true\npassword = \"hunter2\"\n");
    const auto r = run({ISENSD_PATH, "--config", config.string(), "--socket", (dir.path() / "s").string(),
                        "--state-dir", (dir.path() / "st").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("key 'nats.password': secrets are not written in the configuration"));
    CHECK_THAT(r.output, !Catch::Contains("hunter2"));
  }
  SECTION("an unknown key names itself") {
    const auto config = write_file(dir.path(), "bad.toml", "[nats]\nurls = \"nats://x\"\n");
    const auto r = run({ISENSD_PATH, "--config", config.string(), "--socket", (dir.path() / "s").string(),
                        "--state-dir", (dir.path() / "st").string()});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("key 'nats.urls': unknown key"));
  }
  SECTION("an unreachable broker: isensd runs, says so once, and publishes once the broker is up") {
    nats_server broker;
    const auto port = broker.port();
    broker.kill9();
    daemon_with_target env(with_args({"--nats", "nats://127.0.0.1:" + std::to_string(port), "--nats-host", "late",
                                      "--config", write_file(dir.path(), "retry.toml",
                                                             "[nats]\nstream = \"ISENS_TEST\"\nretry_interval_ms = 100\n").string()}));
    env.logout(env.login());
    REQUIRE(eventually([&] { return env.daemon.log().find("cannot connect to NATS at nats://127.0.0.1:" + std::to_string(port)) != std::string::npos; }));
    broker.restart();
    const auto last = journal_last_seq(env);
    CHECK(seqs_of(stream_with(broker, last)) == one_to(last));
    const auto log = env.daemon.log();
    CHECK(log.find("cannot connect to NATS") == log.rfind("cannot connect to NATS"));  // one line
  }
}
