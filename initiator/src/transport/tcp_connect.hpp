#pragma once
// Resolving a portal and opening a TCP connection to it, bounded in time.

#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>

namespace isens::initiator::transport {

// Connects to `where` (trying every resolved address) within `limit`, with
// TCP_NODELAY set: iSCSI PDUs are small request/response exchanges.
boost::asio::awaitable<result<boost::asio::ip::tcp::socket>> tcp_connect(const portal& where,
                                                                         std::chrono::milliseconds limit);

}  // namespace isens::initiator::transport
