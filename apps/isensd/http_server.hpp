#pragma once
// isensd's HTTP listener (Boost.Beast): reads one bounded request per
// connection and hands it to the route registered for its path: a plain
// handler that returns a response (/metrics, the JSON API, the page's
// files) or a stream handler that keeps the connection (/events).
// Read-only: only GET and HEAD are served.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace isens::daemon {

/// A request as the listener read it: headers only (a request with a body is refused).
using http_request = boost::beast::http::request<boost::beast::http::empty_body>;
/// A complete response a plain handler returns.
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

/// Answers one request; runs on the listener's executor.
using plain_handler = std::function<http_response(const http_request&)>;
/// Takes over the connection after the request was read (Server-Sent Events).
using stream_handler = std::function<boost::asio::awaitable<void>(boost::beast::tcp_stream, http_request)>;

/// Bounds that keep a misbehaving client from costing isensd more than a socket.
struct http_limits {
  std::size_t max_header_bytes = 8 * 1024;                   ///< larger requests get 431
  std::chrono::milliseconds read_timeout{10000};             ///< a request not read whole by then is dropped
  std::chrono::milliseconds write_timeout{10000};            ///< a response not taken by then is dropped
  std::size_t max_connections = 256;                         ///< open at once, streams included; beyond: 503
};

/// The path of a request target (without the query).
std::string_view target_path(std::string_view target);
/// The value of `name` in a request target's query, undecoded; empty when absent.
std::optional<std::string> query_value(std::string_view target, std::string_view name);
/// A plain-text or JSON response with the headers every answer carries.
http_response make_response(const http_request& request, boost::beast::http::status status, std::string content_type,
                            std::string body);

class http_server {
 public:
  /// A listener on `executor` (isensd's io_context); nothing is bound until start().
  http_server(boost::asio::any_io_executor executor, http_limits limits = {});
  ~http_server();

  /// Serves `path` (exact match, query ignored) with `handler`.
  void route(std::string path, plain_handler handler);
  /// Hands connections for `path` to `handler` once their request is read.
  void route_stream(std::string path, stream_handler handler);

  /// Listens on "HOST:PORT"; throws std::runtime_error naming the address.
  void start(const std::string& listen);
  /// Stops accepting; connections being served finish on their own.
  void stop();
  /// The port actually bound (useful with port 0).
  std::uint16_t port() const noexcept { return port_; }
  /// Connections open right now (for tests and the status API).
  std::size_t open_connections() const noexcept { return *open_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor executor_;
  http_limits limits_;
  std::map<std::string, plain_handler, std::less<>> plain_;
  std::map<std::string, stream_handler, std::less<>> streams_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::uint16_t port_ = 0;
  // Shared with the connections' coroutines, which may outlive the server.
  std::shared_ptr<std::size_t> open_ = std::make_shared<std::size_t>(0);
};

}  // namespace isens::daemon
