#pragma once
// Resolving a portal and opening a TCP connection to it.

#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>

namespace isens::initiator::transport {

// Connects `socket` to `where` (trying every resolved address), with
// TCP_NODELAY set: iSCSI PDUs are small request/response exchanges. Fails
// with connect_timeout when `limit` passes first. The socket's executor must
// be serial (see socket_deadline).
boost::asio::awaitable<result<void>> tcp_connect(boost::asio::ip::tcp::socket& socket, const portal& where,
                                                 std::chrono::milliseconds limit);

}  // namespace isens::initiator::transport
