#include "http_server.hpp"
#include "use_tuple.hpp"

#include <isens/initiator/types.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

namespace isens::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

// Counts a connection for as long as its coroutine lives.
class open_count {
 public:
  explicit open_count(std::shared_ptr<std::size_t> count) : count_(std::move(count)) { ++*count_; }
  ~open_count() { --*count_; }
  open_count(const open_count&) = delete;
  open_count& operator=(const open_count&) = delete;

 private:
  std::shared_ptr<std::size_t> count_;
};

// Why a request could not be read, as the status that says so (none: just close).
std::optional<http::status> refusal_for(const boost::system::error_code& ec) {
  if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
  if (ec == http::error::unexpected_body || ec == http::error::body_limit) return http::status::payload_too_large;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted || ec == http::error::partial_message)
    return std::nullopt;
  return http::status::bad_request;  // any other parse error: the request is malformed
}

}  // namespace

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

std::optional<std::string> query_value(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  auto query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

http_response make_response(const http_request& request, http::status status, std::string content_type,
                            std::string body) {
  http_response response(status, request.version());
  response.set(http::field::server, "isensd");
  response.set(http::field::content_type, std::move(content_type));
  response.set(http::field::cache_control, "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  response.keep_alive(false);
  response.body() = std::move(body);
  return response;
}

http_server::http_server(asio::any_io_executor executor, http_limits limits)
    : executor_(std::move(executor)), limits_(limits) {}

http_server::~http_server() { stop(); }

void http_server::route(std::string path, plain_handler handler) { plain_[std::move(path)] = std::move(handler); }

void http_server::route_stream(std::string path, stream_handler handler) {
  streams_[std::move(path)] = std::move(handler);
}

void http_server::start(const std::string& listen) {
  auto where = initiator::portal::parse(listen);
  if (!where) throw std::runtime_error("HTTP address: " + where.error().what());
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(where->host, ec);
  if (ec) throw std::runtime_error("HTTP address \"" + listen + "\": the host must be an IP address");
  acceptor_.emplace(executor_);
  const tcp::endpoint endpoint(address, where->port);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot serve HTTP on " + listen + ": " + ec.message());
  port_ = acceptor_->local_endpoint().port();
  asio::co_spawn(executor_, accept_loop(), asio::detached);
  // The page has no login and the listener no peer credentials: say so when
  // it is reachable from elsewhere.
  if (!address.is_loopback())
    spdlog::warn("HTTP listener on {} is reachable from other hosts: metrics, sessions and events are readable "
                 "without authentication (read-only)", listen);
  spdlog::info("metrics on http://{}:{}/metrics, dashboard on http://{}:{}/", where->host, port_, where->host, port_);
}

void http_server::stop() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
}

asio::awaitable<void> http_server::accept_loop() {
  while (acceptor_ && acceptor_->is_open()) {
    auto [ec, socket] = co_await acceptor_->async_accept(use_tuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    asio::co_spawn(executor_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> http_server::serve(tcp::socket socket) {
  const open_count counted(open_);
  const bool too_many = *open_ > limits_.max_connections;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  stream.expires_after(limits_.read_timeout);
  auto [read_ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);

  auto reply = [&](http_response response) -> asio::awaitable<void> {
    response.prepare_payload();
    if (parser.is_header_done() && parser.get().method() == http::verb::head) response.body().clear();
    stream.expires_after(limits_.write_timeout);
    co_await http::async_write(stream, response, use_tuple);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  };

  if (read_ec) {
    const auto status = refusal_for(read_ec);
    if (!status) co_return;
    http_request bare;
    bare.version(11);
    co_await reply(make_response(bare, *status, "text/plain",
                                 "isensd: request refused: " + read_ec.message() + " (at most " +
                                     std::to_string(limits_.max_header_bytes) + " header bytes, no body)\n"));
    co_return;
  }
  stream.expires_never();
  auto request = parser.release();
  if (too_many) {
    co_await reply(make_response(request, http::status::service_unavailable, "text/plain",
                                 "isensd: too many HTTP connections open; try again later\n"));
    co_return;
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    auto response = make_response(request, http::status::method_not_allowed, "text/plain",
                                  "isensd's HTTP listener is read-only: only GET and HEAD are served\n");
    response.set(http::field::allow, "GET, HEAD");
    co_await reply(std::move(response));
    co_return;
  }
  const auto path = target_path(request.target());
  if (const auto s = streams_.find(path); s != streams_.end() && request.method() == http::verb::get) {
    co_await s->second(std::move(stream), std::move(request));
    co_return;
  }
  if (const auto p = plain_.find(path); p != plain_.end()) {
    co_await reply(p->second(request));
    co_return;
  }
  co_await reply(make_response(request, streams_.contains(path) ? http::status::method_not_allowed : http::status::not_found,
                               "text/plain",
                               "isensd serves the dashboard at /, metrics at /metrics, the API under /api/ and "
                               "events at /events (docs/isensd.md)\n"));
}

}  // namespace isens::daemon
