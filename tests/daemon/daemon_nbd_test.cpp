// isensd's NBD exports as users meet them: `isensctl exports`, the URI in
// the sessions snapshot, nbdinfo and nbdcopy on that URI, the socket's
// mode, the attach/detach events in the journal, /metrics per export, and
// the exports going away at logout.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>


using namespace isens::test;
using nlohmann::json;

namespace {

run_result tool(std::vector<std::string> argv) {
  run_options o;
  o.timeout = std::chrono::seconds(60);
  o.separate_stderr = true;
  return run(argv, o);
}

json exports_json(const daemon_with_target& env) {
  const auto r = tool({ISENSCTL_PATH, "--socket", env.daemon.socket_path().string(), "exports", "--json"});
  REQUIRE(r.exit_code == 0);
  return json::parse(r.output);
}

}  // namespace

TEST_CASE("isensd serves every disk LUN of a session as an NBD export", "[daemon][nbd]") {
  daemon_with_target env;
  const auto sid = env.login();
  const auto nbd_socket = env.daemon.socket_path().parent_path() / "nbd.sock";

  json exports;
  REQUIRE(eventually([&] { return (exports = exports_json(env)).size() == 2; }));
  const std::string name = std::string(standard_iqn) + "/1";
  CHECK(exports[0]["name"] == name);
  CHECK(exports[0]["alias"] == "session/" + std::to_string(sid) + "/1");
  CHECK(exports[0]["uri"] == "nbd+unix:///" + name + "?socket=" + nbd_socket.string());
  CHECK(exports[0]["size_bytes"] == standard_lun1_bytes);
  CHECK(exports[0]["block_size"]["minimum"] == 512);
  CHECK(exports[1]["size_bytes"] == standard_lun2_bytes);

  struct stat st {};
  REQUIRE(::stat(nbd_socket.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);

  // The sessions snapshot names each LUN's URI.
  const auto sessions = env.client()->call("sessions");
  std::string lun2_uri;
  for (const auto& d : sessions[0]["devices"])
    if (d["lun"] == 2) lun2_uri = d.value("nbd_uri", "");
  REQUIRE(lun2_uri == exports[1]["uri"]);

  const auto table = tool({ISENSCTL_PATH, "--socket", env.daemon.socket_path().string(), "exports"});
  CHECK(table.output.find("URI") != std::string::npos);
  CHECK(table.output.find(lun2_uri) != std::string::npos);

  // A client uses it: 16 MiB in and back out, unchanged.
  const auto in = write_file(env.daemon.dir(), "in.raw", random_bytes(standard_lun2_bytes, 5));
  const auto out = env.daemon.dir() / "out.raw";
  REQUIRE(tool({"nbdcopy", in.string(), lun2_uri}).exit_code == 0);
  REQUIRE(tool({"nbdcopy", lun2_uri, out.string()}).exit_code == 0);
  CHECK(tool({"cmp", in.string(), out.string()}).exit_code == 0);
  const auto info = tool({"nbdinfo", "--size", exports[0]["uri"]});
  CHECK(info.output.find(std::to_string(standard_lun1_bytes)) != std::string::npos);

  // Clients attaching and leaving are events of the session, in the journal.
  const auto watched = tool({ISENSCTL_PATH, "--socket", env.daemon.socket_path().string(), "watch", "--since", "0",
                             "--kind", "nbd_detach", "--count", "3", "--json"});
  REQUIRE(watched.exit_code == 0);
  const auto first = json::parse(watched.output.substr(0, watched.output.find('\n')));
  CHECK(first["kind"] == "nbd_detach");
  CHECK(first["session_id"] == sid);
  CHECK(first["reason"] == "peer_closed");

  // /metrics counts per export.
  const auto scrape = tool({"curl", "-s", "http://127.0.0.1:" + std::to_string(env.daemon.metrics_port()) + "/metrics"});
  CHECK(scrape.output.find("isens_nbd_bytes_total{direction=\"write\",export=\"" + std::string(standard_iqn) +
                           "/2\",session=\"" + std::to_string(sid) + "\"} 16777216") != std::string::npos);
  CHECK(scrape.output.find("isens_nbd_ops_total{") != std::string::npos);
  CHECK(scrape.output.find("isens_nbd_latency_seconds_bucket{") != std::string::npos);

  env.logout(sid);
  REQUIRE(eventually([&] { return exports_json(env).empty(); }));
  CHECK(tool({"nbdinfo", "--size", lun2_uri}).exit_code != 0);
}

TEST_CASE("[nbd] enabled = false serves no exports and opens no socket", "[daemon][nbd]") {
  temp_dir config_dir("nbdconf");
  const auto config = write_file(config_dir.path(), "isensd.toml", "[nbd]\nenabled = false\n");
  daemon_with_target env(with_args({"--config", config.string()}));
  env.login();
  CHECK_FALSE(std::filesystem::exists(env.daemon.socket_path().parent_path() / "nbd.sock"));
  const auto r = tool({ISENSCTL_PATH, "--socket", env.daemon.socket_path().string(), "exports"});
  CHECK(r.exit_code != 0);
}
