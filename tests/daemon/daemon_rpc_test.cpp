// Every control-socket method of a real isensd against a real tgtd: what a
// monitoring app or isensctl gets back for good input, and the error it gets
// for bad input (a code it can branch on, a message naming what is wrong).
#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

const std::string iqn{standard_iqn};

// The error a call ends in; fails the test when the call succeeds.
rpc_call_error error_of(rpc_test_client& client, const std::string& method, const json& params) {
  try {
    const auto result = client.call(method, params);
    FAIL("expected an error from " << method << " " << params.dump() << ", got " << result.dump());
  } catch (const rpc_call_error& e) {
    return e;
  }
  throw std::logic_error("unreachable");
}

// The device of a session snapshot with this LUN, or null.
json device(const json& session, int lun) {
  for (const auto& d : session.at("devices"))
    if (d.at("lun") == lun) return d;
  return nullptr;
}

}  // namespace

TEST_CASE("every RPC method answers good input as documented", "[daemon][rpc][integration]") {
  daemon_with_target env;
  auto c = env.client();

  const auto targets = c->call("discover", {{"portal", env.target->portal()}});
  REQUIRE(targets.is_array());
  const auto found = std::find_if(targets.begin(), targets.end(), [](const json& t) { return t.at("name") == iqn; });
  REQUIRE(found != targets.end());
  CHECK(found->at("portals").at(0).at("address") == env.target->portal());

  const auto login = c->call("login_to_target", env.login_params());
  REQUIRE(login.at("session_id").is_number_unsigned());
  const auto id = login.at("session_id").get<std::uint64_t>();
  CHECK_FALSE(login.contains("registration_id"));  // not persistent unless asked

  auto sessions = c->call("sessions");
  REQUIRE(sessions.size() == 1);
  const auto s = sessions.at(0);
  CHECK(s.at("session_id") == id);
  CHECK(s.at("target_name") == iqn);
  CHECK(s.at("target_portal") == env.target->portal());
  CHECK(s.at("connected") == true);
  CHECK(s.at("connection_count") == 1);
  CHECK(s.at("isid").get<std::string>().size() == 12);
  CHECK(s.at("tsih").get<unsigned>() != 0);  // the target assigned one
  REQUIRE(s.at("devices").is_array());
  REQUIRE(device(s, 1).is_object());
  REQUIRE(device(s, 2).is_object());
  CHECK(device(s, 1).at("capacity").at("bytes") == standard_lun1_bytes);
  CHECK(device(s, 2).at("capacity").at("bytes") == standard_lun2_bytes);
  // Filtering by id gives the same session.
  CHECK(c->call("sessions", {{"session_id", id}}).at(0).at("session_id") == id);

  SECTION("MC/S: add a connection, remove it, and the last one is refused") {
    const auto added = c->call("add_connection_to_session", {{"session_id", id}});
    const auto connection = added.at("connection_id").get<std::uint64_t>();
    CHECK(added.at("session_id") == id);
    CHECK(c->call("sessions").at(0).at("connection_count") == 2);
    CHECK(env.target->connections(standard_tid).size() == 2);

    const auto removed =
        c->call("remove_connection_from_session", {{"session_id", id}, {"connection_id", connection}});
    CHECK(removed.at("removed") == true);
    CHECK(c->call("sessions").at(0).at("connection_count") == 1);
    CHECK(eventually([&] { return env.target->connections(standard_tid).size() == 1; }));

    const auto last = c->call("sessions").at(0).at("connections").at(0).at("connection_id").get<std::uint64_t>();
    const auto refused =
        error_of(*c, "remove_connection_from_session", {{"session_id", id}, {"connection_id", last}});
    CHECK(refused.code() == -32000);
    // "log out", "log the session out", "logout_from_target": any tells the user what to do.
    CHECK_THAT(refused.what(), Catch::Matches(".*(log( the session)? out|logout).*", Catch::CaseSensitive::No));
    CHECK(c->call("sessions").at(0).at("connected") == true);  // refusing left it alone
  }

  SECTION("SCSI: inquiry, read capacity, report luns") {
    const auto inquiry = c->call("scsi_inquiry", {{"session_id", id}, {"lun", 1}});
    CHECK(inquiry.at("device_type") == "disk");
    CHECK_THAT(inquiry.at("vendor").get<std::string>(), Catch::StartsWith("IET"));
    CHECK_THAT(inquiry.at("product").get<std::string>(), Catch::StartsWith("VIRTUAL-DISK"));
    CHECK(c->call("scsi_inquiry", {{"session_id", id}, {"lun", 0}}).at("device_type") == "controller");

    const auto capacity = c->call("scsi_read_capacity", {{"session_id", id}, {"lun", 1}});
    CHECK(capacity.at("bytes") == standard_lun1_bytes);
    CHECK(capacity.at("block_size") == 512);
    CHECK(c->call("scsi_read_capacity", {{"session_id", id}, {"lun", 2}}).at("bytes") == standard_lun2_bytes);

    CHECK(c->call("scsi_report_luns", {{"session_id", id}}).at("luns") == json::array({0, 1, 2}));
  }

  SECTION("register, list, unregister (which does not log out)") {
    const auto registered = c->call("register_session", {{"session_id", id}});
    const auto registration = registered.at("registration_id").get<std::string>();
    CHECK(registration == iqn + "@" + env.target->portal());
    const auto list = c->call("registered_sessions");
    REQUIRE(list.size() == 1);
    CHECK(list.at(0).at("registration_id") == registration);
    CHECK(list.at(0).at("target") == iqn);
    CHECK(list.at(0).at("auth_type") == "None");

    CHECK(c->call("unregister_session", {{"registration_id", registration}}).at("unregistered") == true);
    CHECK(c->call("registered_sessions").empty());
    CHECK(c->call("sessions").at(0).at("connected") == true);
  }

  const auto out = c->call("logout_from_target", {{"session_id", id}});
  CHECK(out.at("logged_out") == true);
  CHECK(c->call("sessions").empty());
  CHECK(eventually([&] { return env.target->connections(standard_tid).empty(); }));
}

TEST_CASE("every RPC method refuses missing or mistyped params with -32602 naming the param", "[daemon][rpc]") {
  daemon_process daemon;
  rpc_test_client c(daemon.socket_path());
  const std::string portal = "127.0.0.1:9";  // never reached: params are checked first

  struct bad_call {
    std::string method;
    json params;
    std::string names;  // what the message must name
  };
  const std::vector<bad_call> calls{
      {"discover", json::object(), "portal"},
      {"discover", {{"portal", 5}}, "portal"},
      {"login_to_target", {{"target", iqn}}, "portal"},
      {"login_to_target", {{"portal", portal}}, "target"},
      {"login_to_target", {{"portal", portal}, {"target", 7}}, "target"},
      {"login_to_target", {{"portal", portal}, {"target", iqn}, {"chap_user", "u"}}, "chap_secret"},
      {"login_to_target", {{"portal", portal}, {"target", iqn}, {"persistent", "yes"}}, "persistent"},
      {"login_to_target", {{"portal", portal}, {"target", iqn}, {"max_connections", -1}}, "max_connections"},
      {"login_to_target", {{"portal", portal}, {"target", iqn}, {"header_digest", "md5"}}, "header_digest"},
      {"logout_from_target", json::object(), "session_id"},
      {"logout_from_target", {{"session_id", "1"}}, "session_id"},
      {"logout_from_target", {{"session_id", -1}}, "session_id"},
      {"add_connection_to_session", json::object(), "session_id"},
      {"add_connection_to_session", {{"session_id", 1}, {"portal", 3}}, "portal"},
      {"remove_connection_from_session", {{"session_id", 1}}, "connection_id"},
      {"remove_connection_from_session", {{"connection_id", 1}}, "session_id"},
      {"register_session", json::object(), "session_id"},
      {"register_session", {{"session_id", 1.5}}, "session_id"},
      {"unregister_session", json::object(), "registration_id"},
      {"unregister_session", {{"registration_id", 1}}, "registration_id"},
      {"sessions", {{"session_id", "x"}}, "session_id"},
      {"scsi_inquiry", {{"session_id", 1}}, "lun"},
      {"scsi_inquiry", {{"lun", 0}}, "session_id"},
      {"scsi_read_capacity", {{"session_id", 1}, {"lun", "0"}}, "lun"},
      {"scsi_report_luns", json::object(), "session_id"},
      {"subscribe", {{"kinds", "logon"}}, "kinds"},
      {"subscribe", {{"kinds", json::array({"no_such_kind"})}}, "no_such_kind"},
      {"subscribe", {{"since", "0"}}, "since"},
  };
  for (const auto& bad : calls) {
    const auto answer = c.request(bad.method, bad.params);
    INFO(bad.method << " " << bad.params.dump() << " -> " << answer.dump());
    CHECK(answer.value("/error/code"_json_pointer, 0) == -32602);
    CHECK_THAT(answer.value("/error/message"_json_pointer, std::string()), Catch::Contains(bad.names));
  }
}

TEST_CASE("params that are not an object get -32602 with the request's id", "[daemon][rpc]") {
  daemon_process daemon;
  rpc_test_client c(daemon.socket_path());
  // The id was readable, so JSON-RPC 2.0 requires it in the answer: a client
  // matching answers to requests by id (isensctl does) would otherwise wait
  // for an answer that never comes.
  REQUIRE(c.send_raw(R"({"jsonrpc":"2.0","id":99,"method":"registered_sessions","params":[1]})" "\n"));
  const auto answer = c.read_json();
  INFO(answer.dump());
  CHECK(answer.value("/error/code"_json_pointer, 0) == -32602);
  CHECK_THAT(answer.value("/error/message"_json_pointer, std::string()), Catch::Contains("params"));
  CHECK(answer["id"] == 99);
}

TEST_CASE("methods on an unknown session or registration fail with a message naming it", "[daemon][rpc]") {
  daemon_process daemon;
  rpc_test_client c(daemon.socket_path());
  const json unknown{{"session_id", 9999}};
  for (const auto& [method, params] : std::vector<std::pair<std::string, json>>{
           {"logout_from_target", unknown},
           {"add_connection_to_session", unknown},
           {"remove_connection_from_session", {{"session_id", 9999}, {"connection_id", 1}}},
           {"register_session", unknown},
           {"sessions", unknown},
           {"scsi_inquiry", {{"session_id", 9999}, {"lun", 0}}},
           {"scsi_read_capacity", {{"session_id", 9999}, {"lun", 0}}},
           {"scsi_report_luns", unknown},
       }) {
    INFO(method);
    const auto e = error_of(c, method, params);
    CHECK((e.code() == -32000 || e.code() == -32002));
    CHECK_THAT(e.what(), Catch::Contains("9999"));
  }
  const auto e = error_of(c, "unregister_session", {{"registration_id", "iqn.x@127.0.0.1:1"}});
  CHECK(e.code() == -32002);
  CHECK_THAT(e.what(), Catch::Contains("iqn.x@127.0.0.1:1"));
}

TEST_CASE("a wrong CHAP secret fails with a clear -32000 that does not repeat the secret",
          "[daemon][rpc][integration]") {
  daemon_with_target env;
  env.target->add_account("isens-user", "right-secret-0042");
  env.target->bind_account(standard_tid, "isens-user");
  auto c = env.client();
  auto params = env.login_params();
  params["chap_user"] = "isens-user";
  params["chap_secret"] = "wrong-secret-9876";
  const auto e = error_of(*c, "login_to_target", params);
  CHECK(e.code() == -32000);
  CHECK_THAT(e.what(), Catch::Contains("auth", Catch::CaseSensitive::No));
  CHECK_THAT(e.error().dump(), !Catch::Contains("wrong-secret-9876"));
  CHECK(c->call("sessions").empty());  // no half-made session stays behind

  // The right one works, so the failure above was about the secret.
  params["chap_secret"] = "right-secret-0042";
  CHECK(c->call("login_to_target", params).contains("session_id"));
}
