// A target restart under many sessions: the per-target cap keeps logins from
// storming the target, and every session comes back.
#include "failover_limiter.hpp"
#include "failover_rig.hpp"

#include <catch2/catch.hpp>

using namespace isens;
using events::event_kind;
using namespace std::chrono_literals;

TEST_CASE("100 sessions recover after a target restart without a login storm", "[failover][tgtd][storm]") {
  constexpr std::size_t sessions = 100;
  auto target = test::make_standard_target();
  auto policy = test::quick_policy();
  policy.max_concurrent_per_target = 16;
  policy.give_up_after = 60s;
  test::failover_rig rig(policy);
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < sessions; ++i) ids.push_back(rig.login(test::quick_login(*target)));
  REQUIRE(target->connections(test::standard_tid).size() == sessions);

  subscribers::detail::reset_peak_logins_in_flight();
  target->kill9();
  REQUIRE(rig.wait_for(event_kind::session_disconnect, sessions));
  std::this_thread::sleep_for(300ms);
  target->restart();
  REQUIRE(rig.wait_for(event_kind::session_reconnect, sessions, 60s));
  REQUIRE(rig.settle());

  for (const auto id : ids) CHECK(rig.initiator().session(id)->connected);
  CHECK(target->connections(test::standard_tid).size() == sessions);
  const auto peak = subscribers::detail::peak_logins_in_flight();
  CHECK(peak > 1);  // recoveries did overlap, so the cap was exercised
  CHECK(peak <= policy.max_concurrent_per_target);
  for (const auto& e : rig.recorder().events()) {
    if (e.kind != event_kind::session_disconnect || !e.attempt) continue;
    INFO("attempt " << *e.attempt << " of session " << e.session_id << ": " << e.detail);
    CHECK(e.detail.find("out of resources") == std::string::npos);
    CHECK(e.detail.find("service is unavailable") == std::string::npos);
    CHECK(e.detail.find("too many connections") == std::string::npos);
  }
}
