// The fleet stream's names: what consumers parse is what the bridge writes.
#include <isens/fleet/nats_connection.hpp>
#include <isens/fleet/nats_error.hpp>
#include <isens/fleet/subjects.hpp>

#include <catch2/catch.hpp>

using namespace isens;

TEST_CASE("host tokens escape every byte outside [A-Za-z0-9-], reversibly", "[fleet][subjects]") {
  CHECK(fleet::escape_host_token("web-01") == "web-01");
  CHECK(fleet::escape_host_token("db.eu-1") == "db_2Eeu-1");
  CHECK(fleet::escape_host_token("a_b") == "a_5Fb");
  CHECK(fleet::escape_host_token("x y*>") == "x_20y_2A_3E");
  for (std::string host : {"web-01", "db.eu-1", "a_b", "héllo.wörld", "_", "a.b.c.d", "*>$"}) {
    const auto token = fleet::escape_host_token(host);
    CHECK(token.find_first_of(".*> $") == std::string::npos);
    CHECK(fleet::unescape_host_token(token) == host);
    CHECK(fleet::is_host_token(token));
  }
  // Non-canonical or broken escapes are not tokens: two tokens never name one host.
  CHECK_FALSE(fleet::unescape_host_token("a_41"));  // 'A' must stay plain
  CHECK_FALSE(fleet::unescape_host_token("a_2"));
  CHECK_FALSE(fleet::unescape_host_token("a_2e"));  // upper-case hex only
  CHECK_FALSE(fleet::unescape_host_token(""));
  CHECK_FALSE(fleet::unescape_host_token("a.b"));
  CHECK(fleet::is_host_token(fleet::default_host_token()));
}

TEST_CASE("subjects and message ids have the documented layout and parse back", "[fleet][subjects]") {
  using events::event_kind;
  CHECK(fleet::event_subject("web-01", 3, event_kind::session_disconnect) == "isens.v1.ev.web-01.3.session_disconnect");
  CHECK(fleet::gap_subject("web-01") == "isens.v1.ev.web-01._.gap");
  CHECK(fleet::host_filter("web-01") == "isens.v1.ev.web-01.>");
  CHECK(fleet::heartbeat_subject("db_2Eeu-1") == "isens.v1.hb.db_2Eeu-1");
  CHECK(fleet::event_msg_id("web-01", "b00t", 42) == "web-01:b00t:42");
  CHECK(fleet::gap_msg_id("web-01", 1, 9) == "web-01:gap:1-9");

  auto e = fleet::parse_subject("isens.v1.ev.db_2Eeu-1.12.logon");
  REQUIRE(e);
  CHECK(e->host == "db.eu-1");
  CHECK(e->host_token == "db_2Eeu-1");
  CHECK(e->session_id == 12);
  CHECK(e->kind == event_kind::logon);
  CHECK_FALSE(e->is_gap);
  CHECK_FALSE(e->is_heartbeat);

  auto g = fleet::parse_subject("isens.v1.ev.web-01._.gap");
  REQUIRE(g);
  CHECK(g->is_gap);
  auto h = fleet::parse_subject("isens.v1.hb.web-01");
  REQUIRE(h);
  CHECK(h->is_heartbeat);

  for (const char* bad : {"isens.v2.ev.web-01.1.logon", "isens.v1.ev.web-01.1.no_such_kind", "isens.v1.ev.web-01.x.logon",
                          "isens.v1.ev.web-01.01.logon", "isens.v1.ev.web-01.1", "isens.v1.ev.web-01.1.logon.more",
                          "isens.v1.hb.web-01.extra", "isens.v1.ev.a_41.1.logon", "other", ""}) {
    INFO(bad);
    CHECK_FALSE(fleet::parse_subject(bad));
  }
}

TEST_CASE("gap messages round-trip and refuse what is not one", "[fleet][subjects]") {
  fleet::gap_message gap{"db.eu-1", "b00t", 5, 104, "journal_rotated"};
  const auto json = fleet::to_json_line(gap);
  CHECK(json.find("\"count\":100") != std::string::npos);
  const auto back = fleet::parse_gap_message(json);
  REQUIRE(back);
  CHECK(back->host == "db.eu-1");
  CHECK(back->first_seq == 5);
  CHECK(back->last_seq == 104);
  CHECK(back->count() == 100);
  CHECK_FALSE(fleet::parse_gap_message("{\"kind\":\"logon\",\"seq\":1}"));
  CHECK_FALSE(fleet::parse_gap_message("{\"kind\":\"gap\",\"host\":\"h\",\"first_seq\":9,\"last_seq\":1}"));
  CHECK_FALSE(fleet::parse_gap_message("not json"));
}

TEST_CASE("connection errors are one line without the URL's password", "[fleet][connection]") {
  fleet::nats_options o;
  o.urls = {"nats://isens:s3cret-pass@127.0.0.1:1"};
  o.connect_timeout = std::chrono::milliseconds(500);
  CHECK(fleet::redact_url(o.urls[0]) == "nats://***@127.0.0.1:1");
  try {
    fleet::nats_connection::connect(o);
    FAIL("connected to port 1");
  } catch (const fleet::nats_error& ex) {
    const std::string what = ex.what();
    INFO(what);
    CHECK(what.find("cannot connect to NATS at nats://***@127.0.0.1:1") == 0);
    CHECK(what.find("s3cret-pass") == std::string::npos);
    CHECK(what.find('\n') == std::string::npos);
  }
  o.urls = {"nats://127.0.0.1:1"};
  o.credentials.token = "tok";
  o.credentials.user = "u";
  CHECK_THROWS_WITH(fleet::nats_connection::connect(o),
                    "NATS credentials: use only one of user/password, token, nkey or creds file");
}
