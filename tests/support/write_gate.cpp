#include "write_gate.hpp"

#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::test {
namespace {

namespace fs = std::filesystem;

// The threads of `pid` other than its main thread.
std::vector<pid_t> worker_threads(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "task")) {
    const auto tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
    if (tid != pid) out.push_back(tid);
  }
  return out;
}

// The descriptor `pid` has `file` open on, or -1.
int descriptor_of(pid_t pid, const fs::path& file) {
  const auto wanted = fs::canonical(file);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "fd", ec)) {
    std::error_code link_ec;
    if (fs::read_symlink(entry.path(), link_ec) == wanted) return std::stoi(entry.path().filename().string());
  }
  return -1;
}

std::string errno_text(const char* what, pid_t tid) {
  return std::string(what) + " of thread " + std::to_string(tid) + ": " + std::strerror(errno);
}

}  // namespace

write_gate::write_gate(pid_t pid, std::filesystem::path file, std::uint64_t offset)
    : pid_(pid), file_(std::move(file)), offset_(offset) {
  tracer_ = std::thread([this] { trace(); });
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return stage_ != stage::starting; });
  if (stage_ == stage::failed) {
    lock.unlock();
    tracer_.join();
    throw std::runtime_error("write_gate: " + failure_);
  }
}

write_gate::~write_gate() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  tracer_.join();
}

void write_gate::set(stage s) {
  {
    std::lock_guard lock(mutex_);
    stage_ = s;
  }
  changed_.notify_all();
}

bool write_gate::wait_held(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, limit, [&] { return stage_ >= stage::held && stage_ != stage::failed; });
}

void write_gate::release() {
  {
    std::lock_guard lock(mutex_);
    if (stage_ != stage::held) throw std::logic_error("write_gate::release: no write is held");
    stage_ = stage::releasing;
  }
  changed_.notify_all();
}

bool write_gate::wait_written(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, limit, [&] { return stage_ == stage::written; });
}

// The tracer: seize the workers, let every syscall through but the one to
// hold, resume that one on release(), detach from all at the end. It polls
// (waitpid WNOHANG, then a short wait for a request) because a blocking
// waitpid cannot also listen to release() and the destructor.
void write_gate::trace() {
  std::set<pid_t> traced;
  pid_t held = 0;
  const auto fail = [&](std::string why) {
    {
      std::lock_guard lock(mutex_);
      failure_ = std::move(why);
    }
    set(stage::failed);
  };
  const int fd = descriptor_of(pid_, file_);
  if (fd < 0) return fail("tgtd " + std::to_string(pid_) + " has no descriptor open on " + file_.string());
  for (const auto tid : worker_threads(pid_)) {
    if (::ptrace(PTRACE_SEIZE, tid, nullptr, PTRACE_O_TRACESYSGOOD) != 0) {
      for (const auto t : traced) ::ptrace(PTRACE_DETACH, t, nullptr, nullptr);
      return fail(errno_text("PTRACE_SEIZE", tid));
    }
    traced.insert(tid);
    ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);  // its next stop starts the syscall tracing
  }
  if (traced.empty()) return fail("tgtd " + std::to_string(pid_) + " has no worker threads (no LUN?)");
  set(stage::armed);

  const auto resume = [&](pid_t tid, int signal = 0) {
    if (::ptrace(PTRACE_SYSCALL, tid, nullptr, signal) != 0) traced.erase(tid);  // gone meanwhile
  };
  bool released = false;
  for (;;) {
    bool stopping;
    bool release_now;
    {
      std::unique_lock lock(mutex_);
      const auto asked = [&] { return stopping_ || (stage_ == stage::releasing && !released); };
      changed_.wait_for(lock, std::chrono::microseconds(200), asked);
      stopping = stopping_;
      release_now = stage_ == stage::releasing && !released;
    }
    if (stopping) break;
    if (release_now) {
      released = true;
      resume(held);  // on to the syscall's exit stop, which reports it written
    }
    for (;;) {
      int status = 0;
      const pid_t tid = ::waitpid(-1, &status, __WALL | __WNOTHREAD | WNOHANG);
      if (tid <= 0) break;
      if (WIFEXITED(status) || WIFSIGNALED(status)) {
        traced.erase(tid);
        continue;
      }
      if (!WIFSTOPPED(status)) continue;
      const int signal = WSTOPSIG(status);
      if (signal == (SIGTRAP | 0x80)) {
        __ptrace_syscall_info info{};
        if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) <= 0) {
          resume(tid);
          continue;
        }
        if (info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == SYS_pwrite64 && held == 0 &&
            info.entry.args[0] == static_cast<std::uint64_t>(fd) && info.entry.args[3] <= offset_ &&
            offset_ < info.entry.args[3] + info.entry.args[2]) {
          held = tid;  // stays stopped until release()
          set(stage::held);
          continue;
        }
        if (info.op == PTRACE_SYSCALL_INFO_EXIT && tid == held) set(stage::written);
        resume(tid);
      } else if ((status >> 16) == PTRACE_EVENT_STOP) {
        resume(tid);  // the interrupt after seizing (or a group stop): trace on
      } else {
        resume(tid, signal);  // a signal for tgtd itself: deliver it
      }
    }
  }
  // Detach: a tracee must be stopped for PTRACE_DETACH; the held one is, until released.
  for (const auto tid : traced) {
    if (tid != held || released) {
      ::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
      int status = 0;
      while (::waitpid(tid, &status, __WALL) == tid && !WIFSTOPPED(status)) {
        if (WIFEXITED(status) || WIFSIGNALED(status)) break;
      }
    }
    ::ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
  }
}

}  // namespace isens::test
