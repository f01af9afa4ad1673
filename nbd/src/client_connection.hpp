#pragma once
// One NBD client: the handshake, then the transmission phase. Requests are
// read one after another and handed to the data path at once, so many are
// in flight; each is answered when its command completes, in whatever
// order that is (matched by cookie). One write to the socket is in flight
// at a time and carries every reply queued meanwhile.

#include "buffer_pool.hpp"
#include "export_table.hpp"
#include "server_context.hpp"
#include "wire.hpp"

#include <isens/events/event.hpp>
#include <isens/initiator/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace isens::nbd::detail {

class client_connection : public std::enable_shared_from_this<client_connection> {
 public:
  using socket_type = boost::asio::generic::stream_protocol::socket;

  client_connection(std::shared_ptr<server_context> context, socket_type socket, std::uint64_t id, std::string peer);

  // Negotiates and serves until the client leaves or close() is called.
  void start();
  // Stops reading requests; those in flight are answered, then the
  // connection closes (its export went away, or the server stops).
  void close(events::event_reason reason, std::string why);

 private:
  // One request from its header to its reply.
  struct request {
    wire::request_header header;
    buffer_pool::buffer payload;  // READ: filled by the data path; WRITE: from the socket
    std::uint32_t error = 0;
    std::chrono::steady_clock::time_point started;
    wire::reply_header reply;
  };
  using request_ptr = std::unique_ptr<request>;

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> transmit();
  // Fills `out` with the next `n` bytes of the stream: first from the
  // receive buffer, then, for a payload (`direct`), straight from the
  // socket into place, else by reading what is there into the buffer (one
  // recv often brings several requests).
  boost::asio::awaitable<boost::system::error_code> receive(std::byte* out, std::size_t n, bool direct);
  // Reads and discards `length` payload bytes of a refused WRITE.
  boost::asio::awaitable<bool> discard_payload(std::uint32_t length);
  // The error to answer `h` with before it reaches the data path, or 0.
  std::uint32_t check(const wire::request_header& h) const;
  void submit(request_ptr r);
  void submit_flush(request_ptr r);
  void complete(request_ptr r, const initiator::result<void>& outcome);
  void queue_reply(request_ptr r);
  void write_replies();
  void on_written(const boost::system::error_code& ec);
  void maybe_finish();
  request_ptr new_request();
  void recycle(request_ptr r);
  void attach();
  void publish(events::event_kind kind, events::event_reason reason, std::string detail);
  template <class Handler>
  auto on_executor(Handler&& h);

  std::shared_ptr<server_context> context_;
  socket_type socket_;
  std::uint64_t id_;
  std::string peer_;
  std::shared_ptr<export_state> export_;
  bool structured_ = false;
  std::uint64_t lba_shift_ = 0;  // log2 of the block size

  boost::asio::cancellation_signal read_cancel_;  // stops the reader, never a write
  std::array<std::byte, 16384> received_{};       // read ahead of the request being parsed
  std::size_t received_begin_ = 0, received_end_ = 0;
  boost::asio::steady_timer slot_free_;           // the reader waits on it while too many requests are out
  bool reader_waiting_ = false;
  bool reader_done_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool broken_ = false;  // the socket failed: replies are dropped
  std::size_t outstanding_ = 0;  // read and not yet written back
  events::event_reason leave_reason_ = events::event_reason::peer_closed;
  std::string leave_detail_;

  std::vector<request_ptr> queued_;   // replies waiting for the socket
  std::vector<request_ptr> sending_;  // replies in the write in flight
  std::vector<boost::asio::const_buffer> gather_;
  bool writing_ = false;

  buffer_pool buffers_;
  std::vector<request_ptr> spare_requests_;
};

}  // namespace isens::nbd::detail
