#pragma once
// Non-blocking socket calls shared by the PDU reader and writers: move what
// the socket takes or gives at once (MSG_DONTWAIT), 0 bytes and no error
// when it cannot. An idle connection takes a whole request, and a
// response's body arrives with its header; Asio's async operations would
// still post each completion, which costs a handler hop and a reactor poll
// (a syscall) per operation. Callers wait with async_wait only when a call
// moved nothing.

#include "isens/initiator/error.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/uio.h>

#include <cstddef>

namespace isens::initiator::transport {

// The completion token of the async waits here: the error comes back as a
// value, for socket_error.
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// A socket error in the library's terms: connection_closed (eof, reset, …),
// or operation_aborted kept as it is (the socket was closed by us).
error socket_error(const boost::system::error_code& ec, const char* doing);

// recv(MSG_DONTWAIT) into [data, data + size); eof is an error.
std::size_t receive_now(boost::asio::ip::tcp::socket& socket, void* data, std::size_t size,
                        boost::system::error_code& ec);

// sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL) of up to `count` iovecs.
std::size_t send_now(boost::asio::ip::tcp::socket& socket, const iovec* parts, std::size_t count,
                     boost::system::error_code& ec);

}  // namespace isens::initiator::transport
