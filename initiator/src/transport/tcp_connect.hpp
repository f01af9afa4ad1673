#pragma once
// Resolving a portal and opening a TCP connection to it.

#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"
#include "transport/deadline.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>

namespace isens::initiator::transport {

// Connects `socket` to `where` (trying every resolved address), with
// TCP_NODELAY set: iSCSI PDUs are small request/response exchanges. Returns
// the address it connected to. Fails with connect_timeout when `deadline`
// passes first; `limit`, what it was armed with, is for the message. The
// caller restarts the same deadline for what follows the connect (one timer
// per connection).
boost::asio::awaitable<result<boost::asio::ip::tcp::endpoint>> tcp_connect(boost::asio::ip::tcp::socket& socket,
                                                                           const portal& where,
                                                                           const socket_deadline& deadline,
                                                                           std::chrono::milliseconds limit);

// The same under a deadline of its own, `limit` from now. The socket's
// executor must be serial (see socket_deadline).
boost::asio::awaitable<result<boost::asio::ip::tcp::endpoint>> tcp_connect(boost::asio::ip::tcp::socket& socket,
                                                                           const portal& where,
                                                                           std::chrono::milliseconds limit);

}  // namespace isens::initiator::transport
