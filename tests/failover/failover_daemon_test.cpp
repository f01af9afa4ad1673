// isensd with its default [failover] section: a registered session survives
// a target crash and restart under the same session id.
#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace isens::test;
using namespace std::chrono_literals;

namespace {

// The session's snapshot as isensd reports it.
json session_of(daemon_with_target& env, std::uint64_t id) {
  return env.client()->call("sessions", {{"session_id", id}}).at(0);
}

}  // namespace

TEST_CASE("isensd recovers a registered session after the target crashes and restarts", "[failover][daemon]") {
  daemon_with_target env;
  auto params = env.login_params();
  params["persistent"] = true;
  const auto id = env.client()->call("login_to_target", params).at("session_id").get<std::uint64_t>();
  const auto isid = session_of(env, id).at("isid");

  env.target->kill9();
  REQUIRE(eventually([&] { return session_of(env, id).at("connected") == false; }, 5s));
  std::this_thread::sleep_for(300ms);
  env.target->restart();

  CHECK(eventually([&] { return session_of(env, id).at("connected") == true; }, 15s));
  CHECK(session_of(env, id).at("isid") == isid);
  CHECK(env.target->connections(standard_tid).size() == 1);
  CHECK(env.client()->call("scsi_read_capacity", {{"session_id", id}, {"lun", 1}}).at("block_size") == 512);
}
