#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace isens::test {
namespace {

using steady = std::chrono::steady_clock;

/// Everything the child needs, prepared before fork: after fork only
/// async-signal-safe calls are allowed.
struct exec_plan {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv_ptrs;
  std::vector<char*> env_ptrs;
};

std::string resolve_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  // tgtd and tgtadm live in /usr/sbin, which a non-login PATH may lack.
  path += ":/usr/local/sbin:/usr/sbin:/sbin";
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) {
      continue;
    }
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  throw std::runtime_error("cannot find '" + name + "' in PATH (is its package installed? see scripts/setup)");
}

exec_plan make_plan(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  if (argv.empty()) {
    throw std::invalid_argument("empty command line");
  }
  exec_plan plan;
  plan.path = resolve_in_path(argv.front());
  plan.args = argv;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    const auto name = entry.substr(0, entry.find('='));
    if (env.find(name) == env.end()) {
      plan.env.push_back(entry);
    }
  }
  for (const auto& [name, value] : env) {
    plan.env.push_back(name + "=" + value);
  }
  for (auto& a : plan.args) {
    plan.argv_ptrs.push_back(a.data());
  }
  plan.argv_ptrs.push_back(nullptr);
  for (auto& e : plan.env) {
    plan.env_ptrs.push_back(e.data());
  }
  plan.env_ptrs.push_back(nullptr);
  return plan;
}

[[noreturn]] void child_fail(int report_fd) {
  const int err = errno;
  [[maybe_unused]] auto written = ::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

/// Forks and execs plan with stdout on out_fd, stderr on err_fd and stdin on
/// /dev/null. Returns the pid once exec has succeeded; throws with errno if
/// the child could not exec (reported through a close-on-exec pipe).
pid_t spawn(exec_plan& plan, int out_fd, int err_fd) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::close(report[0]);
    // Dies with the thread that started it: no stray daemon after a crashed test.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) {
      ::_exit(126);
    }
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
        ::dup2(err_fd, STDERR_FILENO) < 0) {
      child_fail(report[1]);
    }
    ::execve(plan.path.c_str(), plan.argv_ptrs.data(), plan.env_ptrs.data());
    child_fail(report[1]);
  }
  ::close(report[1]);
  int child_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("cannot execute " + plan.path + ": " + std::strerror(child_errno));
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return -WTERMSIG(status);
  }
  return -1;
}

}  // namespace

std::string format_command(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) {
    if (!line.empty()) {
      line += ' ';
    }
    const bool plain = !arg.empty() && arg.find_first_of(" \t'\"\\$*?|&;<>()") == std::string::npos;
    line += plain ? arg : "'" + arg + "'";
  }
  return line;
}

run_result run(const std::vector<std::string>& argv, const run_options& options) {
  auto plan = make_plan(argv, options.env);
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || (options.separate_stderr && ::pipe2(err, O_CLOEXEC) != 0)) {
    const int e = errno;
    for (const int fd : {out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(e));
  }
  pid_t pid = -1;
  try {
    pid = spawn(plan, out[1], options.separate_stderr ? err[1] : out[1]);
  } catch (...) {
    for (const int fd : {out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    throw;
  }
  ::close(out[1]);
  if (err[1] >= 0) {
    ::close(err[1]);
  }

  const auto deadline = steady::now() + options.timeout;
  run_result result;
  bool timed_out = false;
  std::vector<pollfd> fds{{out[0], POLLIN, 0}};
  std::vector<std::string*> sinks{&result.output};
  if (err[0] >= 0) {
    fds.push_back({err[0], POLLIN, 0});
    sinks.push_back(&result.errors);
  }
  char buffer[4096];
  std::size_t open_fds = fds.size();
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      timed_out = ready == 0;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        // EOF: the child (and anything it forked) closed this output.
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative fds
        --open_fds;
        continue;
      }
      sinks[i]->append(buffer, static_cast<std::size_t>(n));
    }
  }
  for (const auto& p : fds) {
    if (p.fd >= 0) {
      ::close(p.fd);
    }
  }

  int status = 0;
  if (!timed_out) {
    // Output closed; the exit normally follows within microseconds.
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (steady::now() >= deadline) {
        timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    throw std::runtime_error(format_command(argv) + ": no exit within " + std::to_string(options.timeout.count()) +
                             " ms (killed); output so far:\n" + result.output + result.errors);
  }
  result.exit_code = decode_status(status);
  return result;
}

std::string run_checked(const std::vector<std::string>& argv, const run_options& options) {
  auto result = run(argv, options);
  if (result.exit_code != 0) {
    throw std::runtime_error(format_command(argv) + " failed with exit code " + std::to_string(result.exit_code) +
                             ":\n" + result.output + result.errors);
  }
  return std::move(result.output);
}

std::string file_tail(const std::filesystem::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return "(cannot read " + file.string() + ")";
  }
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  const auto start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return start > 0 ? "..." + text : text;
}

child_process::child_process(const std::vector<std::string>& argv, const std::filesystem::path& log,
                             const std::map<std::string, std::string>& env) {
  auto plan = make_plan(argv, env);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("cannot open log " + log.string() + ": " + std::strerror(errno));
  }
  try {
    pid_ = spawn(plan, log_fd, log_fd);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);
}

child_process::~child_process() {
  if (!exit_code_) {
    kill_and_reap();
  }
}

void child_process::note_status(int status) { exit_code_ = decode_status(status); }

bool child_process::running() {
  if (exit_code_) {
    return false;
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    note_status(status);
    return false;
  }
  return true;
}

std::optional<int> child_process::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (running()) {
    if (steady::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return exit_code_;
}

void child_process::signal(int signo) {
  if (!exit_code_) {
    ::kill(pid_, signo);
  }
}

void child_process::stop() {
  if (exit_code_) {
    return;
  }
  ::kill(pid_, SIGSTOP);
  // The parent hears of a stop once the whole thread group has stopped.
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WUNTRACED);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r == pid_ && !WIFSTOPPED(status)) {
      note_status(status);  // it exited instead
    }
    return;
  }
}

int child_process::kill_and_reap() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    note_status(status);
  }
  return *exit_code_;
}

}  // namespace isens::test
