#pragma once
// One GET /events stream. It starts at a cursor (the seq the browser saw
// last) and reads the journal from there in small batches, only as fast as
// the browser takes them; once it reaches the hub's head it gets the live
// frames. Its queue is bounded: a live client that falls that far behind is
// closed, and its EventSource reconnects with Last-Event-ID and resumes from
// the journal, so isensd never holds more than the bound for it.

#include "event_hub.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <deque>
#include <memory>
#include <string>

namespace isens::daemon {

class sse_client : public std::enable_shared_from_this<sse_client> {
 public:
  /// A client of `hub` on `stream`, resuming after seq `cursor`; `preface`
  /// frames (a gap note) go first.
  sse_client(boost::beast::tcp_stream stream, std::shared_ptr<event_hub> hub, std::uint64_t cursor,
             std::deque<sse_frame> preface);
  ~sse_client();

  /// Writes the response head, then frames until the client goes or is closed.
  boost::asio::awaitable<void> run();
  /// A frame from the live stream (ignored unless live, and when already sent).
  void push_live(const sse_frame& frame);
  /// A comment or note for every client, live or not.
  void push_note(const sse_frame& frame);
  /// The hub lost events: take them from the journal instead.
  void fall_back_to_journal() { live_ = false; wake(); }
  /// Ends the stream. `abandon`: drop what the kernel still holds for the
  /// client at once (a reset, for a client that stopped reading: it resumes
  /// from the journal anyway) instead of trying to deliver it.
  void close(bool abandon = false);

 private:
  void enqueue(const sse_frame& frame);
  void wake();
  // Queues journal (or ring) frames after cursor_ while the queue is short.
  void fill();
  boost::asio::awaitable<void> watch_peer(std::shared_ptr<sse_client> self);

  boost::beast::tcp_stream stream_;
  std::shared_ptr<event_hub> hub_;
  std::uint64_t cursor_;
  events::journal_read_position journal_position_;  // where the last journal read stopped
  std::deque<sse_frame> outbox_;
  boost::asio::steady_timer wake_;
  bool live_ = false;
  bool closed_ = false;
  int journal_waits_ = 0;  // consecutive fills that found the journal behind the ring
};

}  // namespace isens::daemon
