// The bridge's thread and its link to NATS: connecting (with retries and one
// line per distinct failure), the callbacks libnats calls, heartbeats, the
// cursor file, and the public facade. Replay and publishing are in
// bridge_replay.cpp.
#include "bridge_state.hpp"

#include "cursor_file.hpp"
#include "isens/fleet/nats_error.hpp"
#include "isens/fleet/stream_setup.hpp"

#include <isens/events/thread_signals.hpp>

#include <spdlog/spdlog.h>

namespace isens::fleet {

using clock = std::chrono::steady_clock;

namespace {

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

}  // namespace

void bridge::impl::report_problem_locked(const char* kind, const std::string& problem) {
  if (!outage_since) {
    outage_since = clock::now();
    ++counters.outages;
  }
  // A link already reported lost explains every failure until it is back.
  if (kind == last_problem || outage_reported) {
    spdlog::debug("nats bridge: {}", problem);
    return;
  }
  last_problem = kind;
  spdlog::warn("nats bridge: {}; retrying every {} ms, events wait in the journal", problem,
               options.retry_interval.count());
}

bool bridge::impl::connect() {
  connection_callbacks callbacks;
  callbacks.disconnected = [this] { on_disconnected(); };
  callbacks.reconnected = [this] { on_reconnected(); };
  callbacks.closed = [this] { on_closed(); };
  callbacks.publish_result = [this](natsMsg* m, jsPubAck* a, jsPubAckErr* e) { on_publish_result(m, a, e); };
  callbacks.async_error = [](const std::string& what) { spdlog::warn("nats bridge: {}", what); };
  std::string done;
  std::unique_ptr<nats_connection> made;
  try {
    made = nats_connection::connect(options.nats, std::move(callbacks));
  } catch (const std::exception& ex) {
    std::lock_guard lock(mutex);
    report_problem_locked("connect", ex.what());
    return false;
  }
  try {
    done = ensure_stream(made->jetstream(), options.stream);
  } catch (const std::exception& ex) {
    made.reset();  // closed before the lock: its callbacks take it
    std::lock_guard lock(mutex);
    report_problem_locked("stream", ex.what());
    return false;
  }
  connection = std::move(made);
  published_on_connection = false;
  std::lock_guard lock(mutex);
  link_up = true;
  link_closed = false;
  resync_needed = true;
  const auto url = connection->connected_url();
  if (outage_since) {
    spdlog::info("nats bridge: connected to {} after {:.1f} s, stream {} {}", url, seconds_since(*outage_since),
                 options.stream.name, done);
  } else {
    spdlog::info("nats bridge: connected to {}, stream {} {}, host {}", url, options.stream.name, done,
                 options.host_token);
  }
  outage_since.reset();
  outage_reported = false;
  last_problem.clear();
  return true;
}

void bridge::impl::on_disconnected() {
  std::lock_guard lock(mutex);
  link_up = false;
  resync_needed = true;
  if (!outage_reported) {
    outage_reported = true;
    if (!outage_since) {
      outage_since = clock::now();
      ++counters.outages;
    }
    spdlog::warn("nats bridge: lost the connection to NATS; events wait in the journal and are replayed on reconnect");
  }
}

void bridge::impl::on_reconnected() {
  std::lock_guard lock(mutex);
  link_up = true;
  resync_needed = true;
  if (outage_since) spdlog::info("nats bridge: reconnected after {:.1f} s", seconds_since(*outage_since));
  outage_since.reset();
  outage_reported = false;
  last_problem.clear();
  woken = true;
  wake.notify_all();
}

void bridge::impl::on_closed() {
  std::lock_guard lock(mutex);
  link_up = false;
  link_closed = true;
  resync_needed = true;
  woken = true;
  wake.notify_all();
}

void bridge::impl::wait_for(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex);
  wake.wait_for(lock, limit, [&] { return woken || stopping; });
  woken = false;
}

void bridge::impl::heartbeat_if_due() {
  if (options.heartbeat_interval.count() == 0 || clock::now() < next_heartbeat) return;
  next_heartbeat = clock::now() + options.heartbeat_interval;
  std::uint64_t acked = 0;
  {
    std::lock_guard lock(mutex);
    acked = window.cursor();
  }
  const auto body = heartbeat_json(options.host, options.boot_id, journal->last_seq(), acked);
  natsConnection_Publish(connection->handle(), heartbeat_subject(options.host_token).c_str(), body.data(),
                         static_cast<int>(body.size()));
}

void bridge::impl::store_cursor_if_due(bool now) {
  if (options.cursor_file.empty() || (!now && clock::now() < next_cursor_store)) return;
  next_cursor_store = clock::now() + std::chrono::milliseconds(200);
  std::uint64_t cursor = 0;
  {
    std::lock_guard lock(mutex);
    cursor = window.cursor();
    if (cursor == stored_cursor) return;
  }
  if (!store_cursor(options.cursor_file, cursor)) {
    std::lock_guard lock(mutex);
    report_problem_locked("cursor", "cannot write the cursor file " + options.cursor_file.string());
    return;
  }
  std::lock_guard lock(mutex);
  stored_cursor = cursor;
}

void bridge::impl::drain(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex);
  // An ack that has not come ack_timeout after its publish is lost: no
  // longer than that for the last one sent.
  auto until = clock::now() + limit;
  if (const auto newest = window.newest_sent()) until = std::min(until, *newest + options.ack_timeout);
  wake.wait_until(lock, until, [&] { return window.in_flight() == 0 || !link_up; });
}

void bridge::impl::forget_unanswered() {
  // libnats 3.4.1 makes its pending map at the first async publish and
  // crashes when asked for it before.
  if (!published_on_connection) return;
  natsMsgList unanswered{};
  if (js_PublishAsyncGetPendingList(&unanswered, connection->jetstream()) == NATS_OK) natsMsgList_Destroy(&unanswered);
}

void bridge::impl::time_out_lost_ack() {
  std::lock_guard lock(mutex);
  if (resync_needed) return;
  const auto position = window.overdue(clock::now() - options.ack_timeout);
  if (!position) return;
  // As a failed publish: the resync waits for the rest (each up to its own
  // ack_timeout) and replays from the stream's last message.
  window.failed(*position);
  resync_needed = true;
  ++counters.publish_errors;
  if (!outage_reported && link_up) {
    outage_reported = true;
    spdlog::warn("nats bridge: no ack for seq {} within {} ms; replaying from the stream's last message", *position,
                 options.ack_timeout.count());
  }
}

void bridge::impl::run() {
  if (!options.cursor_file.empty()) {
    const auto cursor = load_cursor(options.cursor_file).value_or(0);
    std::lock_guard lock(mutex);
    window.reset(cursor);
    stored_cursor = cursor;
    next_after = cursor;
  }
  for (;;) {
    bool closed = false, up = false, must_resync = false;
    {
      std::lock_guard lock(mutex);
      if (stopping) break;
      closed = link_closed;
      up = link_up;
      must_resync = resync_needed;
    }
    if (!connection || closed) {
      connection.reset();  // waits for its callbacks; none holds our mutex
      if (!connect()) wait_for(options.retry_interval);
      continue;
    }
    if (!up) {  // the client reconnects by itself
      wait_for(std::chrono::milliseconds(100));
      continue;
    }
    if (must_resync && !resync()) {
      wait_for(options.retry_interval);
      continue;
    }
    publish_more();
    time_out_lost_ack();
    heartbeat_if_due();
    store_cursor_if_due(false);
    wait_for(std::chrono::milliseconds(100));
  }
  if (connection) drain(options.ack_timeout);
  store_cursor_if_due(true);
  connection.reset();
}

bridge::bridge(bridge_options options, std::shared_ptr<events::event_journal> journal)
    : impl_(std::make_unique<impl>(std::move(options), std::move(journal))) {}

bridge::~bridge() { stop(); }

void bridge::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = events::start_thread_with_signals_blocked([this] { impl_->run(); });
}

void bridge::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->wake.notify_all();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

void bridge::notify() noexcept {
  std::lock_guard lock(impl_->mutex);
  impl_->woken = true;
  impl_->wake.notify_all();
}

void bridge::notify(std::span<events::journal_record> records) {
  auto& s = *impl_;
  std::lock_guard lock(s.mutex);
  for (auto& r : records)
    if (r.stored && s.fresh.size() < impl::hand_over_limit) s.fresh.push_back(std::move(r));
  // A full window would only make the thread look and sleep again: the ack
  // that frees a quarter of it wakes the thread (on_publish_result).
  if (s.link_up && !s.resync_needed && s.window_too_full_locked()) return;
  s.woken = true;
  s.wake.notify_all();
}

bridge_stats bridge::stats() const {
  std::lock_guard lock(impl_->mutex);
  bridge_stats s = impl_->counters;
  s.connected = impl_->link_up;
  s.head_seq = impl_->journal->last_seq();
  s.acked_seq = impl_->window.cursor();
  s.lag_events = s.head_seq > s.acked_seq ? s.head_seq - s.acked_seq : 0;
  if (impl_->last_ack) s.last_ack_age = clock::now() - *impl_->last_ack;
  return s;
}

const bridge_options& bridge::options() const noexcept { return impl_->options; }

}  // namespace isens::fleet
