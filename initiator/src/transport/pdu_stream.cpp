#include "transport/pdu_stream.hpp"

#include "transport/socket_calls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <charconv>

namespace isens::initiator::transport {

boost::asio::awaitable<result<protocol::pdu>> read_pdu(boost::asio::ip::tcp::socket& socket,
                                                       protocol::digest_settings digests,
                                                       std::uint32_t max_recv_data_segment_length) {
  std::array<std::uint8_t, protocol::bhs_size> bhs{};
  auto [ec, n] = co_await boost::asio::async_read(socket, boost::asio::buffer(bhs), use_tuple);
  if (ec) co_return socket_error(ec, "reading a PDU header");

  auto layout = protocol::inspect_header(bhs, digests, max_recv_data_segment_length);
  if (!layout) co_return layout.error();

  protocol::byte_buffer rest(layout->rest_length());
  if (!rest.empty()) {
    // The header came first only to say how long the body is: the body is
    // usually there already.
    const auto got = receive_now(socket, rest.data(), rest.size(), ec);
    if (!ec && got < rest.size())
      std::tie(ec, n) = co_await boost::asio::async_read(socket, boost::asio::buffer(rest) + got, use_tuple);
    if (ec) co_return socket_error(ec, "reading a PDU body");
  }
  co_return protocol::decode_body(bhs, rest, digests, *layout);
}

boost::asio::awaitable<result<void>> write_bytes(boost::asio::ip::tcp::socket& socket,
                                                 const protocol::byte_buffer& bytes) {
  boost::system::error_code ec;
  iovec whole{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  const auto sent = send_now(socket, &whole, 1, ec);
  if (!ec && sent < bytes.size()) {
    std::size_t n = 0;
    std::tie(ec, n) = co_await boost::asio::async_write(socket, boost::asio::buffer(bytes) + sent, use_tuple);
  }
  if (ec) co_return socket_error(ec, "writing a PDU");
  co_return result<void>{};
}

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
  // IPv4 by hand: address_v4::to_string goes through inet_ntop and sprintf,
  // which cost more than the rest of a new connection's bookkeeping.
  char text[sizeof "255.255.255.255:65535"];
  char* at = text;
  char* const end = text + sizeof text;
  for (const auto byte : address.to_v4().to_bytes()) {
    if (at != text) *at++ = '.';
    at = std::to_chars(at, end, byte).ptr;
  }
  *at++ = ':';
  at = std::to_chars(at, end, endpoint.port()).ptr;
  return std::string(text, at);
}

}  // namespace isens::initiator::transport
