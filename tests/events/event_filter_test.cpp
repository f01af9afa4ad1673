#include "isens/events/event_filter.hpp"

#include <catch2/catch.hpp>

using namespace isens::events;

TEST_CASE("the default filter matches every event", "[events][filter]") {
  const event_filter all;
  for (std::size_t i = 0; i < event_kind_count; ++i) {
    event e;
    e.kind = static_cast<event_kind>(i);
    CHECK(all.matches(e));
  }
}

TEST_CASE("filters select by kind, target and session", "[events][filter]") {
  event e;
  e.kind = event_kind::session_disconnect;
  e.target = "iqn.a";
  e.session_id = 9;

  CHECK(event_filter::only({event_kind::session_disconnect, event_kind::logoff}).matches(e));
  CHECK_FALSE(event_filter::only({event_kind::logon}).matches(e));

  event_filter by_target;
  by_target.target = "iqn.a";
  CHECK(by_target.matches(e));
  by_target.target = "iqn.b";
  CHECK_FALSE(by_target.matches(e));

  event_filter by_session;
  by_session.session_id = 9;
  CHECK(by_session.matches(e));
  by_session.session_id = 10;
  CHECK_FALSE(by_session.matches(e));
}
