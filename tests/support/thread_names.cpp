#include "thread_names.hpp"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace isens::test {

std::vector<pid_t> threads_named(const std::string& name, pid_t pid) {
  const std::filesystem::path tasks =
      std::filesystem::path("/proc") / (pid == 0 ? std::string("self") : std::to_string(pid)) / "task";
  std::vector<pid_t> found;
  std::error_code ec;  // a process that is gone has no threads
  for (const auto& entry : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm(entry.path() / "comm");
    std::string line;
    std::getline(comm, line);
    if (line == name) found.push_back(static_cast<pid_t>(std::stoi(entry.path().filename().string())));
  }
  return found;
}

}  // namespace isens::test
