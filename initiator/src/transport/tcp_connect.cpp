#include "transport/tcp_connect.hpp"

#include "transport/deadline.hpp"

#include <boost/asio/connect.hpp>

namespace isens::initiator::transport {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<result<tcp::socket>> resolve_and_connect(const portal& where) {
  const auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  boost::system::error_code ignored;

  // An address literal needs no resolver: Asio resolves on a background
  // thread, and the two hand-offs cost more than the whole TCP handshake.
  boost::system::error_code not_literal;
  const auto literal = asio::ip::make_address(where.host, not_literal);
  if (!not_literal) {
    auto [connect_ec] = co_await socket.async_connect({literal, where.port}, use_tuple);
    if (connect_ec)
      co_return make_error(errc::connect_failed, "cannot connect to " + where.to_string() + ": " + connect_ec.message());
    socket.set_option(tcp::no_delay(true), ignored);
    co_return std::move(socket);
  }

  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(where.host, std::to_string(where.port), use_tuple);
  if (resolve_ec)
    co_return make_error(errc::connect_failed, "cannot resolve " + where.to_string() + ": " + resolve_ec.message());

  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
  if (connect_ec)
    co_return make_error(errc::connect_failed, "cannot connect to " + where.to_string() + ": " + connect_ec.message());
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::move(socket);
}

}  // namespace

asio::awaitable<result<tcp::socket>> tcp_connect(const portal& where, std::chrono::milliseconds limit) {
  co_return co_await with_deadline(
      resolve_and_connect(where), limit,
      make_error(errc::connect_timeout,
                 "timed out after " + std::to_string(limit.count()) + " ms connecting to " + where.to_string()));
}

}  // namespace isens::initiator::transport
