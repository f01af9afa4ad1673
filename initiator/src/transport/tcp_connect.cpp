#include "transport/tcp_connect.hpp"

#include "transport/deadline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace isens::initiator::transport {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<result<void>> resolve_and_connect(tcp::socket& socket, const portal& where,
                                                  const socket_deadline& deadline) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
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
    co_return result<void>{};
  }

  // The deadline cannot cut a lookup short (getaddrinfo runs to its own end
  // on Asio's resolver thread), and a closed socket would simply be opened
  // again by the connect: so look at the clock once the lookup is done.
  tcp::resolver resolver(socket.get_executor());
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(where.host, std::to_string(where.port), use_tuple);
  if (deadline.expired()) co_return make_error(errc::connect_timeout, "timed out resolving " + where.to_string());
  if (resolve_ec)
    co_return make_error(errc::connect_failed, "cannot resolve " + where.to_string() + ": " + resolve_ec.message());

  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
  if (connect_ec)
    co_return make_error(errc::connect_failed, "cannot connect to " + where.to_string() + ": " + connect_ec.message());
  socket.set_option(tcp::no_delay(true), ignored);
  co_return result<void>{};
}

}  // namespace

asio::awaitable<result<void>> tcp_connect(tcp::socket& socket, const portal& where, std::chrono::milliseconds limit) {
  socket_deadline deadline(socket, limit);
  auto connected = co_await resolve_and_connect(socket, where, deadline);
  if (connected || !deadline.expired()) co_return connected;
  co_return make_error(errc::connect_timeout,
                       "timed out after " + std::to_string(limit.count()) + " ms connecting to " + where.to_string());
}

}  // namespace isens::initiator::transport
