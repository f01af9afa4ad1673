#pragma once
// Reading and writing whole PDUs on a TCP socket: the 48-byte BHS first,
// then the rest its header announces (the Asio chat-client framing).

#include "isens/initiator/error.hpp"
#include "protocol/pdu.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace isens::initiator::transport {

// Reads one PDU sent by the target. Socket errors become connection_closed;
// framing errors keep the codec's errc.
//
// read_pdu and write_bytes first move what the socket takes or gives at
// once with plain non-blocking recv/send, and wait through Asio only for the
// rest. That is safe because a connection has one reader and one writer
// (its read and write loops), so no other operation of the same kind is in
// flight on the socket.
boost::asio::awaitable<result<protocol::pdu>> read_pdu(boost::asio::ip::tcp::socket& socket,
                                                       protocol::digest_settings digests,
                                                       std::uint32_t max_recv_data_segment_length);

// Writes already-encoded PDU bytes in full.
boost::asio::awaitable<result<void>> write_bytes(boost::asio::ip::tcp::socket& socket,
                                                 const protocol::byte_buffer& bytes);

// "ip:port" of a connected socket's endpoint, or "" when unknown.
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace isens::initiator::transport
