// A deliberately small JSON-RPC client for isensd's control socket: plain
// POSIX sockets, one JSON object per line, a timeout on every read. It is
// written independently of isensctl's client so the tests check the
// protocol, not one implementation against itself; it can also send raw
// bytes (malformed JSON, huge lines, half requests).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace isens::test {

/// An error answer from isensd, as thrown by rpc_test_client::call().
class rpc_call_error : public std::runtime_error {
 public:
  rpc_call_error(int code, const std::string& message, nlohmann::json error)
      : std::runtime_error(message + " (code " + std::to_string(code) + ")"), code_(code), error_(std::move(error)) {}
  /// The JSON-RPC error code.
  [[nodiscard]] int code() const noexcept { return code_; }
  /// The whole "error" member.
  [[nodiscard]] const nlohmann::json& error() const noexcept { return error_; }

 private:
  int code_;
  nlohmann::json error_;
};

class rpc_test_client {
 public:
  /// Connects; throws std::runtime_error if nothing answers on the socket.
  explicit rpc_test_client(const std::filesystem::path& socket,
                           std::chrono::milliseconds timeout = std::chrono::seconds{10});
  ~rpc_test_client();
  rpc_test_client(const rpc_test_client&) = delete;
  rpc_test_client& operator=(const rpc_test_client&) = delete;

  /// Writes bytes as they are; false when the daemon has closed the connection.
  bool send_raw(std::string_view bytes);
  /// The next line (without '\n'); nullopt when the daemon closed the connection.
  /// Throws std::runtime_error when nothing arrives within the timeout.
  std::optional<std::string> read_line();
  /// The next line parsed as JSON; throws on close, timeout or bad JSON.
  nlohmann::json read_json();

  /// Sends a request and returns the whole answer with its id (result or error).
  /// Notifications arriving meanwhile are kept for next_notification().
  nlohmann::json request(const std::string& method, nlohmann::json params = nlohmann::json::object());
  /// Like request(), but returns the result or throws rpc_call_error.
  nlohmann::json call(const std::string& method, nlohmann::json params = nlohmann::json::object());
  /// The next server notification ({"method":…,"params":…}); throws on timeout or close.
  nlohmann::json next_notification();
  /// Like next_notification(), but nullopt when the daemon closed the connection.
  std::optional<nlohmann::json> next_notification_or_close();
  /// The params of the next `event` notification; other notifications (gaps)
  /// are skipped (use next_notification() to see those).
  nlohmann::json next_event();

  /// Closes the socket now (the client disconnects).
  void close();
  /// The timeout for every read.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

 private:
  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
  std::deque<nlohmann::json> notifications_;
  int next_id_ = 1;
};

/// A client that has called `subscribe` with `params` (checked to succeed).
std::unique_ptr<rpc_test_client> subscribed_client(const std::filesystem::path& socket,
                                                   nlohmann::json params = nlohmann::json::object());

/// Event params read until one with seq >= `last_seq` (included); throws on timeout or close.
std::vector<nlohmann::json> events_through(rpc_test_client& client, std::uint64_t last_seq);
/// Every event notification until the daemon closes the connection.
std::vector<nlohmann::json> events_until_closed(rpc_test_client& client);
/// The seq of each event, in order.
std::vector<std::uint64_t> seqs_of(const std::vector<nlohmann::json>& events);
/// The kind of each event, in order.
std::vector<std::string> kinds_of(const std::vector<nlohmann::json>& events);

}  // namespace isens::test
