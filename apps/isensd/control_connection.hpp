#pragma once
// One client of the control socket: reads request lines, answers them in
// order, and streams events after `subscribe`. Lives on its own strand.

#include "control_server.hpp"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <deque>
#include <memory>
#include <string>

namespace isens::daemon {

// What the peer is allowed to do, from its SO_PEERCRED credentials.
struct peer_rights {
  unsigned uid = 0;
  unsigned pid = 0;
  bool may_mutate = false;
};

// Reads the peer's credentials and decides whether it may call mutating
// methods: root, the daemon's own user, or a member of `socket_gid`.
peer_rights rights_of(boost::asio::local::stream_protocol::socket& socket, unsigned socket_gid);

class control_connection : public std::enable_shared_from_this<control_connection> {
 public:
  control_connection(boost::asio::local::stream_protocol::socket socket, peer_rights rights, rpc_methods& methods,
                     events::event_bus& bus, const journal_reader& journal, std::size_t max_line_bytes);

  // The strand this client runs on.
  boost::asio::any_io_executor socket_executor() { return socket_.get_executor(); }
  // Serves the client until it disconnects.
  boost::asio::awaitable<void> serve();
  // Queues one line (without newline) for the client; called on the strand.
  void send_line(std::string line);

 private:
  class event_forwarder;

  boost::asio::awaitable<void> handle_line(const std::string& line);
  boost::asio::awaitable<void> write_loop();
  void subscribe(const rpc_request& request);
  // Queues an event notification, or counts it lost when the client lags.
  void stream(const events::event& e);
  // Takes a live event: streams it, or holds it while the journal catches up.
  void deliver(const events::event& e);
  // Streams journal events up to `up_to`, waiting (bounded) for the journal
  // to write them, then the live events held meanwhile.
  boost::asio::awaitable<void> catch_up(std::uint64_t up_to);
  // Sends journal events after last_streamed_seq_ up to `up_to` that pass the filter.
  void replay(std::uint64_t up_to);

  boost::asio::local::stream_protocol::socket socket_;
  peer_rights rights_;
  rpc_methods& methods_;
  events::event_bus& bus_;
  const journal_reader& journal_;
  const std::size_t max_line_bytes_;

  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closing_ = false;
  std::uint64_t last_streamed_seq_ = 0;
  std::uint64_t dropped_ = 0;
  events::event_filter filter_;
  bool catching_up_ = false;            // journal replay in progress: live events wait in held_
  std::deque<events::event> held_;
  events::subscription subscription_;
};

}  // namespace isens::daemon
