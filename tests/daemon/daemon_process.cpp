#include "daemon_process.hpp"

#include "free_port.hpp"
#include "subprocess.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace isens::test {

namespace {

// True when something accepts on the Unix socket: a stale socket file left
// by a killed isensd refuses, so this tells "the new daemon listens".
bool socket_answers(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

temp_dir::temp_dir(const std::string& tag) {
  std::string pattern = "/tmp/isens-" + tag + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
  ::chmod(path_.c_str(), 0711);
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

daemon_process::daemon_process(daemon_options options)
    : options_(std::move(options)), dir_("isensd"), metrics_port_(free_loopback_port()) {
  start();
}

daemon_process::~daemon_process() {
  if (process_ && process_->running()) {
    // SIGTERM first: isensd then logs its sessions out, so the next test's
    // tgtd (or another engineer's) never sees our half-open sessions.
    process_->signal(SIGTERM);
    if (!process_->wait_for(std::chrono::seconds{5})) process_->kill_and_reap();
  }
}

void daemon_process::start() {
  if (process_ && process_->running()) throw std::logic_error("isensd is already running");
  // free_loopback_port() finds a port that was free a moment ago; another
  // process (a parallel test) may bind it first. Then take another one.
  for (int attempt = 1;; ++attempt) {
    if (launch()) return;
    const auto log_tail = file_tail(log_file());
    const auto taken = "127.0.0.1:" + std::to_string(metrics_port_) + ": Address already in use";
    if (attempt < 3 && log_tail.find(taken) != std::string::npos) {
      metrics_port_ = free_loopback_port();
      continue;
    }
    throw std::runtime_error("isensd exited during start-up; its log:\n" + log_tail);
  }
}

bool daemon_process::launch() {
  std::vector<std::string> argv{options_.binary.empty() ? std::string(ISENSD_PATH) : options_.binary,
                                "--socket",
                                socket_path().string(),
                                "--state-dir",
                                state_dir().string(),
                                "--metrics",
                                "127.0.0.1:" + std::to_string(metrics_port_),
                                "--nop-interval-ms",
                                "0"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_.reset();  // reaps the previous run, if any
  process_ = std::make_unique<child_process>(argv, log_file(), options_.env);
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  while (!socket_answers(socket_path())) {
    if (!process_->running()) return false;
    if (std::chrono::steady_clock::now() > deadline) {
      process_->kill_and_reap();
      throw std::runtime_error("isensd's socket did not answer within " +
                               std::to_string(options_.start_timeout.count()) + " ms; its log:\n" +
                               file_tail(log_file()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  return true;
}

std::optional<int> daemon_process::stop(std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  process_->signal(SIGTERM);
  if (auto code = process_->wait_for(timeout)) return code;
  process_->kill_and_reap();
  return std::nullopt;
}

void daemon_process::kill9() {
  if (process_) process_->kill_and_reap();
}

bool daemon_process::running() { return process_ && process_->running(); }

std::string daemon_process::log() const { return read_file(log_file()); }

int daemon_process::pid() const { return process_ ? process_->pid() : -1; }

std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return path;
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string data(n, '\0');
  for (auto& c : data) c = static_cast<char>(gen());
  return data;
}

std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

std::filesystem::path plugin_config_file(const std::filesystem::path& dir, const std::string& plugin,
                                         const std::string& config_lines) {
  return write_file(dir, "isensd-plugin.toml",
                    "[[plugins]]\npath = " + toml_string(plugin) + "\n[plugins.config]\n" + config_lines + "\n");
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::string read_tree(const std::filesystem::path& dir) {
  std::string all;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) all += read_file(it->path());
  }
  return all;
}

}  // namespace isens::test
