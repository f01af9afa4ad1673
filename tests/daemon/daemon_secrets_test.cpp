// CHAP secrets off the command line: isensctl reads them from a file only
// its owner can read, from the environment, or from a prompt on a terminal
// (echo off), and warns when one is given as an argument; isensd's
// [[sessions]] name secret files the same way. Each path logs in to a real
// tgtd that demands CHAP; each refusal names the file and the reason; the
// secret shows up in no ps listing, log, event, error or journal.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

const std::string user = "isens-secret-user";
const std::string secret = "file-secret-4711-abcd";

// A tgtd whose standard target demands CHAP as `user`.
struct chap_target {
  std::unique_ptr<tgtd_target> target = make_standard_target();
  chap_target() {
    target->add_account(user, secret);
    target->bind_account(standard_tid, user);
  }
};

std::filesystem::path secret_file(const std::filesystem::path& dir, const std::string& name, mode_t mode,
                                  const std::string& text = secret + "\n") {
  const auto path = write_file(dir, name, text);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

run_result isensctl(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv{ISENSCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, run_options{20s, std::move(env), true});
}

std::vector<std::string> login_args(const daemon_with_target& env, std::vector<std::string> more) {
  std::vector<std::string> args{"--socket", env.daemon.socket_path().string(), "login", "--portal",
                                env.target->portal(), "--target", std::string(standard_iqn), "--chap-user", user};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// What every process's command line shows (ps -eo args).
std::string ps_listing() { return run_checked({"ps", "-eo", "args"}); }

// What a run on a terminal left behind.
struct terminal_run {
  std::string shown;        // everything the terminal displayed
  int exit_code = -1;       // negative: killed by that signal
  bool echo_after = false;  // the terminal echoes again once isensctl is gone
};

// Runs isensctl on a new pseudo-terminal and types `answer` (a line, or
// anything ending in a control character) once `prompt` is shown.
terminal_run isensctl_on_terminal(const std::vector<std::string>& args, const std::string& prompt,
                                                 const std::string& answer) {
  std::vector<std::string> argv_text{ISENSCTL_PATH};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // As a shell would start it: no signal blocked or ignored from the test.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  std::string shown;
  bool answered = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    pollfd p{master, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[512];
    const auto n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO: the child closed the terminal
    shown.append(buffer, static_cast<std::size_t>(n));
    if (!answered && shown.find(prompt) != std::string::npos) {
      const auto line = answer.ends_with('\x03') ? answer : answer + "\n";
      REQUIRE(::write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
      answered = true;
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  termios after{};
  ::tcgetattr(master, &after);  // the pair's settings, as the slave left them
  ::close(master);
  return {shown, WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1,
          (after.c_lflag & ECHO) != 0};
}

}  // namespace

TEST_CASE("isensctl takes a CHAP secret from a 0600 file, the environment or a prompt, and warns on argv",
          "[daemon][secrets][integration]") {
  chap_target chap;
  daemon_options options = with_args({"--log-level", "debug"});  // a secret must not leak even then
  daemon_with_target env(options);
  env.target = std::move(chap.target);  // the CHAP-demanding tgtd replaces the fixture's
  temp_dir dir("isensctl-secrets");
  std::string all_output;  // every stdout and stderr isensctl produced

  SECTION("--chap-secret-file: 0600 and 0400 accepted, with no warning") {
    for (const mode_t mode : {0600, 0400}) {
      const auto file = secret_file(dir.path(), "secret-" + std::to_string(mode), mode);
      const auto r = isensctl(login_args(env, {"--chap-secret-file", file.string()}));
      INFO(r.errors);
      REQUIRE(r.exit_code == 0);
      CHECK(r.errors.empty());
      all_output += r.output + r.errors;
      env.logout(std::stoull(r.output));
    }
  }
  SECTION("the environment: ISENS_CHAP_SECRET") {
    const auto r = isensctl(login_args(env, {}), {{"ISENS_CHAP_SECRET", secret}});
    INFO(r.errors);
    REQUIRE(r.exit_code == 0);
    CHECK(r.errors.empty());
    all_output += r.output + r.errors;
  }
  SECTION("a prompt on the terminal, with echo off") {
    const auto r = isensctl_on_terminal(login_args(env, {}), "CHAP secret for " + user + ": ", secret);
    INFO(r.shown);
    CHECK(r.exit_code == 0);
    CHECK(r.echo_after);
    CHECK(env.client()->call("sessions").size() == 1);
    all_output += r.shown;  // the typed secret was not echoed
  }
  SECTION("Ctrl-C at the prompt ends isensctl and gives the terminal its echo back") {
    const auto r = isensctl_on_terminal(login_args(env, {}), "CHAP secret for " + user + ": ", "half-typed\x03");
    INFO(r.shown);
    CHECK(r.exit_code == -SIGINT);
    CHECK(r.echo_after);
    CHECK(env.client()->call("sessions").empty());
    all_output += r.shown;
  }
  SECTION("--chap-secret still works, with a warning that it is visible") {
    const auto r = isensctl(login_args(env, {"--chap-secret", secret}));
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.errors, Catch::Contains("warning") && Catch::Contains("visible to other users") &&
                             Catch::Contains("--chap-secret-file"));
    CHECK(r.errors.find(secret) == std::string::npos);
  }
  SECTION("refusals name the file and the reason, never the secret, and log nothing in") {
    const auto world_readable = secret_file(dir.path(), "secret-0644", 0644);
    const auto group_readable = secret_file(dir.path(), "secret-0640", 0640);
    const auto nobodys = secret_file(dir.path(), "secret-nobody", 0600);
    REQUIRE(::chown(nobodys.c_str(), 65534, 65534) == 0);
    const auto empty = secret_file(dir.path(), "secret-empty", 0600, "\n");
    struct refusal {
      std::vector<std::string> args;
      std::string says;
    };
    for (const auto& [args, says] : std::vector<refusal>{
             {{"--chap-secret-file", world_readable.string()}, "mode 0644"},
             {{"--chap-secret-file", group_readable.string()}, "mode 0640"},
             {{"--chap-secret-file", nobodys.string()}, "owned by uid 65534"},
             {{"--chap-secret-file", empty.string()}, "empty"},
             {{"--chap-secret-file", (dir.path() / "missing").string()}, "No such file"},
             {{"--chap-secret-file", world_readable.string(), "--chap-secret", "x"}, "not both"},
             {{}, "needs a secret"}}) {  // no file, no variable, no terminal
      const auto r = isensctl(login_args(env, args));
      INFO(format_command(args) << "\n" << r.errors);
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.errors, Catch::StartsWith("isensctl: ") && Catch::Contains(says));
      if (args.size() == 2) CHECK_THAT(r.errors, Catch::Contains(args[1]));  // a refused file is named
      all_output += r.output + r.errors;
    }
    CHECK(env.client()->call("sessions").empty());
  }

  CHECK(all_output.find(secret) == std::string::npos);
  CHECK(ps_listing().find(secret) == std::string::npos);
  const auto log = env.daemon.log();
  CHECK(log.find(secret) == std::string::npos);
  REQUIRE(env.daemon.stop() == std::optional<int>(0));
  CHECK(read_tree(env.daemon.state_dir() / "journal").find(secret) == std::string::npos);
}

TEST_CASE("isensd's [[sessions]] read CHAP secrets from files: logged in at start, persistent, the secret nowhere",
          "[daemon][secrets][integration]") {
  chap_target chap;
  temp_dir dir("isensd-secrets");
  const auto file = secret_file(dir.path(), "chap.secret", 0600);
  const auto config = write_file(dir.path(), "isensd.toml",
                                 "[[sessions]]\nportal = " + toml_string(chap.target->portal()) +
                                     "\ntarget = " + toml_string(std::string(standard_iqn)) + "\nchap_user = " +
                                     toml_string(user) + "\nchap_secret_file = " + toml_string(file.string()) + "\n");
  daemon_process daemon(with_args({"--config", config.string(), "--log-level", "debug"}));
  auto client = std::make_unique<rpc_test_client>(daemon.socket_path());
  json sessions;
  REQUIRE(eventually([&] {
    sessions = client->call("sessions");
    // persistent once the start-up login has returned (connected comes a moment before)
    return sessions.size() == 1 && sessions[0].value("connected", false) && sessions[0].value("persistent", false);
  }));
  CHECK(sessions[0].at("auth_type") == "CHAP");
  // A configured session is the file's to remove, not the API's.
  const auto refused = client->request("unregister_session", {{"session_id", sessions[0].at("session_id")}});
  CHECK_THAT(refused.dump(), Catch::Contains("[[sessions]]"));

  CHECK(read_file("/proc/" + std::to_string(daemon.pid()) + "/cmdline").find(secret) == std::string::npos);
  CHECK(read_file("/proc/" + std::to_string(daemon.pid()) + "/environ").find(secret) == std::string::npos);
  CHECK(ps_listing().find(secret) == std::string::npos);
  CHECK(client->call("sessions").dump().find(secret) == std::string::npos);
  client.reset();
  REQUIRE(daemon.stop() == std::optional<int>(0));
  CHECK(daemon.log().find(secret) == std::string::npos);
  CHECK(read_tree(daemon.state_dir()).find(secret) == std::string::npos);  // journal; nothing registered

  // The same refusals as isensctl's, at start: one line naming the key and file.
  for (const auto& [mode, says] : std::vector<std::pair<mode_t, std::string>>{{0644, "mode 0644"}, {0604, "mode 0604"}}) {
    REQUIRE(::chmod(file.c_str(), mode) == 0);
    const auto r = run({ISENSD_PATH, "--socket", (dir.path() / "s2.sock").string(), "--state-dir",
                        (dir.path() / "state2").string(), "--metrics", "off", "--config", config.string()},
                       run_options{10s, {}, true});
    INFO(r.errors);
    CHECK(r.exit_code == 1);
    CHECK(lines_of(r.errors).size() == 1);
    CHECK_THAT(r.errors, Catch::Contains("sessions[0].chap_secret_file") && Catch::Contains(says) &&
                             Catch::Contains(file.string()));
    CHECK(r.errors.find(secret) == std::string::npos);
  }
  // A secret written into the configuration itself is refused too.
  const auto inline_config = write_file(dir.path(), "inline.toml",
                                        "[[sessions]]\nportal = \"127.0.0.1\"\ntarget = \"iqn.x:y\"\nchap_user = \"u\"\n"
                                        "chap_secret = \"" + secret + "\"\n");
  const auto r = run({ISENSD_PATH, "--socket", (dir.path() / "s3.sock").string(), "--metrics", "off", "--config",
                      inline_config.string()},
                     run_options{10s, {}, true});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.errors, Catch::Contains("chap_secret_file"));
  CHECK(r.errors.find(secret) == std::string::npos);
}
