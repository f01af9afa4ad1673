#include "browser_session.hpp"

#include "subprocess.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace isens::test {

using namespace std::chrono_literals;

#ifndef ISENS_BROWSER_DRIVER
#error "ISENS_BROWSER_DRIVER must name browser_driver.py"
#endif

browser_session::browser_session(const std::filesystem::path& log) : log_(log) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    // The driver goes when the test goes, even when the test is killed.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    if (log_fd >= 0) ::dup2(log_fd, 2);
    const char* argv[] = {"/usr/bin/python3", ISENS_BROWSER_DRIVER, nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  if (log_fd >= 0) ::close(log_fd);
  to_driver_ = in[1];
  from_driver_ = out[0];
  // chromium's first start takes a few seconds on a cold machine.
  const auto hello = nlohmann::json::parse(read_line(60s));
  if (!hello.value("ready", false)) throw std::runtime_error("browser driver did not start: " + hello.dump());
}

browser_session::~browser_session() {
  try {
    command({{"cmd", "quit"}}, 20s);
  } catch (const std::exception&) {
    // it is killed below
  }
  if (to_driver_ >= 0) ::close(to_driver_);
  if (from_driver_ >= 0) ::close(from_driver_);
  // Wait (bounded) for the driver to exit: its pidfd becomes readable then.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, 10000);
    ::close(pidfd);
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
}

std::string browser_session::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (const auto eol = buffer_.find('\n'); eol != std::string::npos) {
      auto line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw std::runtime_error("browser driver: no answer in time; its log:\n" + file_tail(log_, 4000));
    pollfd p{from_driver_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[65536];
    const auto n = ::read(from_driver_, chunk, sizeof chunk);
    if (n <= 0) throw std::runtime_error("browser driver exited; its log:\n" + file_tail(log_, 4000));
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

nlohmann::json browser_session::command(const nlohmann::json& request, std::chrono::milliseconds timeout) {
  const auto line = request.dump() + "\n";
  if (::write(to_driver_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    throw std::runtime_error("browser driver: cannot send " + request.dump());
  return nlohmann::json::parse(read_line(timeout));
}

void browser_session::open(const std::string& url) {
  const auto answer = command({{"cmd", "open"}, {"url", url}}, 60s);
  if (!answer.value("ok", false)) throw std::runtime_error("browser: cannot open " + url + ": " + answer.dump());
}

wait_result browser_session::wait(const std::string& js, std::chrono::milliseconds timeout) {
  const auto answer = command({{"cmd", "wait"}, {"js", js}, {"timeout_ms", timeout.count()}}, timeout + 30s);
  wait_result r;
  r.ok = answer.value("ok", false);
  r.value = answer.contains("value") ? answer["value"] : nullptr;
  r.elapsed_ms = answer.value("elapsed_ms", 0.0);
  r.error = answer.value("error", "");
  return r;
}

nlohmann::json browser_session::eval(const std::string& js) {
  const auto answer = command({{"cmd", "eval"}, {"js", js}}, 30s);
  if (!answer.value("ok", false)) throw std::runtime_error("browser: " + js + ": " + answer.dump());
  return answer.contains("value") ? answer["value"] : nullptr;
}

void browser_session::screenshot(const std::filesystem::path& png) {
  const auto answer = command({{"cmd", "screenshot"}, {"path", png.string()}}, 30s);
  if (!answer.value("ok", false)) throw std::runtime_error("browser: no screenshot: " + answer.dump());
}

nlohmann::json browser_session::console() { return command({{"cmd", "logs"}}, 30s).at("value"); }

}  // namespace isens::test
