// Text continued over several PDUs (the C bit, RFC 7143 §6.2): Login
// Responses (§11.13) and SendTargets Text Responses (§11.11). tgtd never
// splits its text, so a scripted target does, cutting mid-pair: the
// initiator must join the parts before parsing, and give up on a target
// that never ends.
#include "initiator_harness.hpp"
#include "protocol/text_keys.hpp"
#include "scripted_target.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <string>

using namespace isens;
namespace proto = initiator::protocol;
namespace asio = boost::asio;

namespace {

initiator::discovery_options discovery_at(const test::scripted_target& target) {
  initiator::discovery_options o;
  o.discovery_portal = {"127.0.0.1", target.port()};
  return o;
}

// Long enough that a target that never ends is found by the bounds, not the
// timeout; short enough that a missing bound fails the test instead of hanging it.
initiator::initiator_options with_short_login_timeout() {
  auto options = test::initiator_harness::quick_options();
  options.login_timeout = std::chrono::milliseconds(5000);
  return options;
}

// Part sizes for the two bounds of a text that never ends, and what the error then says.
struct endless_text {
  std::size_t part_size;
  std::string says;
};

// Small parts run into max_text_continuations; parts as large as a Login
// PDU may be run into max_continued_text_bytes first.
endless_text endless_text_section(const std::string& what) {
  endless_text bound{};
  SECTION("small parts: bounded in PDUs") {
    bound = {64, what + " never ended: still continued after " + std::to_string(proto::max_text_continuations)};
  }
  SECTION("64 KiB parts: bounded in bytes") {
    bound = {65536, what + " is longer than " + std::to_string(proto::max_continued_text_bytes) + " bytes"};
  }
  return bound;
}

}  // namespace

TEST_CASE("a login response continued over three PDUs, cut mid-pair, is parsed whole", "[initiator][scripted]") {
  std::atomic<bool> answered{false};
  test::scripted_target target([&](test::scripted_connection& c) -> asio::awaitable<void> {
    // Values no echo of our offer gives: seen only if the split text was parsed.
    proto::key_values stated{{"MaxConnections", "3"}, {"DefaultTime2Wait", "7"}};
    co_await c.accept_login_in_parts(3, std::move(stated), 0x5151);
    answered = true;  // every follow-up request was empty with T=0
    co_await c.serve_until_logout();
  });
  test::initiator_harness h;
  auto id = h.run(h.initiator().login_to_target(test::login_options_for(target)));
  REQUIRE(id);
  const auto snapshot = h.initiator().session(*id);
  REQUIRE(snapshot.has_value());
  CHECK(snapshot->max_connections == 3);    // we offered 8; the result is the minimum
  CHECK(snapshot->default_time2wait == 7);  // we offered 2; the result is the maximum
  CHECK(snapshot->tsih == 0x5151);          // only the last part carries it
  CHECK(h.run(h.initiator().logout_from_target(*id)));
  CHECK(answered);  // read after the logout: the script sets it before it serves one
}

TEST_CASE("a SendTargets answer continued over three PDUs, cut mid-pair, lists every target and portal",
          "[initiator][scripted]") {
  const proto::key_values answer{
      {"TargetName", "iqn.2026-11.test.isens:alpha"},  {"TargetAddress", "192.0.2.1:3260,1"},
      {"TargetAddress", "198.51.100.1:3261,2"},         {"TargetName", "iqn.2026-11.test.isens:beta"},
      {"TargetAddress", "192.0.2.2:3262,3"},            {"TargetName", "iqn.2026-11.test.isens:gamma"},
      {"TargetAddress", "192.0.2.3:3263,4"},            {"TargetAddress", "198.51.100.3:3264,5"},
  };
  std::atomic<bool> answered{false};
  test::scripted_target target([&](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    co_await c.answer_send_targets_in_parts(answer, 3);
    answered = true;  // every follow-up request was empty and echoed the TTT
    co_await c.serve_until_logout();
  });
  test::initiator_harness h;
  auto targets = h.run(h.initiator().discover(discovery_at(target)));
  REQUIRE(targets.has_value());
  CHECK(answered);  // discovery waited for the logout answer, which the script sends after setting it

  // The answer read back as key=value pairs, in order, must be the one sent.
  proto::key_values found;
  for (const auto& t : *targets) {
    found.emplace_back("TargetName", t.name);
    for (const auto& p : t.portals)
      found.emplace_back("TargetAddress", p.address.to_string() + "," + std::to_string(p.portal_group_tag));
  }
  CHECK(found == answer);
}

TEST_CASE("a login response that never ends fails the login with a clear error", "[initiator][scripted]") {
  const auto bound = endless_text_section("the login response text");
  test::scripted_target target([&](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.continue_login_forever(bound.part_size);
  });
  test::initiator_harness h(with_short_login_timeout());
  auto id = h.run(h.initiator().login_to_target(test::login_options_for(target)));
  REQUIRE_FALSE(id);
  CHECK(id.error().code == make_error_code(initiator::errc::unexpected_pdu));
  CHECK_THAT(id.error().what(), Catch::Matchers::Contains(bound.says));
  CHECK(h.initiator().sessions().empty());
}

TEST_CASE("a SendTargets answer that never ends fails discovery with a clear error", "[initiator][scripted]") {
  const auto bound = endless_text_section("the SendTargets answer");
  test::scripted_target target([&](test::scripted_connection& c) -> asio::awaitable<void> {
    co_await c.accept_login();
    co_await c.continue_send_targets_forever(bound.part_size);
  });
  test::initiator_harness h(with_short_login_timeout());
  auto targets = h.run(h.initiator().discover(discovery_at(target)));
  REQUIRE_FALSE(targets.has_value());
  CHECK(targets.error().code == make_error_code(initiator::errc::unexpected_pdu));
  CHECK_THAT(targets.error().what(), Catch::Matchers::Contains(bound.says));
}
