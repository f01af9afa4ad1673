#include "isens/unix_socket/stale_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <system_error>

namespace isens::unix_socket {

bool remove_if_stale(const std::filesystem::path& path) {
  std::error_code fs_error;
  if (!std::filesystem::exists(path, fs_error)) return true;
  // A blocking connect needs no running io_context: one of its own keeps the
  // probe off the caller's executor.
  boost::asio::io_context io;
  boost::asio::local::stream_protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(boost::asio::local::stream_protocol::endpoint(path.string()), ec);
  if (!ec) return false;
  std::filesystem::remove(path, fs_error);
  return true;
}

}  // namespace isens::unix_socket
