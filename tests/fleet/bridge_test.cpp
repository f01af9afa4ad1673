// The bridge against a real nats-server: every journal event in the stream
// exactly once and in order per host, through broker crashes, a wiped store
// and a rotated journal, and one clear line for each bad configuration.
#include "bridge_env.hpp"

#include <isens/events/event_json.hpp>
#include <isens/fleet/nats_connection.hpp>
#include <isens/fleet/nats_error.hpp>
#include <isens/fleet/stream_setup.hpp>
#include <isens/fleet/subjects.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <thread>

using namespace isens;
using namespace isens::test;
using namespace std::chrono_literals;

namespace {

// No message id twice: the stream's dedup and the bridge's replay agree.
// What differs from 1..n, for a failure message.
std::string differences(const std::vector<std::uint64_t>& seqs, std::uint64_t n) {
  std::string text = std::to_string(seqs.size()) + " messages;";
  std::uint64_t expected = 1;
  int shown = 0;
  for (std::size_t i = 0; i < seqs.size() && shown < 10; ++i, ++expected) {
    if (seqs[i] != expected) {
      text += " at " + std::to_string(i) + ": " + std::to_string(seqs[i]) + " not " + std::to_string(expected) + ";";
      expected = seqs[i];
      ++shown;
    }
  }
  if (expected <= n) text += " ends before " + std::to_string(n);
  return text;
}

bool ids_unique(const std::vector<stored_message>& messages) {
  std::set<std::string> ids;
  for (const auto& m : messages) ids.insert(m.msg_id);
  return ids.size() == messages.size();
}

}  // namespace

TEST_CASE("every journal event reaches the stream once, in order, with its subject, id and JSON",
          "[fleet][bridge][integration]") {
  bridge_env env;
  env.start_bridge();
  env.append(60);
  REQUIRE(env.acked_through(60));

  const auto stored = env.stored();
  REQUIRE(seqs_of(stored) == one_to(60));
  const auto token = fleet::escape_host_token("test-host.example");
  CHECK(token == "test-host_2Eexample");
  const auto batch = env.journal->read_since(0, 100);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const auto& e = batch.events[i];
    INFO(stored[i].subject);
    CHECK(stored[i].subject == fleet::event_subject(token, e.session_id, e.kind));
    CHECK(stored[i].msg_id == token + ":boot-a:" + std::to_string(e.seq));
    CHECK(events::parse_event_json(stored[i].body).seq == e.seq);
    CHECK(stored[i].body == events::to_json_line(e));
    const auto parsed = fleet::parse_subject(stored[i].subject);
    REQUIRE(parsed);
    CHECK(parsed->host == "test-host.example");
    CHECK(parsed->kind == e.kind);
  }
  const auto s = env.bridge->stats();
  CHECK(s.connected);
  CHECK(s.published == 60);
  CHECK(s.lag_events == 0);
  CHECK(s.duplicates == 0);
  REQUIRE(s.last_ack_age);

  // The cursor is on disk once acknowledged, and a restarted bridge goes on
  // without resending anything.
  REQUIRE(eventually([&] { return read_file(env.dir.path() / "nats-cursor") == "60\n"; }));
  env.bridge->stop();
  env.start_bridge();
  env.append(5);
  REQUIRE(env.acked_through(65));
  CHECK(seqs_of(env.stored()) == one_to(65));
  CHECK(env.bridge->stats().duplicates == 0);
}

TEST_CASE("the heartbeat carries the host's head seq on isens.v1.hb.<host>", "[fleet][bridge][integration]") {
  bridge_env env;
  env.append(7);
  auto client = fleet::nats_connection::connect(fast_nats_options(env.broker.url()));
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, client->handle(), "isens.v1.hb.>") == NATS_OK);
  env.start_bridge();
  natsMsg* msg = nullptr;
  bool seen = false;
  for (int i = 0; i < 20 && !seen; ++i) {  // each wait is bounded by the heartbeat interval
    REQUIRE(natsSubscription_NextMsg(&msg, sub, 2000) == NATS_OK);
    const std::string body(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    CHECK(std::string(natsMsg_GetSubject(msg)) == "isens.v1.hb.test-host_2Eexample");
    seen = body.find("\"head_seq\":7") != std::string::npos && body.find("\"acked_seq\":7") != std::string::npos;
    natsMsg_Destroy(msg);
  }
  natsSubscription_Destroy(sub);
  CHECK(seen);
}

TEST_CASE("broker killed -9 for 5 s during 1000 events, restarted on its store: each once",
          "[fleet][bridge][integration][slow]") {
  bridge_env env;
  env.start_bridge();
  REQUIRE(eventually([&] { return env.bridge->stats().connected; }));
  env.append(200);  // some are in flight when the broker dies
  env.broker.kill9();
  REQUIRE(eventually([&] { return !env.bridge->stats().connected; }));
  // 800 more over about five seconds, while the broker is gone.
  const auto outage_end = std::chrono::steady_clock::now() + 5s;
  for (int i = 0; i < 800; ++i) {
    env.append(1);
    std::this_thread::sleep_until(outage_end - (800 - i) * 6ms);  // the producer's pace, not a wait for a result
  }
  CHECK(env.bridge->stats().lag_events > 0);
  env.broker.restart();
  REQUIRE(env.acked_through(1000));

  const auto stored = env.stored();
  INFO(differences(seqs_of(stored), 1000) << "\n" << env.logs.text());
  CHECK(seqs_of(stored) == one_to(1000));
  CHECK(ids_unique(stored));
  // One warning for the outage, not one per event.
  CHECK(env.logs.count("lost the connection to NATS") == 1);
  CHECK(env.logs.count("reconnected after") + env.logs.count("connected to") >= 1);
}

TEST_CASE("a backlog of 12 000 events, read ahead from the journal, through a broker kill -9 midway: each once",
          "[fleet][bridge][integration]") {
  bridge_env env;
  env.append(12000);  // before the bridge starts: all of it is read back, from two segments, 4 096 at a time
  env.start_bridge();
  REQUIRE(eventually([&] { return env.bridge->stats().published >= 3000; }, 30s));
  env.broker.kill9();  // a resync midway: what was read ahead for the old position must not be published
  env.broker.restart();
  REQUIRE(env.acked_through(12000));

  const auto stored = env.stored();
  INFO(differences(seqs_of(stored), 12000) << "\n" << env.logs.text());
  CHECK(seqs_of(stored) == one_to(12000));
  CHECK(ids_unique(stored));
  CHECK(env.bridge->stats().gap_messages == 0);
}

TEST_CASE("acks missing for longer than ack_timeout on a live link: one line, a resync, each event once",
          "[fleet][bridge][integration]") {
  bridge_env env;
  auto options = test_bridge_options(env.broker.url(), env.dir.path());  // ack_timeout 1 s
  options.nats.ping_interval = 30s;  // the link stays up through the pause: only the acks are missing
  env.start_bridge(options);
  env.append(50);
  REQUIRE(env.acked_through(50));
  // The broker takes the publishes into its socket and answers nothing.
  env.broker.pause();
  env.append(150);
  const bool noticed = eventually([&] { return env.logs.count("no ack for seq") > 0; });
  env.broker.resume();  // it stores what it was sent: the resync must not publish it again
  REQUIRE(noticed);
  REQUIRE(env.acked_through(200));

  const auto stored = env.stored();
  INFO(differences(seqs_of(stored), 200) << "\n" << env.logs.text());
  CHECK(seqs_of(stored) == one_to(200));
  CHECK(ids_unique(stored));
  CHECK(env.logs.count("no ack for seq 51 within 1000 ms") == 1);
  CHECK(env.bridge->stats().publish_errors >= 1);
  CHECK(env.bridge->stats().resyncs >= 2);
}

TEST_CASE("broker restarted on a wiped store: the bridge republishes the journal and says so",
          "[fleet][bridge][integration]") {
  bridge_env env;
  env.start_bridge();
  env.append(300);
  REQUIRE(env.acked_through(300));
  env.broker.kill9();
  env.broker.restart(true);  // a new, empty broker on the same port
  env.append(700);
  REQUIRE(env.acked_through(1000));
  REQUIRE(eventually([&] { return seqs_of(env.stored()) == one_to(1000); }));
  CHECK(ids_unique(env.stored()));
  CHECK_THAT(env.logs.text(), Catch::Contains("republishing them from the journal"));
  CHECK(env.logs.count("stream ISENS_TEST created") == 2);  // at start, and again on the empty broker
}

TEST_CASE("what the journal no longer holds is published as one gap message with its count",
          "[fleet][bridge][integration]") {
  bridge_env env(100);  // the smallest journal: older whole segments go
  env.append(300);
  const auto first = env.journal->first_seq();
  REQUIRE(first > 1);
  env.start_bridge();
  REQUIRE(env.acked_through(300));
  const auto stored = env.stored();
  REQUIRE(stored.size() == 300 - first + 2);
  const auto gap = fleet::parse_gap_message(stored[0].body);
  REQUIRE(gap);
  CHECK(stored[0].subject == "isens.v1.ev.test-host_2Eexample._.gap");
  CHECK(gap->first_seq == 1);
  CHECK(gap->last_seq == first - 1);
  CHECK(gap->count() == first - 1);
  CHECK(gap->reason == "journal_rotated");
  CHECK(stored[0].seq == first - 1);
  CHECK(stored[1].seq == first);
  CHECK(stored.back().seq == 300);
  CHECK(env.bridge->stats().gap_events == first - 1);
  CHECK_THAT(env.logs.text(), Catch::Contains("publishing a gap message"));
}

TEST_CASE("a run the journal stored in part: what it refused is a gap message, never published from the hand-over",
          "[fleet][bridge][integration]") {
  bridge_env env;
  env.start_bridge();
  env.append(5);
  REQUIRE(env.acked_through(5));
  // Seqs 6 and 7 in one run, as the journal's subscriber hands them over;
  // 6 could not be serialised, so the journal holds 7 and a hole at 6.
  std::vector<events::journal_record> run;
  for (std::uint64_t seq : {6, 7}) {
    events::event e;
    e.seq = seq;
    e.boot_id = "boot-a";
    e.timestamp = std::chrono::system_clock::now();
    e.kind = events::event_kind::logon;
    e.session_id = 1;
    run.emplace_back(std::move(e));
  }
  run[0].line.clear();
  REQUIRE(env.journal->append(run) == 1);
  env.last_seq = 7;
  const std::string line_7(run[1].json());  // notify moves from the records
  env.bridge->notify(run);
  REQUIRE(env.acked_through(7));

  const auto stored = env.stored();
  REQUIRE(seqs_of(stored) == one_to(7));
  const auto gap = fleet::parse_gap_message(stored[5].body);
  REQUIRE(gap);
  CHECK(gap->first_seq == 6);
  CHECK(gap->last_seq == 6);
  CHECK(gap->reason == "journal_hole");
  CHECK(stored[6].body == line_7);  // the journal's own line
  CHECK(env.bridge->stats().gap_events == 1);
}

TEST_CASE("no broker at start: one clear line, the bridge retries and publishes once one comes up",
          "[fleet][bridge][config][integration]") {
  bridge_env env;
  const auto port = env.broker.port();
  env.broker.kill9();
  env.append(20);
  env.start_bridge();
  REQUIRE(eventually([&] { return env.logs.count("cannot connect to NATS at nats://127.0.0.1:" + std::to_string(port)) == 1; }));
  CHECK(env.logs.count("retrying every 100 ms") == 1);
  CHECK_FALSE(env.bridge->stats().connected);
  CHECK(env.bridge->stats().lag_events == 20);
  env.broker.restart();
  REQUIRE(env.acked_through(20));
  CHECK(seqs_of(env.stored()) == one_to(20));
  CHECK(env.logs.count("cannot connect to NATS") == 1);  // the retries said nothing more
}

TEST_CASE("wrong credentials: one line without the secret, and the bridge keeps retrying",
          "[fleet][bridge][config][integration]") {
  log_capture logs;
  nats_server_options server;
  server.user = "isens";
  server.password = "right-horse-battery";
  nats_server broker(server);
  temp_dir dir("fleet-auth");
  events::journal_options jo;
  jo.directory = dir.path() / "journal";
  auto journal = std::make_shared<events::event_journal>(jo);

  auto options = test_bridge_options(broker.url(), dir.path());
  options.nats.credentials.user = "isens";
  options.nats.credentials.password = "wrong-staple-secret";
  fleet::bridge wrong(options, journal);
  wrong.start();
  REQUIRE(eventually([&] { return logs.count("nats bridge:") >= 1; }));
  CHECK(eventually([&] { return wrong.stats().outages >= 1; }));
  const auto text = logs.text();
  INFO(text);
  CHECK_THAT(text, Catch::Contains("Authorization Violation", Catch::CaseSensitive::No) ||
                       Catch::Contains("authorization", Catch::CaseSensitive::No));
  CHECK(logs.count("nats bridge:") == 1);
  CHECK_THAT(text, !Catch::Contains("wrong-staple-secret") && !Catch::Contains("right-horse-battery"));
  wrong.stop();

  SECTION("the right password publishes") {
    options.nats.credentials.password = "right-horse-battery";
    fleet::bridge right(options, journal);
    right.start();
    REQUIRE(eventually([&] { return right.stats().connected; }));
  }
  SECTION("a token server refuses a missing token the same way") {
    nats_server_options token_server;
    token_server.token = "t0ken-value";
    nats_server with_token(token_server);
    auto token_options = test_bridge_options(with_token.url(), dir.path());
    token_options.nats.credentials.token = "t0ken-value";
    fleet::bridge right(token_options, journal);
    right.start();
    REQUIRE(eventually([&] { return right.stats().connected; }));
  }
}

TEST_CASE("a stream that exists with other subjects: one line naming both, and the bridge retries",
          "[fleet][bridge][config][integration]") {
  bridge_env env;
  {
    auto admin = fleet::nats_connection::connect(fast_nats_options(env.broker.url()));
    fleet::stream_options other;
    other.name = "ISENS_TEST";
    other.subjects = {"other.>"};
    REQUIRE(fleet::ensure_stream(admin->jetstream(), other) == "created");
  }
  env.append(3);
  env.start_bridge();
  REQUIRE(eventually([&] { return env.logs.count("exists with subjects [other.>]") == 1; }));
  CHECK_THAT(env.logs.text(), Catch::Contains("[nats] stream_subjects is [isens.v1.ev.>]"));
  CHECK_FALSE(env.bridge->stats().connected);
  CHECK(env.logs.count("nats bridge:") == 1);
}
