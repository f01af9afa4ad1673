// `isensctl watch --nats` as a user runs it, against a real nats-server -js
// fed by the real bridge from real journals: the local watch's lines with
// the host in front, filters by host and kind, a durable that resumes, and
// one-line errors with their exit codes.
#include "daemon_process.hpp"
#include "free_port.hpp"
#include "nats_server.hpp"
#include "stream_reader.hpp"
#include "subprocess.hpp"

#include <isens/events/event_journal.hpp>
#include <isens/events/event_json.hpp>
#include <isens/fleet/bridge.hpp>
#include <isens/fleet/fleet_consumer.hpp>

#include <catch2/catch.hpp>

#include <regex>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;
namespace ev = isens::events;
namespace fleet = isens::fleet;

run_result isensctl(std::vector<std::string> args) {
  args.insert(args.begin(), ISENSCTL_PATH);
  return run(args, run_options{20s, {}, true});
}

// A scripted session life as the initiator raises it: login, a second
// connection (MC/S), both dropped by the target, recovery, logout.
std::vector<ev::event> session_life(const std::string& boot_id, std::uint64_t first_seq, std::uint64_t session) {
  using k = ev::event_kind;
  using r = ev::event_reason;
  const std::vector<std::tuple<k, r, std::uint16_t, std::string>> script{
      {k::connection_made, r::admin_login, 0, ""},    {k::logon, r::admin_login, 0, ""},
      {k::session_ready, r::none, 0, "2 LUNs"},       {k::connection_made, r::admin_login, 1, ""},
      {k::connection_lost, r::peer_closed, 0, ""},    {k::connection_lost, r::peer_closed, 1, ""},
      {k::session_disconnect, r::peer_closed, 0, ""}, {k::connection_made, r::recovery, 0, ""},
      {k::session_reconnect, r::recovery, 0, ""},     {k::connection_lost, r::admin_logout, 0, ""},
      {k::logoff, r::admin_logout, 0, ""}};
  std::vector<ev::event> out;
  auto seq = first_seq;
  for (const auto& [kind, reason, cid, detail] : script) {
    ev::event e;
    e.seq = seq++;
    e.boot_id = boot_id;
    e.timestamp = std::chrono::system_clock::time_point(std::chrono::microseconds(1'764'000'000'000'000 + e.seq));
    e.kind = kind;
    e.reason = reason;
    e.session_id = session;
    e.connection_id = session * 10 + cid;
    e.target = "iqn.2026-11.test.isens:disk1";
    e.portal = "127.0.0.1:3260";
    e.isid = 0x400001370000 + session;
    e.tsih = 1;
    e.cid = cid;
    e.detail = detail;
    out.push_back(e);
  }
  return out;
}

// One host: its journal, and the bridge publishing it.
struct bridged_host {
  bridged_host(const std::string& host, const std::string& url, const std::vector<ev::event>& events)
      : dir("fleet-host") {
    ev::journal_options jo;
    jo.directory = dir.path() / "journal";
    journal = std::make_shared<ev::event_journal>(jo);
    for (const auto& e : events) REQUIRE(journal->append(e));
    fleet::bridge_options bo;
    bo.nats = fast_nats_options(url);
    bo.host = host;
    bo.host_token = fleet::escape_host_token(host);
    bo.boot_id = events.empty() ? "boot" : events.back().boot_id;
    bo.cursor_file = dir.path() / "cursor";
    bo.heartbeat_interval = 0ms;
    bridge = std::make_unique<fleet::bridge>(bo, journal);
    bridge->start();
    bridge->notify();
  }
  // Waits until the stream holds the whole journal.
  bool published() {
    return eventually([&] { return bridge->stats().acked_seq == journal->last_seq(); }, 20s);
  }

  temp_dir dir;
  std::shared_ptr<ev::event_journal> journal;
  std::unique_ptr<fleet::bridge> bridge;
};

std::vector<std::string> kinds_of(const std::vector<json>& lines) {
  std::vector<std::string> out;
  for (const auto& j : lines) out.push_back(j.at("kind"));
  return out;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (const auto& line : lines_of(text)) out.push_back(json::parse(line));
  return out;
}

// Two hosts with one session life each; host names that need escaping.
struct two_host_fleet {
  nats_server server;
  std::vector<ev::event> web = session_life("boot-web", 1, 3);
  std::vector<ev::event> db = session_life("boot-db", 1, 7);
  bridged_host web_host{"web-1", server.url(), web};
  bridged_host db_host{"db.eu_1", server.url(), db};

  two_host_fleet() {
    REQUIRE(web_host.published());
    REQUIRE(db_host.published());
  }
};

}  // namespace

TEST_CASE("watch --nats prints every host's events as the local watch does, in order per host",
          "[fleet][cli][integration]") {
  two_host_fleet f;
  const auto total = f.web.size() + f.db.size();
  const auto r = isensctl({"watch", "--nats", f.server.url(), "--since-seq", "0", "--count", std::to_string(total)});
  INFO(r.output << r.errors);
  REQUIRE(r.exit_code == 0);
  CHECK(r.errors.empty());
  const auto lines = lines_of(r.output);
  REQUIRE(lines.size() == total);
  // host, then the local watch's columns: seq, time, kind, reason, session, target, portal, cid, detail.
  const std::regex line_form(
      R"(^(\S+) +(\d+)  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)  (\w+) +(\w+) +session (\d+)  (\S+)  (\S+)  cid (\d+)(  .*)?$)");
  std::map<std::string, std::vector<std::uint64_t>> seqs;
  for (const auto& line : lines) {
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, line_form));
    const auto& source = m[1] == "web-1" ? f.web : f.db;
    REQUIRE((m[1] == "web-1" || m[1] == "db.eu_1"));
    const auto seq = std::stoull(m[2]);
    const auto& e = source.at(seq - source.front().seq);
    CHECK(m[3] == ev::format_timestamp(e.timestamp));
    CHECK(m[4] == std::string(ev::to_string(e.kind)));
    CHECK(m[5] == std::string(ev::to_string(e.reason)));
    CHECK(std::stoull(m[6]) == e.session_id);
    CHECK(m[7] == e.target);
    CHECK(std::stoull(m[9]) == *e.cid);
    seqs[m[1]].push_back(seq);
  }
  // Every event once, in seq order per host.
  for (const auto& [host, events] : {std::pair{std::string("web-1"), f.web}, std::pair{std::string("db.eu_1"), f.db}}) {
    std::vector<std::uint64_t> expected;
    for (const auto& e : events) expected.push_back(e.seq);
    CHECK(seqs[host] == expected);
  }
}

TEST_CASE("watch --nats --json prints each event's JSON with its host and stream sequence",
          "[fleet][cli][integration]") {
  two_host_fleet f;
  const auto r = isensctl({"watch", "--nats", f.server.url(), "--since-seq", "0", "--count",
                           std::to_string(f.web.size() + f.db.size()), "--json"});
  REQUIRE(r.exit_code == 0);
  std::uint64_t last_stream_seq = 0;
  std::size_t web = 0, db = 0;
  for (const auto& j : json_lines(r.output)) {
    CHECK(j.at("stream_seq").get<std::uint64_t>() > last_stream_seq);
    last_stream_seq = j.at("stream_seq");
    const auto e = ev::event_from_json(nlohmann::ordered_json::parse(j.dump()));
    if (j.at("host") == "web-1") CHECK(ev::to_json_line(e) == ev::to_json_line(f.web.at(web++)));
    else CHECK(ev::to_json_line(e) == ev::to_json_line(f.db.at(db++)));
  }
  CHECK(web == f.web.size());
  CHECK(db == f.db.size());

  SECTION("--since-seq N starts after stream sequence N") {
    const auto after = isensctl({"watch", "--nats", f.server.url(), "--since-seq", std::to_string(last_stream_seq - 2),
                                 "--count", "2", "--json"});
    REQUIRE(after.exit_code == 0);
    const auto lines = json_lines(after.output);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].at("stream_seq") == last_stream_seq - 1);
    CHECK(lines[1].at("stream_seq") == last_stream_seq);
  }
  SECTION("--since-time before the first event gives everything") {
    const auto all = isensctl({"watch", "--nats", f.server.url(), "--since-time", "2020-01-01T00:00:00Z", "--count",
                               std::to_string(f.web.size() + f.db.size()), "--json"});
    REQUIRE(all.exit_code == 0);
    CHECK(json_lines(all.output).size() == f.web.size() + f.db.size());
  }
}

TEST_CASE("watch --nats filters by host and by kind", "[fleet][cli][integration]") {
  two_host_fleet f;
  SECTION("one host") {
    const auto r = isensctl({"watch", "--nats", f.server.url(), "--host", "db.eu_1", "--since-seq", "0", "--count",
                             std::to_string(f.db.size()), "--json"});
    REQUIRE(r.exit_code == 0);
    const auto lines = json_lines(r.output);
    REQUIRE(lines.size() == f.db.size());
    for (const auto& j : lines) CHECK(j.at("host") == "db.eu_1");
  }
  SECTION("two kinds of every host") {
    const auto r = isensctl({"watch", "--nats", f.server.url(), "--kind", "session_disconnect", "--kind", "logoff",
                             "--since-seq", "0", "--count", "4", "--json"});
    REQUIRE(r.exit_code == 0);
    const auto lines = json_lines(r.output);
    std::map<std::string, std::vector<std::string>> by_host;
    for (const auto& j : lines) by_host[j.at("host")].push_back(j.at("kind"));
    const std::vector<std::string> expected{"session_disconnect", "logoff"};
    CHECK(by_host["web-1"] == expected);
    CHECK(by_host["db.eu_1"] == expected);
  }
  SECTION("one kind of one host") {
    const auto r = isensctl({"watch", "--nats", f.server.url(), "--host", "web-1", "--kind", "connection_made",
                             "--since-seq", "0", "--count", "3", "--json"});
    REQUIRE(r.exit_code == 0);
    const auto lines = json_lines(r.output);
    CHECK(kinds_of(lines) == std::vector<std::string>(3, "connection_made"));
    for (const auto& j : lines) CHECK(j.at("host") == "web-1");
  }
}

TEST_CASE("watch --nats prints the bridge's gap messages as the local watch prints gaps", "[fleet][cli][integration]") {
  nats_server server;
  // A journal whose first 40 seqs are gone (rotated): the bridge says so.
  const auto events = session_life("boot-old", 41, 2);
  bridged_host host("old-1", server.url(), events);
  REQUIRE(host.published());
  const auto count = std::to_string(events.size());

  auto r = isensctl({"watch", "--nats", server.url(), "--since-seq", "0", "--count", count});
  REQUIRE(r.exit_code == 0);
  CHECK(lines_of(r.output).size() == events.size());
  REQUIRE(lines_of(r.errors).size() == 1);
  CHECK_THAT(r.errors, Catch::StartsWith("isensctl: gap in the event stream: "));
  CHECK_THAT(r.errors, Catch::Contains("\"host\":\"old-1\""));
  CHECK_THAT(r.errors, Catch::Contains("\"first_seq\":1,\"last_seq\":40,\"count\":40"));

  r = isensctl({"watch", "--nats", server.url(), "--since-seq", "0", "--count", count, "--json"});
  REQUIRE(r.exit_code == 0);
  const auto lines = json_lines(r.output);
  REQUIRE(lines.size() == events.size() + 1);
  CHECK(lines.front().at("gap").at("count") == 40);  // first: in order before seq 41
  CHECK(lines.front().at("gap").at("reason") == "journal_rotated");
  CHECK(lines[1].at("seq") == 41);
}

TEST_CASE("watch --nats says so when it skips messages that are not isens events", "[fleet][cli][integration]") {
  nats_server server;
  const auto events = session_life("boot", 1, 3);
  bridged_host host("web-1", server.url(), events);
  REQUIRE(host.published());
  {
    // Someone else's publisher on an isens subject, with a body that is no event.
    auto connection = fleet::nats_connection::connect(fast_nats_options(server.url()));
    jsPubAck* ack = nullptr;
    const std::string body = "not an event";
    REQUIRE(js_Publish(&ack, connection->jetstream(), "isens.v1.ev.web-1.3.logon", body.data(),
                       static_cast<int>(body.size()), nullptr, nullptr) == NATS_OK);
    jsPubAck_Destroy(ack);
  }
  bridged_host later("web-2", server.url(), session_life("boot2", 1, 4));
  REQUIRE(later.published());
  const auto r = isensctl({"watch", "--nats", server.url(), "--since-seq", "0", "--count",
                           std::to_string(2 * events.size())});
  REQUIRE(r.exit_code == 0);
  CHECK(lines_of(r.output).size() == 2 * events.size());
  CHECK_THAT(r.errors, Catch::Contains("isensctl: skipped 1 message(s) of the stream that are not isens events"));
}

TEST_CASE("watch --nats --durable resumes where the last run stopped", "[fleet][cli][integration]") {
  two_host_fleet f;
  const auto watch = [&](const std::string& count, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"watch", "--nats", f.server.url(), "--host", "web-1", "--durable", "ops", "--count",
                                  count, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return isensctl(args);
  };
  // The first run creates the durable at the stream's start.
  auto r = watch("4", {"--since-seq", "0"});
  REQUIRE(r.exit_code == 0);
  std::vector<std::uint64_t> seen;
  for (const auto& j : json_lines(r.output)) seen.push_back(j.at("seq"));
  r = watch("4");
  REQUIRE(r.exit_code == 0);
  for (const auto& j : json_lines(r.output)) seen.push_back(j.at("seq"));
  r = watch(std::to_string(f.web.size() - 8));
  REQUIRE(r.exit_code == 0);
  for (const auto& j : json_lines(r.output)) seen.push_back(j.at("seq"));
  std::vector<std::uint64_t> expected;
  for (const auto& e : f.web) expected.push_back(e.seq);
  CHECK(seen == expected);  // each once, in order, across three runs

  SECTION("the same durable with other filters is refused in one line") {
    const auto other = isensctl({"watch", "--nats", f.server.url(), "--host", "db.eu_1", "--durable", "ops"});
    CHECK(other.exit_code == 3);
    CHECK(lines_of(other.errors).size() == 1);
    CHECK_THAT(other.errors, Catch::Contains("durable consumer ops follows isens.v1.ev.web-1.>"));
  }
  SECTION("a start position for an existing durable is refused in one line") {
    r = watch("1", {"--since-seq", "0"});
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.errors, Catch::Contains("resumes where it stopped"));
  }
}

TEST_CASE("watch --nats: bad input and unreachable brokers end in one line and an exit code",
          "[fleet][cli][integration]") {
  SECTION("nothing listens at the URL: exit 3") {
    const auto url = "nats://127.0.0.1:" + std::to_string(free_loopback_port());
    const auto r = isensctl({"watch", "--nats", url});
    INFO(r.errors);
    CHECK(r.exit_code == 3);
    CHECK(r.output.empty());
    CHECK(lines_of(r.errors).size() == 1);
    CHECK_THAT(r.errors, Catch::StartsWith("isensctl: cannot connect to NATS at " + url));
  }
  SECTION("no stream: exit 3, naming it") {
    nats_server server;
    const auto r = isensctl({"watch", "--nats", server.url()});
    CHECK(r.exit_code == 3);
    CHECK(lines_of(r.errors).size() == 1);
    CHECK_THAT(r.errors, Catch::Contains("no stream ISENS_EVENTS at " + server.url()));
    const auto other = isensctl({"watch", "--nats", server.url(), "--stream", "ELSEWHERE"});
    CHECK_THAT(other.errors, Catch::Contains("no stream ELSEWHERE"));
  }
  SECTION("bad flags: exit 2") {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"watch", "--host", "a"}, "--nats"},
        {{"watch", "--durable", "a"}, "--nats"},
        {{"watch", "--nats", "nats://127.0.0.1:1", "--since", "3"}, "--since"},
        {{"watch", "--nats", "nats://127.0.0.1:1", "--kind", "bogus"}, "unknown event kind \"bogus\""},
        {{"watch", "--nats", "nats://127.0.0.1:1", "--since-time", "yesterday"}, "--since-time"},
        {{"watch", "--nats", "nats://127.0.0.1:1", "--since-time", "2026-01-01T00:00:00Z", "--since-seq", "1"},
         "--since-seq"},
        {{"watch", "--nats", "nats://127.0.0.1:1", "--nats-password-file", "/nonexistent"}, "--nats-user"},
        {{"watch", "--nats", "nats://127.0.0.1:1", "--nats-user", "u", "--nats-password-file", "/nonexistent"},
         "/nonexistent"},
    };
    for (const auto& [args, expected] : cases) {
      const auto r = isensctl(args);
      INFO(format_command(args) << "\n" << r.errors);
      CHECK(r.exit_code == 2);
      CHECK(r.output.empty());
      CHECK(lines_of(r.errors).size() == 1);
      CHECK_THAT(r.errors, Catch::Contains(expected));
    }
  }
  SECTION("a bad durable name: exit 2, the name quoted") {
    const auto r = isensctl({"watch", "--nats", "nats://127.0.0.1:1", "--durable", "a.b"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.errors, Catch::Contains("--durable \"a.b\""));
  }
  SECTION("--help names the fleet options") {
    const auto r = isensctl({"watch", "--help"});
    CHECK(r.exit_code == 0);
    for (const char* flag : {"--nats", "--host", "--since-time", "--since-seq", "--durable", "--nats-creds-file"})
      CHECK_THAT(r.output, Catch::Contains(flag));
  }
}
