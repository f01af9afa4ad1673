// A private, real NATS server with JetStream for the fleet tests and the
// fleet benchmark: one `nats-server -js` (Debian 2.9.10) per object, on a
// free loopback port, with its own store directory.
//
// Facts it relies on (nats-server 2.9.10): `-a 127.0.0.1 -p P -js -sd DIR`
// serves clients on P and keeps JetStream's files under DIR/jetstream; the
// log line "Server is ready" comes once the listener and JetStream are up;
// a port already taken makes it exit at once ("address already in use"), so
// start() retries on another port; restarted on the same store it restores
// its streams ("Restored N messages"); file streams write() each message
// before acknowledging it, so a kill -9 loses no acknowledged message.
#pragma once

#include "subprocess.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace isens::test {

/// How to start the server.
struct nats_server_options {
  std::string user;      ///< with password: clients must authenticate
  std::string password;
  std::string token;     ///< or a token
  std::filesystem::path store_dir;  ///< empty: a new temp dir (removed on destruction)
  unsigned short port = 0;          ///< 0: a free one
  std::chrono::milliseconds start_timeout{std::chrono::seconds{10}};
};

/// One nats-server. Not thread-safe.
class nats_server {
 public:
  /// Starts it; throws with the log's tail if it does not become ready.
  explicit nats_server(nats_server_options options = {});
  /// Kills it (SIGKILL) and removes its temp dir.
  ~nats_server();
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  /// nats://127.0.0.1:PORT
  [[nodiscard]] std::string url() const;
  /// The client port (kept across restarts).
  [[nodiscard]] unsigned short port() const noexcept { return port_; }
  /// Where JetStream keeps its files.
  [[nodiscard]] const std::filesystem::path& store_dir() const noexcept { return store_dir_; }
  /// The server's log, appended across restarts.
  [[nodiscard]] std::filesystem::path log_file() const { return dir_ / "nats-server.log"; }

  /// SIGKILL, as a crash would; the store stays.
  void kill9();
  /// SIGINT and wait: a clean shutdown.
  void stop();
  /// Starts it again on the same port; with `wipe_store` on an empty store
  /// (a new, empty broker). It must not be running.
  void restart(bool wipe_store = false);
  /// SIGSTOP / SIGCONT: the TCP connections stay, nothing is answered
  /// (pause() returns once the broker has stopped).
  void pause();
  void resume();
  /// True while the process exists.
  [[nodiscard]] bool running();
  /// Its pid (for the benchmark's CPU figures); stale once it is gone.
  [[nodiscard]] pid_t pid() const noexcept;

 private:
  void launch(bool any_port);
  std::vector<std::string> arguments() const;

  nats_server_options options_;
  std::filesystem::path dir_;
  std::filesystem::path store_dir_;
  bool own_dir_ = false;
  unsigned short port_ = 0;
  std::unique_ptr<child_process> process_;
};

}  // namespace isens::test
