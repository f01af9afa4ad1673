#pragma once
/// The NBD server: every disk LUN of every logged-in session as an export
/// named "<target-iqn>/<lun>" (alias "session/<id>/<lun>"), on a Unix
/// socket and optionally a TCP address. Exports appear at session_ready and
/// go at logoff; data moves only through the initiator's public facade,
/// straight between the socket and the buffers the data path uses.

#include "isens/nbd/export_info.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace isens::nbd {

/// Where and how the server listens.
struct server_options {
  std::filesystem::path unix_socket;       ///< empty: no Unix socket
  unsigned socket_mode = 0660;             ///< permissions of the Unix socket
  std::optional<unsigned> socket_gid;      ///< group of the Unix socket (default: the process's)
  std::string tcp_listen;                  ///< "host:port"; empty: no TCP listener
  std::uint32_t max_payload = 32u << 20;   ///< largest READ/WRITE (NBD_INFO_BLOCK_SIZE maximum)
  std::size_t max_clients = 1024;          ///< connections beyond this are closed at once
  std::size_t max_requests_per_client = 128;  ///< requests in flight per connection before reading pauses
  std::chrono::milliseconds handshake_timeout{30000};  ///< a client must finish negotiating within this
};

/// The server. Runs on one executor, which must not be run by several
/// threads at once (isensd's io_context); exports() may be called from any thread.
class server {
 public:
  /// Serves `ini`'s sessions, learned from `bus`, with events published there too.
  server(boost::asio::any_io_executor executor, initiator::initiator& ini, events::event_bus& bus,
         server_options options);
  /// Stops first if still running.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Opens the listeners (throws std::runtime_error with the reason if one
  /// cannot be opened) and subscribes to the bus; exports of sessions
  /// already ready are added at once.
  void start();
  /// Closes the listeners and every client connection (call on the executor).
  void stop();

  /// Every export, ordered by name.
  std::vector<export_info> exports() const;
  /// The URI of an export name (nbd+unix:// when there is a Unix socket, else nbd://).
  std::string uri(const std::string& export_name) const;
  /// The TCP port actually bound (useful with port 0); 0 without a TCP listener.
  std::uint16_t tcp_port() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace isens::nbd
