#pragma once
// Resolving a portal and opening a TCP connection to it.

#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"
#include "transport/deadline.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace isens::initiator::transport {

// Connects `socket` to `where` (trying every resolved address), with
// TCP_NODELAY set: iSCSI PDUs are small request/response exchanges. Returns
// the address it connected to. Fails with connect_timeout, naming the
// deadline's limit, when `deadline` passes first. The caller restarts the
// same deadline for what follows the connect (one timer per connection).
boost::asio::awaitable<result<boost::asio::ip::tcp::endpoint>> tcp_connect(boost::asio::ip::tcp::socket& socket,
                                                                           const portal& where,
                                                                           const socket_deadline& deadline);

}  // namespace isens::initiator::transport
