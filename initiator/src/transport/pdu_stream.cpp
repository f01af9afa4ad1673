#include "transport/pdu_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace isens::initiator::transport {
namespace {

constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

error socket_error(const boost::system::error_code& ec, const char* doing) {
  if (ec == boost::asio::error::eof) return make_error(errc::connection_closed, "the target closed the connection");
  if (ec == boost::asio::error::operation_aborted) return error{ec, std::string(doing) + " cancelled"};
  return make_error(errc::connection_closed, std::string(doing) + " failed: " + ec.message());
}

}  // namespace

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
    std::tie(ec, n) = co_await boost::asio::async_read(socket, boost::asio::buffer(rest), use_tuple);
    if (ec) co_return socket_error(ec, "reading a PDU body");
  }
  co_return protocol::decode_body(bhs, rest, digests, *layout);
}

boost::asio::awaitable<result<void>> write_bytes(boost::asio::ip::tcp::socket& socket,
                                                 const protocol::byte_buffer& bytes) {
  auto [ec, n] = co_await boost::asio::async_write(socket, boost::asio::buffer(bytes), use_tuple);
  if (ec) co_return socket_error(ec, "writing a PDU");
  co_return result<void>{};
}

std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
  return address.to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace isens::initiator::transport
