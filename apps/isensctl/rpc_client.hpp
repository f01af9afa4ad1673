#pragma once
// A blocking JSON-RPC client for isensd's control socket.

#include <nlohmann/json.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace isensctl {

using json = nlohmann::ordered_json;

// The daemon could not be reached, or answered with an error; the message
// is one line for a person. exit_code: 3 unreachable, 1 operation failed.
class client_error : public std::runtime_error {
 public:
  client_error(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

class rpc_client {
 public:
  // Connects to isensd; throws client_error (exit 3) when nothing answers.
  explicit rpc_client(const std::filesystem::path& socket_path);

  // Calls a method and returns its result; throws client_error with the
  // daemon's message on an error answer.
  json call(const std::string& method, json params = json::object());

  // Calls `subscribe` and hands every notification to `on_notification`
  // until it returns false or the daemon closes the connection.
  void stream(json params, const std::function<bool(const json&)>& on_notification);

 private:
  json read_message();
  void write_message(const json& message);

  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::socket socket_;
  std::string buffer_;
  std::filesystem::path path_;
  int next_id_ = 1;
};

}  // namespace isensctl
