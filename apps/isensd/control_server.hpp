#pragma once
// The control socket: a Unix domain socket speaking JSON-RPC 2.0, one JSON
// object per line. Each client is served on its own strand; `subscribe`
// turns the connection into an event stream (optionally replayed from the
// journal first). Mutating methods need root or the socket's group
// (checked with SO_PEERCRED).

#include "rpc_methods.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/events/event_journal.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <filesystem>
#include <functional>
#include <optional>

namespace isens::daemon {

// Events read back from the journal for a subscriber that resumes.
struct replay_batch {
  std::vector<events::event> events;  // seq > the requested one, in order
  bool gap = false;                   // the journal no longer has all of them
  std::uint64_t oldest_available = 0;
  events::journal_read_position position;  // pass back to read on from here without rescanning the segment
};

// Read access to the event journal for subscribers that resume.
struct journal_reader {
  // Events after a seq, at most max; `from` is the position of the batch
  // before (a stale or empty one only costs a scan).
  std::function<replay_batch(std::uint64_t after_seq, std::size_t max, const events::journal_read_position& from)>
      read;
  std::function<std::uint64_t()> last_seq;  // the last seq the journal has written
  explicit operator bool() const { return static_cast<bool>(read); }
};

struct control_server_options {
  std::filesystem::path socket_path;
  unsigned socket_mode = 0660;
  std::optional<std::string> socket_group;
  std::size_t max_line_bytes = 1 << 20;
};

class control_server {
 public:
  control_server(boost::asio::any_io_executor executor, control_server_options options, rpc_methods& methods,
                 events::event_bus& bus, journal_reader journal = {});
  ~control_server();

  // Throws std::runtime_error when a live isensd answers on the socket
  // (and removes a stale one): checked before any other listener opens.
  void refuse_if_taken() const;
  // Creates the socket (refusing to steal one a live isensd answers on) and
  // starts accepting. Throws std::runtime_error with the path and cause.
  void start();
  // Stops accepting and removes the socket file.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();

  boost::asio::any_io_executor executor_;
  control_server_options options_;
  rpc_methods& methods_;
  events::event_bus& bus_;
  journal_reader journal_;
  std::optional<boost::asio::local::stream_protocol::acceptor> acceptor_;
  unsigned socket_gid_ = 0;
};

}  // namespace isens::daemon
