#include "sse_client.hpp"
#include "use_tuple.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace isens::daemon {

namespace asio = boost::asio;

namespace {

// Close-delimited: no Content-Length, no chunking, never compressed.
constexpr std::string_view response_head =
    "HTTP/1.1 200 OK\r\n"
    "Server: isensd\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\n"
    "Connection: close\r\n"
    "\r\n"
    // Sent at once: a browser (or proxy) that sees no bytes takes the server for hung.
    "retry: 2000\n"
    ": connected\n\n";

// Journal events read per fill: small, so a slow reader never costs much memory.
constexpr std::size_t batch_events = 256;
// SO_SNDBUF of a stream (the kernel doubles it).
constexpr int send_buffer_bytes = 64 * 1024;
// How long (in 2 ms waits) a fill waits for the journal to catch up with the ring.
constexpr int max_journal_waits = 1000;

}  // namespace

sse_client::sse_client(boost::beast::tcp_stream stream, std::shared_ptr<event_hub> hub, std::uint64_t cursor,
                       std::deque<sse_frame> preface)
    : stream_(std::move(stream)),
      hub_(std::move(hub)),
      cursor_(cursor),
      outbox_(std::move(preface)),
      wake_(stream_.get_executor()) {}

sse_client::~sse_client() { hub_->detach(this); }

void sse_client::wake() { wake_.cancel(); }

void sse_client::close(bool abandon) {
  if (closed_) return;
  closed_ = true;
  hub_->detach(this);
  boost::system::error_code ignored;
  if (abandon) stream_.socket().set_option(asio::socket_base::linger(true, 0), ignored);
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  wake();
}

void sse_client::enqueue(const sse_frame& frame) {
  outbox_.push_back(frame);
  wake();
}

void sse_client::push_note(const sse_frame& frame) {
  if (!closed_) enqueue(frame);
}

void sse_client::push_live(const sse_frame& frame) {
  if (closed_ || !live_ || frame.seq <= cursor_) return;
  if (frame.seq != cursor_ + 1) {  // a hole: the journal has what lies in it
    live_ = false;
    wake();
    return;
  }
  if (outbox_.size() >= hub_->options().client_queue_frames) {
    spdlog::info("events stream: closing a client {} frames behind (it resumes from the journal)", outbox_.size());
    hub_->count_lagging();
    close(true);
    return;
  }
  cursor_ = frame.seq;
  enqueue(frame);
}

void sse_client::fill() {
  const auto& ring = hub_->ring();
  while (!live_ && !closed_ && outbox_.size() < hub_->options().client_queue_frames / 2) {
    if (cursor_ >= hub_->head()) {
      live_ = true;
      break;
    }
    // The ring bridges the journal's lag behind the bus, no more: what the
    // journal has let go is a gap, even if the ring still holds it.
    if (!ring.empty() && ring.front().seq <= cursor_ + 1 && cursor_ + 1 >= hub_->journal().first_seq()) {
      for (const auto& f : ring)
        if (f.seq > cursor_) outbox_.push_back(f);
      cursor_ = hub_->head();
      live_ = true;
      break;
    }
    const auto batch = hub_->journal().read_since(cursor_, batch_events, journal_position_);
    journal_position_ = batch.position;  // the next read goes on from here (ignored if cursor_ moves otherwise)
    const auto before = cursor_;
    const auto reach = batch.events.empty() ? batch.next_after : std::max(batch.next_after, batch.events.back().seq);
    if (batch.gap) {
      outbox_.push_back(frame_gap(reach, cursor_, batch.oldest_available,
                                  "the journal no longer holds these events; resync from /api/sessions"));
    }
    for (const auto& e : batch.events) outbox_.push_back(frame_event(e));
    cursor_ = std::max(cursor_, reach);
    if (cursor_ > before) {
      journal_waits_ = 0;
      continue;
    }
    // The journal writes a little after the bus: wait for it, bounded.
    if (++journal_waits_ < max_journal_waits) break;  // run() retries after a short pause
    const auto resume = ring.empty() ? hub_->head() : ring.front().seq - 1;
    outbox_.push_back(frame_gap(resume, cursor_, batch.oldest_available, "these events never reached the journal"));
    cursor_ = resume;
    journal_waits_ = 0;
  }
}

asio::awaitable<void> sse_client::watch_peer(std::shared_ptr<sse_client> self) {
  (void)self;  // keeps the client alive while it watches
  // The browser sends nothing after its request: reading ends when it goes.
  char byte = 0;
  for (;;) {
    auto [ec, n] = co_await stream_.socket().async_read_some(asio::buffer(&byte, 1), use_tuple);
    if (ec) break;
  }
  close();
}

asio::awaitable<void> sse_client::run() {
  const auto self = shared_from_this();
  hub_->attach(this);
  // The kernel's share of a client that stops reading stays small too; the
  // queue above it is bounded in frames.
  boost::system::error_code ignored;
  stream_.socket().set_option(asio::socket_base::send_buffer_size(send_buffer_bytes), ignored);
  asio::co_spawn(stream_.get_executor(), watch_peer(self), asio::detached);
  stream_.expires_after(hub_->options().write_timeout);
  auto [head_ec, head_n] = co_await asio::async_write(stream_, asio::buffer(response_head), use_tuple);
  if (head_ec) {
    close();
    co_return;
  }
  while (!closed_) {
    if (!live_) fill();
    if (outbox_.empty()) {
      // Nothing to send: wait for a frame, or briefly for the journal.
      wake_.expires_after(live_ ? std::chrono::hours(24) : std::chrono::milliseconds(2));
      co_await wake_.async_wait(use_tuple);
      continue;
    }
    // Write everything queued in one go; frames are shared, not copied.
    std::vector<asio::const_buffer> buffers;
    const auto count = std::min<std::size_t>(outbox_.size(), 64);
    for (std::size_t i = 0; i < count; ++i) buffers.push_back(asio::buffer(*outbox_[i].text));
    stream_.expires_after(hub_->options().write_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, buffers, use_tuple);
    if (ec) {
      if (ec == boost::beast::error::timeout) {
        spdlog::info("events stream: closing a client that took nothing for {} ms",
                     hub_->options().write_timeout.count());
        hub_->count_lagging();
        close(true);
      }
      break;
    }
    outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(count));
  }
  close();
}

}  // namespace isens::daemon
