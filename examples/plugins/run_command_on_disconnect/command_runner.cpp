#include "command_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace isens::plugins {

namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Closes a descriptor once, however the function is left.
struct fd_guard {
  int fd = -1;
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ~fd_guard() { close(); }
};

// Writes without ever blocking past the deadline: the pipe is non-blocking
// and we poll for room, so a command that never reads cannot hold us.
void write_input(int fd, std::string_view input, clock::time_point deadline) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (!input.empty()) {
    const auto n = ::write(fd, input.data(), input.size());
    if (n > 0) {
      input.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) > 0) continue;
      return;  // deadline: the wait below kills it
    }
    if (n < 0 && errno == EPIPE) {
      // The command closed stdin unread. The SIGPIPE this raised is pending
      // on our (blocked) thread; take it so it never fires later.
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const timespec zero{};
      ::sigtimedwait(&pipe_only, nullptr, &zero);
    }
    return;
  }
}

// Reaps the child, killing its process group at the deadline. Polls with a
// short sleep: this runs on the plugin's own thread, never the bus's.
void reap(pid_t pid, clock::time_point deadline, command_result& result) {
  int status = 0;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      result.error = std::string("waitpid: ") + std::strerror(errno);
      return;
    }
    if (clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);  // the group: `sh -c "a | b"` leaves children behind sh
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

}  // namespace

std::string describe(const command_result& r) {
  if (!r.started) return "could not start: " + r.error;
  if (r.timed_out) return "killed after the timeout";
  if (!r.error.empty()) return r.error;
  if (r.signal != 0) return std::string("ended by signal ") + ::strsignal(r.signal);
  return "exited with status " + std::to_string(r.exit_code);
}

command_result run_command(const std::string& command, std::string_view input, std::chrono::milliseconds timeout,
                           const std::vector<std::string>& extra_env) {
  command_result result;
  const auto deadline = clock::now() + timeout;
  int fds[2];
  // CLOEXEC: no other child the daemon spawns inherits our pipe ends.
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  fd_guard read_end{fds[0]}, write_end{fds[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, read_end.fd, STDIN_FILENO);
  // The child gets stdin, stdout, stderr and nothing else of the daemon's
  // (control socket, journal, target connections).
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, pipe_only;
  sigemptyset(&none);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  // Our thread blocks SIGPIPE; the command must start with normal signals,
  // or `producer | head` in it would never end.
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &pipe_only);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group, so a timeout kills the whole pipeline
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (const auto& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char sh[] = "sh";
  char dash_c[] = "-c";
  char* argv[] = {sh, dash_c, const_cast<char*>(command.c_str()), nullptr};

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    result.error = std::string("posix_spawn /bin/sh: ") + std::strerror(rc);
    return result;
  }
  result.started = true;
  read_end.close();  // only the child reads: a command that exits unread gives us EPIPE, not a full pipe
  write_input(write_end.fd, input, deadline);
  write_end.close();  // EOF: the command may finish now
  reap(pid, deadline, result);
  return result;
}

}  // namespace isens::plugins
