// What isensd promises about secrets and rights: a CHAP secret is kept only
// where it must be (the registration file, mode 0600) and shows up in no
// log, listing, journal or event; a client that is not root (nor the
// socket's group) may read but not change state.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

const std::string secret = "s3cr3t-value-1234";
const std::string wrong_secret = "s3cr3t-wrong-5678";

unsigned mode_of(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Answers a client running as nobody got, one JSON line per request.
struct nobody_answers {
  int exit_code = -1;
  std::string output;
};

// Forks a child that drops to nobody (no supplementary groups, as `sudo -u
// nobody` would leave it) and sends each request on one connection; the
// answers come back through a pipe. Only the child changes its identity.
nobody_answers ask_as_nobody(const std::filesystem::path& socket, const std::vector<json>& requests) {
  REQUIRE(::geteuid() == 0);  // only root can become nobody; the suite runs as root (scripts/test)
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    int code = 0;
    std::string out;
    try {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
      rpc_test_client c(socket);
      for (const auto& r : requests) out += c.request(r.at("method").get<std::string>(), r.at("params")).dump() + "\n";
    } catch (const std::exception& ex) {
      out += std::string("exception: ") + ex.what() + "\n";
      code = 11;
    }
    [[maybe_unused]] auto n = ::write(pipe_fds[1], out.data(), out.size());
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  nobody_answers answers;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) answers.output.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  answers.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return answers;
}

}  // namespace

TEST_CASE("a CHAP secret appears in no log, listing, journal or event", "[daemon][security][integration]") {
  // debug logging: a secret must not leak even when an operator turns it up.
  daemon_with_target env(with_args({"--log-level", "debug"}));
  env.target->add_account("isens-user", secret);
  env.target->bind_account(standard_tid, "isens-user");
  auto sub = subscribed_client(env.daemon.socket_path());
  auto c = env.client();

  auto params = env.login_params();
  params["chap_user"] = "isens-user";
  params["chap_secret"] = wrong_secret;
  CHECK(c->request("login_to_target", params).contains("error"));
  params["chap_secret"] = secret;
  params["persistent"] = true;
  const auto login = c->call("login_to_target", params);
  const auto id = login.at("session_id");

  std::string streamed;
  for (json e = json::object(); e.value("kind", std::string()) != "session_ready";) {
    e = sub->next_event();
    streamed += e.dump() + "\n";
  }
  CHECK_THAT(streamed, !Catch::Contains(secret));

  const auto sessions = c->call("sessions").dump();
  CHECK_THAT(sessions, Catch::Contains("CHAP"));  // it did log in with CHAP
  CHECK_THAT(sessions, !Catch::Contains(secret));
  CHECK_THAT(c->call("registered_sessions").dump(), !Catch::Contains(secret));
  const auto cli = run({ISENSCTL_PATH, "--socket", env.daemon.socket_path().string(), "sessions", "--json"});
  CHECK(cli.exit_code == 0);
  CHECK_THAT(cli.output, !Catch::Contains(secret));

  // The registration file holds the secret by design (to log in again at
  // start): readable by root alone, in a directory only root may enter.
  const auto registrations = env.daemon.state_dir() / "registered_sessions.json";
  CHECK_THAT(read_file(registrations), Catch::Contains(secret));
  CHECK(mode_of(registrations) == 0600);
  CHECK(mode_of(env.daemon.state_dir()) == 0700);

  c->call("logout_from_target", {{"session_id", id}});
  REQUIRE(env.daemon.stop() == std::optional<int>(0));  // flushes the journal
  const auto journal = read_tree(env.daemon.state_dir() / "journal");
  CHECK_THAT(journal, Catch::Contains("logon"));  // the journal was written
  CHECK_THAT(journal, !Catch::Contains(secret));
  CHECK_THAT(journal, !Catch::Contains(wrong_secret));
  const auto log = env.daemon.log();
  CHECK_THAT(log, Catch::Contains("logon"));  // the logger did log the session
  CHECK_THAT(log, !Catch::Contains(secret));
  CHECK_THAT(log, !Catch::Contains(wrong_secret));
}

TEST_CASE("a non-root client may read but not change state", "[daemon][security][integration]") {
  temp_dir config_dir("isensd-config");
  const auto config = write_file(config_dir.path(), "isensd.toml", "[daemon]\nsocket_mode = \"0666\"\n");
  daemon_with_target env(with_args({"--config", config.string()}));
  CHECK(mode_of(env.daemon.socket_path()) == 0666);

  const json login{{"method", "login_to_target"}, {"params", env.login_params()}};
  const json sessions{{"method", "sessions"}, {"params", json::object()}};
  const json subscribe{{"method", "subscribe"}, {"params", json::object()}};
  const auto answers = ask_as_nobody(env.daemon.socket_path(), {login, sessions, subscribe});
  INFO(answers.output);
  REQUIRE(answers.exit_code == 0);
  std::istringstream lines(answers.output);
  std::string line;

  REQUIRE(std::getline(lines, line));
  const auto refused = json::parse(line);
  CHECK(refused.value("/error/code"_json_pointer, 0) == -32001);
  CHECK_THAT(refused.value("/error/message"_json_pointer, std::string()), Catch::Contains("login_to_target"));

  REQUIRE(std::getline(lines, line));
  CHECK(json::parse(line).at("result").is_array());  // read-only: allowed

  REQUIRE(std::getline(lines, line));
  CHECK(json::parse(line).value("/result/subscribed"_json_pointer, false) == true);  // reading events too

  CHECK(env.client()->call("sessions").empty());  // the refused login did not happen
  CHECK(env.target->connections(standard_tid).empty());
}

TEST_CASE("with the default socket mode a non-root client cannot connect at all", "[daemon][security]") {
  daemon_process daemon;
  CHECK(mode_of(daemon.socket_path()) == 0660);
  const auto answers = ask_as_nobody(daemon.socket_path(), {});
  CHECK(answers.exit_code == 11);
  CHECK_THAT(answers.output, Catch::Contains("Permission denied"));
}
