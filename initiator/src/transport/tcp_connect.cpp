#include "transport/tcp_connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace isens::initiator::transport {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<result<tcp::endpoint>> tcp_connect(tcp::socket& socket, const portal& where,
                                                   const socket_deadline& deadline) {
  constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
  // Any step that fails once the deadline has closed the socket failed for
  // the deadline; the message names the step ("connect to" / "connecting to").
  const auto failure = [&](const char* step, const char* during, const boost::system::error_code& ec) {
    if (deadline.expired()) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.limit()).count();
      return make_error(errc::connect_timeout,
                        "timed out after " + std::to_string(ms) + " ms " + during + " " + where.to_string());
    }
    return make_error(errc::connect_failed, std::string("cannot ") + step + " " + where.to_string() + ": " + ec.message());
  };

  // An address literal needs no resolver: Asio resolves on a background
  // thread, and the two hand-offs cost more than the whole TCP handshake.
  boost::system::error_code not_literal;
  const auto literal = asio::ip::make_address(where.host, not_literal);
  tcp::endpoint connected{literal, where.port};
  if (!not_literal) {
    auto [connect_ec] = co_await socket.async_connect(connected, use_tuple);
    if (connect_ec) co_return failure("connect to", "connecting to", connect_ec);
  } else {
    // The deadline cannot cut a lookup short (getaddrinfo runs to its own end
    // on Asio's resolver thread), and a closed socket would simply be opened
    // again by the connect: so look at the clock once the lookup is done.
    tcp::resolver resolver(socket.get_executor());
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(where.host, std::to_string(where.port), use_tuple);
    if (resolve_ec || deadline.expired()) co_return failure("resolve", "resolving", resolve_ec);
    auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
    if (connect_ec) co_return failure("connect to", "connecting to", connect_ec);
    connected = endpoint;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return connected;
}

}  // namespace isens::initiator::transport
