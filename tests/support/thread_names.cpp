#include "thread_names.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace isens::test {

namespace {

std::filesystem::path tasks_of(pid_t pid) {
  return std::filesystem::path("/proc") / (pid == 0 ? std::string("self") : std::to_string(pid)) / "task";
}

}  // namespace

std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> found;
  std::error_code ec;  // a process that is gone has no threads
  for (const auto& entry : std::filesystem::directory_iterator(tasks_of(pid), ec))
    found.push_back(static_cast<pid_t>(std::stoi(entry.path().filename().string())));
  return found;
}

std::string thread_name(pid_t tid, pid_t pid) {
  std::ifstream comm(tasks_of(pid) / std::to_string(tid) / "comm");
  std::string line;
  std::getline(comm, line);
  return line;
}

std::vector<pid_t> threads_named(const std::string& name, pid_t pid) {
  std::vector<pid_t> found;
  for (const auto tid : threads_of(pid)) {
    if (thread_name(tid, pid) == name) found.push_back(tid);
  }
  return found;
}

std::optional<std::uint64_t> blocked_signals(pid_t tid, pid_t pid) {
  std::ifstream status(tasks_of(pid) / std::to_string(tid) / "status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return std::nullopt;
}

bool blocks_all(std::uint64_t mask, const std::vector<int>& signals) {
  for (const int signo : signals) {
    if ((mask & (std::uint64_t{1} << (signo - 1))) == 0) return false;
  }
  return true;
}

}  // namespace isens::test
