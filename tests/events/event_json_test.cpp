#include "isens/events/event_json.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <vector>

using namespace isens::events;

namespace {

event full_event() {
  event e;
  e.seq = 42;
  e.boot_id = "0b5c1f1e-8d0a-4b7e-9a55-3c7f0d6b2a11";
  e.timestamp = parse_timestamp("2026-11-21T23:45:01.123456Z");
  e.kind = event_kind::session_disconnect;
  e.reason = event_reason::nop_timeout;
  e.session_id = 3;
  e.connection_id = 5;
  e.target = "iqn.2026-11.test.isens:disk1";
  e.portal = "127.0.0.1:3260";
  e.isid = 0x400001370000ULL;
  e.tsih = 7;
  e.cid = 1;
  e.attempt = 2;
  e.detail = "no NOP-In within 5000 ms";
  return e;
}

}  // namespace

TEST_CASE("every kind and reason has a wire name that parses back", "[events][json]") {
  for (std::size_t i = 0; i < event_kind_count; ++i) {
    const auto kind = static_cast<event_kind>(i);
    CHECK(parse_event_kind(to_string(kind)) == kind);
  }
  for (std::size_t i = 0; i < event_reason_count; ++i) {
    const auto reason = static_cast<event_reason>(i);
    CHECK(parse_event_reason(to_string(reason)) == reason);
  }
  CHECK(to_string(event_kind::session_disconnect) == "session_disconnect");
  CHECK_FALSE(parse_event_kind("SessionDisconnect"));
}

TEST_CASE("an event survives a JSON round trip field for field", "[events][json]") {
  const auto e = full_event();
  const auto line = to_json_line(e);
  CHECK(line.find('\n') == std::string::npos);

  const auto back = parse_event_json(line);
  CHECK(back.seq == e.seq);
  CHECK(back.boot_id == e.boot_id);
  CHECK(back.timestamp == e.timestamp);
  CHECK(back.kind == e.kind);
  CHECK(back.reason == e.reason);
  CHECK(back.session_id == e.session_id);
  CHECK(back.connection_id == e.connection_id);
  CHECK(back.target == e.target);
  CHECK(back.portal == e.portal);
  CHECK(back.isid == e.isid);
  CHECK(back.tsih == e.tsih);
  CHECK(back.cid == e.cid);
  CHECK(back.attempt == e.attempt);
  CHECK(back.detail == e.detail);
}

TEST_CASE("the JSON form is stable: names, schema version, formats", "[events][json]") {
  const auto j = to_json(full_event());
  CHECK(j.at("schema") == 1);
  CHECK(j.at("kind") == "session_disconnect");
  CHECK(j.at("reason") == "nop_timeout");
  CHECK(j.at("isid") == "400001370000");
  CHECK(j.at("time") == "2026-11-21T23:45:01.123456Z");

  event minimal;
  minimal.kind = event_kind::logon;
  const auto m = to_json(minimal);
  CHECK_FALSE(m.contains("connection_id"));
  CHECK_FALSE(m.contains("isid"));
  CHECK_FALSE(m.contains("detail"));
}

TEST_CASE("unknown members are ignored for forward compatibility", "[events][json]") {
  auto j = to_json(full_event());
  j["added_in_a_later_version"] = {1, 2, 3};
  CHECK(event_from_json(j).seq == 42);
}

TEST_CASE("malformed JSON events are clear errors, never crashes", "[events][json]") {
  const auto good = to_json(full_event());
  auto with = [&](const char* key, nlohmann::ordered_json value) {
    auto j = good;
    j[key] = std::move(value);
    return j.dump();
  };
  auto without = [&](const char* key) {
    auto j = good;
    j.erase(key);
    return j.dump();
  };

  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(parse_event_json("{not json"), Contains("not JSON"));
  CHECK_THROWS_WITH(parse_event_json("[1,2]"), Contains("expected a JSON object"));
  CHECK_THROWS_WITH(parse_event_json(""), Contains("not JSON"));
  CHECK_THROWS_WITH(parse_event_json(without("kind")), Contains("missing member \"kind\""));
  CHECK_THROWS_WITH(parse_event_json(with("kind", "exploded")), Contains("unknown kind \"exploded\""));
  CHECK_THROWS_WITH(parse_event_json(with("reason", 7)), Contains("\"reason\" must be a string"));
  CHECK_THROWS_WITH(parse_event_json(with("seq", -1)), Contains("\"seq\" must be a non-negative integer"));
  CHECK_THROWS_WITH(parse_event_json(with("tsih", 70000)), Contains("\"tsih\" is out of range"));
  CHECK_THROWS_WITH(parse_event_json(with("isid", "40000137")), Contains("12 hex digits"));
  CHECK_THROWS_WITH(parse_event_json(with("isid", "40000137zzzz")), Contains("12 hex digits"));
  CHECK_THROWS_WITH(parse_event_json(with("time", "yesterday")), Contains("\"time\""));
  // Out of a time_point's range (it counts nanoseconds), or signed: refused, never overflowed.
  CHECK_THROWS_WITH(parse_event_json(with("time", "0026-11-21T23:45:01.123456Z")), Contains("1970 to 2199"));
  CHECK_THROWS_WITH(parse_event_json(with("time", "9999-11-21T23:45:01.123456Z")), Contains("1970 to 2199"));
  CHECK_THROWS_WITH(parse_event_json(with("time", "-026-11-21T23:45:01.123456Z")), Contains("\"time\""));
  CHECK_THROWS_WITH(parse_event_json(with("time", "2026-11-21T23:45: 1.123456Z")), Contains("\"time\""));
  CHECK_THROWS_WITH(parse_event_json(with("schema", 99)), Contains("unsupported schema version 99"));
  CHECK_THROWS_AS(parse_event_json(with("session_id", "3")), event_format_error);
}

TEST_CASE("to_json_line is exactly the JSON tree's dump, plain strings or not", "[events][json]") {
  // Every member set, the numbers at their limits.
  event full = full_event();
  full.seq = 18446744073709551615ULL;
  full.connection_id = 0;
  full.portal = "[::1]:3260";
  full.tsih = 65535;
  full.cid = 0;
  full.attempt = 4294967295U;
  full.detail = "connection reset by peer ~";
  event bare;  // every optional member left out
  bare.seq = 1;
  std::vector<event> cases{full, bare};
  // Strings that must be escaped or are not ASCII take the tree's path.
  for (const char* text : {"say \"hi\"", "back\\slash", "tab\there", "line\nbreak", "\x01", "caf\xc3\xa9", "\x7f"}) {
    event e = full;
    e.detail = text;
    cases.push_back(e);
    e.detail.clear();
    e.target = text;
    cases.push_back(e);
  }
  for (const auto& e : cases) {
    INFO(to_json(e).dump());
    CHECK(to_json_line(e) == to_json(e).dump());
    CHECK(parse_event_json(to_json_line(e)).detail == e.detail);
  }
}

TEST_CASE("the journal's compact form reads back as the JSON tree reads it, and every other text as before",
          "[events][json]") {
  // parse_event_json reads to_json_line's own form without building a
  // tree; whatever that shortcut accepts must give the tree's answer, and
  // whatever the tree refuses must stay refused.
  const auto same_answer = [](const std::string& text) {
    std::string fast, tree;
    try {
      fast = to_json(parse_event_json(text)).dump();
    } catch (const event_format_error& ex) {
      fast = std::string("error: ") + ex.what();
    }
    try {
      tree = to_json(event_from_json(nlohmann::ordered_json::parse(text))).dump();
    } catch (const std::exception&) {
      tree = "error";
    }
    INFO(text);
    if (tree == "error") {
      CHECK(fast.starts_with("error: "));
    } else {
      CHECK(fast == tree);
    }
  };
  event full = full_event();
  full.seq = 18446744073709551615ULL;
  full.attempt = 4294967295U;
  event bare;
  bare.seq = 1;
  bare.boot_id = "b";
  event some = full_event();
  some.connection_id.reset();
  some.isid.reset();
  some.cid.reset();
  some.detail.clear();
  for (const auto& e : {full, bare, some}) {
    const auto line = to_json_line(e);
    CHECK(to_json(parse_event_json(line)).dump() == to_json(e).dump());
    // Every byte changed to a few that matter to a parser, and every prefix.
    for (std::size_t i = 0; i < line.size(); ++i) {
      for (const char c : {'0', '7', '"', '\\', '}', ',', ' ', '-', 'x'}) {
        auto changed = line;
        changed[i] = c;
        same_answer(changed);
      }
      same_answer(line.substr(0, i));
    }
  }
  // Valid JSON in other shapes than the compact form.
  same_answer(R"({"seq":5,"schema":1,"boot_id":"b","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1})");
  same_answer(R"({"schema":1, "seq":5,"boot_id":"b","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1})");
  same_answer(R"({"schema":1,"seq":05,"boot_id":"b","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1})");
  same_answer(R"({"schema":1,"seq":5,"boot_id":"b\u0041","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1})");
  same_answer(R"({"schema":1,"seq":5,"boot_id":"b","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1,"tsih":70000})");
  same_answer(R"({"schema":1,"seq":5,"boot_id":"b","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1,"cid":null})");
  same_answer(R"({"schema":1,"seq":5,"boot_id":"b","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1,"later":2})");
  same_answer(R"({"schema":1,"seq":5,"boot_id":"b","time":"2026-11-21T23:45:01.123456Z","kind":"logon","reason":"none","session_id":1}x)");
}
