#include "metrics_server.hpp"

#include <isens/initiator/types.hpp>
#include <isens/subscribers/metrics_registry.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace isens::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

metrics_server::metrics_server(asio::any_io_executor executor, std::function<std::string()> render)
    : executor_(std::move(executor)), render_(std::move(render)) {}

void metrics_server::start(const std::string& listen) {
  auto where = initiator::portal::parse(listen);
  if (!where) throw std::runtime_error("metrics address: " + where.error().what());
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(where->host, ec);
  if (ec) throw std::runtime_error("metrics address \"" + listen + "\": the host must be an IP address");
  acceptor_.emplace(executor_);
  const tcp::endpoint endpoint(address, where->port);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot serve metrics on " + listen + ": " + ec.message());
  port_ = acceptor_->local_endpoint().port();
  asio::co_spawn(executor_, accept_loop(), asio::detached);
  spdlog::info("metrics on http://{}:{}/metrics", where->host, port_);
}

void metrics_server::stop() {
  if (!acceptor_) return;
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
}

asio::awaitable<void> metrics_server::accept_loop() {
  while (acceptor_ && acceptor_->is_open()) {
    auto [ec, socket] = co_await acceptor_->async_accept(use_tuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    asio::co_spawn(executor_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> metrics_server::serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  // Scrapers send small requests; anything large is not one.
  http::request_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  auto [read_ec, n] = co_await http::async_read(socket, buffer, parser, use_tuple);
  if (read_ec) co_return;
  const auto& request = parser.get();

  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(false);
  response.set(http::field::server, "isensd");
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.body() = "only GET /metrics is served\n";
  } else if (request.target() == "/metrics") {
    response.result(http::status::ok);
    response.set(http::field::content_type, std::string(subscribers::prometheus_content_type));
    response.body() = render_();
  } else {
    response.result(http::status::not_found);
    response.set(http::field::content_type, "text/plain");
    response.body() = "isensd serves Prometheus metrics at /metrics\n";
  }
  response.prepare_payload();
  if (request.method() == http::verb::head) response.body().clear();
  co_await http::async_write(socket, response, use_tuple);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace isens::daemon
