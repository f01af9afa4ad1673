#include "nats_server.hpp"

#include "free_port.hpp"

#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace isens::test {
namespace {

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

nats_server::nats_server(nats_server_options options) : options_(std::move(options)) {
  char pattern[] = "/tmp/isens-nats-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("nats_server: mkdtemp failed");
  dir_ = pattern;
  own_dir_ = true;
  store_dir_ = options_.store_dir.empty() ? dir_ / "store" : options_.store_dir;
  port_ = options_.port;
  launch(port_ == 0);
}

nats_server::~nats_server() {
  process_.reset();  // SIGKILL and reap
  if (own_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string nats_server::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> nats_server::arguments() const {
  std::vector<std::string> argv{"nats-server", "-js", "-sd", store_dir_.string(), "-a", "127.0.0.1",
                                "-p", std::to_string(port_), "-n", "isens-test"};
  if (!options_.user.empty()) argv.insert(argv.end(), {"--user", options_.user, "--pass", options_.password});
  if (!options_.token.empty()) argv.insert(argv.end(), {"--auth", options_.token});
  return argv;
}

void nats_server::launch(bool any_port) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (any_port) port_ = free_loopback_port();
    const auto ready_before = count_of(read_all(log_file()), "Server is ready");
    process_ = std::make_unique<child_process>(arguments(), log_file());
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (count_of(read_all(log_file()), "Server is ready") > ready_before) return;
      if (!process_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the log, bounded by the deadline
    }
    const bool port_taken = read_all(log_file()).find("address already in use") != std::string::npos;
    process_.reset();
    if (!(any_port && port_taken)) break;
  }
  throw std::runtime_error("nats-server did not become ready on port " + std::to_string(port_) + ": " +
                           file_tail(log_file()));
}

void nats_server::kill9() {
  if (process_) process_->kill_and_reap();
}

void nats_server::stop() {
  if (!process_ || !process_->running()) return;
  process_->signal(SIGINT);
  if (!process_->wait_for(std::chrono::seconds(10))) process_->kill_and_reap();
}

void nats_server::restart(bool wipe_store) {
  if (process_ && process_->running()) throw std::logic_error("nats_server::restart: still running");
  if (wipe_store) {
    std::error_code ignored;
    std::filesystem::remove_all(store_dir_, ignored);
  }
  launch(false);
}

void nats_server::pause() {
  if (process_) process_->stop();
}

void nats_server::resume() {
  if (process_) process_->signal(SIGCONT);
}

bool nats_server::running() { return process_ && process_->running(); }

pid_t nats_server::pid() const noexcept { return process_ ? process_->pid() : -1; }

}  // namespace isens::test
