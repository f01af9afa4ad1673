#pragma once
// The live side of GET /events (Server-Sent Events): one bus subscription
// for every browser, whatever their number. Each event is framed once and
// handed to the clients that are live; a client that resumes (Last-Event-ID,
// ?since=) reads the journal at its own pace first (sse_client). A ring of
// recent frames bridges the few microseconds the journal trails the bus.

#include "http_server.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/events/event_journal.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>

namespace isens::daemon {

class sse_client;

/// One SSE frame, shared by every client it is sent to.
struct sse_frame {
  std::uint64_t seq = 0;  ///< the event's seq; 0 for comments and notes
  std::shared_ptr<const std::string> text;
};

/// How the stream treats its clients.
struct event_hub_options {
  std::size_t client_queue_frames = 1024;  ///< a live client this far behind is closed (it resumes from the journal)
  std::chrono::milliseconds ping_interval{15000};  ///< a comment this often keeps proxies from closing idle streams
  std::chrono::milliseconds write_timeout{60000};  ///< a client that takes nothing for this long is closed
  std::size_t max_clients = 200;                   ///< streams open at once; beyond, 503
  std::size_t ring_frames = 1024;                  ///< recent frames kept for clients joining the live stream
};

/// Frames an event: `id: SEQ`, `event: KIND`, `data: JSON`.
sse_frame frame_event(const events::event& e);
/// Frames an `event: gap` note; `resume_at` becomes its id, so a reconnect goes on from there.
sse_frame frame_gap(std::uint64_t resume_at, std::uint64_t since, std::uint64_t oldest_available, const std::string& detail);

class event_hub : public std::enable_shared_from_this<event_hub> {
 public:
  event_hub(boost::asio::any_io_executor executor, events::event_bus& bus,
            std::shared_ptr<events::event_journal> journal, event_hub_options options);
  ~event_hub();

  /// Subscribes to the bus and starts the pings.
  void start();
  /// Unsubscribes and closes every client; call before the bus goes.
  void stop();
  /// The /events handler: validates Last-Event-ID / ?since=, then streams.
  boost::asio::awaitable<void> serve(boost::beast::tcp_stream stream, http_request request);

  /// The seq of the last frame the hub has seen (0 before any).
  std::uint64_t head() const noexcept { return head_; }
  /// Recent frames, contiguous in seq, ending at head().
  const std::deque<sse_frame>& ring() const noexcept { return ring_; }
  /// The journal resuming clients read.
  const events::event_journal& journal() const noexcept { return *journal_; }
  /// The options the hub was built with.
  const event_hub_options& options() const noexcept { return options_; }
  /// Streams open now.
  std::size_t client_count() const noexcept { return clients_.size(); }
  /// Clients closed because they lagged, since start.
  std::uint64_t lagging_closed() const noexcept { return lagging_closed_; }

  /// For sse_client: (un)registers a client for live frames.
  void attach(sse_client* client) { clients_.insert(client); }
  /// For sse_client: stops sending it frames.
  void detach(sse_client* client) { clients_.erase(client); }
  /// For sse_client: counts a client closed for lagging.
  void count_lagging() { ++lagging_closed_; }

 private:
  class forwarder;
  void publish(const events::event& e);
  void lost(std::uint64_t count);
  boost::asio::awaitable<void> ping_loop(std::shared_ptr<event_hub> self);

  boost::asio::any_io_executor executor_;
  events::event_bus& bus_;
  std::shared_ptr<events::event_journal> journal_;
  event_hub_options options_;
  events::subscription subscription_;
  std::deque<sse_frame> ring_;
  std::uint64_t head_ = 0;
  std::set<sse_client*> clients_;
  std::uint64_t lagging_closed_ = 0;
  bool stopped_ = false;
};

}  // namespace isens::daemon
