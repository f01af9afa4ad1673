#include "transport/socket_calls.hpp"

#include <boost/asio/error.hpp>

#include <cerrno>
#include <string>

#include <sys/socket.h>

namespace isens::initiator::transport {

error socket_error(const boost::system::error_code& ec, const char* doing) {
  if (ec == boost::asio::error::eof) return make_error(errc::connection_closed, "the target closed the connection");
  if (ec == boost::asio::error::operation_aborted) return error{ec, std::string(doing) + " cancelled"};
  return make_error(errc::connection_closed, std::string(doing) + " failed: " + ec.message());
}

std::size_t receive_now(boost::asio::ip::tcp::socket& socket, void* data, std::size_t size,
                        boost::system::error_code& ec) {
  const auto n = ::recv(socket.native_handle(), data, size, MSG_DONTWAIT);
  if (n > 0) return static_cast<std::size_t>(n);
  if (n == 0) ec = boost::asio::error::eof;
  else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ec.assign(errno, boost::system::system_category());
  return 0;
}

std::size_t send_now(boost::asio::ip::tcp::socket& socket, const iovec* parts, std::size_t count,
                     boost::system::error_code& ec) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(parts);
  message.msg_iovlen = count;
  const auto n = ::sendmsg(socket.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) return static_cast<std::size_t>(n);
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ec.assign(errno, boost::system::system_category());
  return 0;
}

}  // namespace isens::initiator::transport
