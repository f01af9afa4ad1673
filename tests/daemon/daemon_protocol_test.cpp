// The control socket under abuse: whatever a client sends, it gets a
// JSON-RPC error it can read (or, for a line too long to hold, an error and
// a closed connection), and the daemon goes on serving everyone else.
#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace isens::test;

// The daemon still answers a fresh client: the abuse hurt no one else.
void check_still_serving(const daemon_process& daemon) {
  rpc_test_client other(daemon.socket_path());
  CHECK(other.call("sessions").is_array());
}

json error_of(const json& answer) {
  INFO(answer.dump());
  REQUIRE(answer.contains("error"));
  return answer["error"];
}

}  // namespace

TEST_CASE("an unknown method is -32601 naming it", "[daemon][protocol]") {
  daemon_process daemon;
  rpc_test_client c(daemon.socket_path());
  const auto answer = c.request("no_such_method");
  CHECK(answer["id"] == 1);
  CHECK(error_of(answer)["code"] == -32601);
  CHECK_THAT(error_of(answer)["message"].get<std::string>(), Catch::Contains("no_such_method"));
}

TEST_CASE("malformed requests get -32700 or -32600 and the connection stays usable", "[daemon][protocol]") {
  daemon_process daemon;
  rpc_test_client c(daemon.socket_path());

  struct bad_line {
    std::string line;
    int code;
  };
  for (const auto& [line, code] : std::vector<bad_line>{
           {R"({"jsonrpc":"2.0","id":1,"method":"sessions")", -32700},  // unterminated
           {"not json at all", -32700},
           {R"([1,2,3])", -32600},                                       // not an object
           {R"("sessions")", -32600},
           {R"({"id":2,"method":"sessions"})", -32600},                  // no "jsonrpc"
           {R"({"jsonrpc":"1.0","id":3,"method":"sessions"})", -32600},  // wrong version
           {R"({"jsonrpc":"2.0","id":4})", -32600},                      // no method
           {R"({"jsonrpc":"2.0","id":5,"method":42})", -32600},
           {R"({"jsonrpc":"2.0","id":{"x":1},"method":"sessions"})", -32600},
       }) {
    INFO(line);
    REQUIRE(c.send_raw(line + "\n"));
    const auto answer = c.read_json();
    CHECK(answer["jsonrpc"] == "2.0");
    CHECK(answer.contains("id"));  // null when it could not be read: still present, per JSON-RPC
    CHECK(error_of(answer)["code"] == code);
    // and the same connection still works
    CHECK(c.call("sessions").is_array());
  }
}

TEST_CASE("a line longer than 1 MiB gets an error, then the connection closes, and others are served",
          "[daemon][protocol]") {
  daemon_process daemon;
  rpc_test_client watcher(daemon.socket_path());  // connected before, must survive
  rpc_test_client c(daemon.socket_path());
  const std::string huge = R"({"jsonrpc":"2.0","id":1,"method":"sessions","params":{"pad":")" +
                           std::string((1 << 20) + 4096, 'x') + "\"}}\n";
  (void)c.send_raw(huge);  // may fail part-way: the daemon stops reading at 1 MiB and closes

  const auto line = c.read_line();
  REQUIRE(line.has_value());
  const auto answer = json::parse(*line);
  CHECK(error_of(answer)["code"] == -32600);
  CHECK_THAT(error_of(answer)["message"].get<std::string>(), Catch::Contains("longer than"));
  CHECK_FALSE(c.read_line().has_value());  // closed

  CHECK(watcher.call("sessions").is_array());
  check_still_serving(daemon);
}

TEST_CASE("a line just under the limit is served", "[daemon][protocol]") {
  daemon_process daemon;
  rpc_test_client c(daemon.socket_path());
  // Well under 1 MiB but far above any buffer a naive reader would use.
  const std::string big = R"({"jsonrpc":"2.0","id":7,"method":"sessions","params":{"pad":")" +
                          std::string(900 * 1024, 'y') + "\"}}\n";
  REQUIRE(c.send_raw(big));
  const auto answer = c.read_json();
  CHECK(answer["id"] == 7);
  CHECK(answer["result"].is_array());
}

TEST_CASE("clients disconnecting mid-request do not hurt the daemon", "[daemon][protocol][integration]") {
  daemon_with_target env;

  SECTION("half a line, then gone") {
    for (int i = 0; i < 20; ++i) {
      rpc_test_client c(env.daemon.socket_path());
      REQUIRE(c.send_raw(R"({"jsonrpc":"2.0","id":1,"meth)"));
    }
  }
  SECTION("a whole login request, gone before the answer") {
    {
      rpc_test_client c(env.daemon.socket_path());
      const json request{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "login_to_target"}, {"params", env.login_params()}};
      REQUIRE(c.send_raw(request.dump() + "\n"));
    }
    // The login still completes (it was asked for); the answer just has no reader.
    auto c = env.client();
    CHECK(eventually([&] { return c->call("sessions").size() == 1; }));
  }
  SECTION("a subscriber that vanishes while events stream") {
    {
      auto sub = subscribed_client(env.daemon.socket_path());
      env.client()->call("login_to_target", env.login_params());
    }
    auto c = env.client();
    const auto id = c->call("sessions").at(0).at("session_id");
    CHECK(c->call("logout_from_target", {{"session_id", id}}).at("logged_out") == true);
  }
  CHECK(env.daemon.running());
  check_still_serving(env.daemon);
}

TEST_CASE("a notification (no id) gets no answer, but the next request does", "[daemon][protocol]") {
  daemon_process daemon;
  rpc_test_client c(daemon.socket_path());
  REQUIRE(c.send_raw(R"({"jsonrpc":"2.0","method":"sessions"})" "\n"));
  const auto answer = c.request("registered_sessions");
  CHECK(answer["id"] == 1);  // the first line read back is this answer, not one for the notification
  CHECK(answer["result"].is_array());
}
