#include "delivery_queue.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <exception>

namespace isens::events::detail {

delivery_queue::delivery_queue(std::shared_ptr<subscriber> sink, event_filter filter, std::string name,
                               std::size_t capacity, boost::asio::any_io_executor executor)
    : sink_(std::move(sink)),
      filter_(std::move(filter)),
      name_(std::move(name)),
      capacity_(capacity == 0 ? 1 : capacity),
      strand_(boost::asio::make_strand(std::move(executor))) {
  pending_.reserve(std::min<std::size_t>(capacity_, 1024));
}

void delivery_queue::enqueue(const event_ptr& e) {
  if (closed() || !filter_.matches(*e)) return;
  bool schedule = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= capacity_) {
      ++lost_pending_;
    } else {
      pending_.push_back(e);
    }
    schedule = !std::exchange(drain_scheduled_, true);
  }
  if (schedule) boost::asio::post(strand_, [self = shared_from_this()] { self->drain(); });
}

void delivery_queue::attach(boost::signals2::connection connection) {
  std::lock_guard lock(mutex_);
  connection_ = std::move(connection);
}

void delivery_queue::close() {
  closed_.store(true, std::memory_order_release);
  boost::signals2::connection connection;
  {
    std::lock_guard lock(mutex_);
    connection = std::move(connection_);
    pending_.clear();
    lost_pending_ = 0;
  }
  connection.disconnect();
}

std::size_t delivery_queue::depth() const {
  std::lock_guard lock(mutex_);
  return pending_.size() + batch_.size();
}

template <class Callback>
void delivery_queue::call_guarded(Callback&& callback) {
  // A subscriber that throws on every event must not flood the log: report
  // the 1st, 2nd, 4th, 8th… failure, each with the running count.
  auto count_and_log = [this](const char* what) {
    const auto n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
    if ((n & (n - 1)) == 0) spdlog::warn("subscriber '{}' threw ({} so far): {}", name_, n, what);
  };
  try {
    callback();
  } catch (const std::exception& ex) {
    count_and_log(ex.what());
  } catch (...) {
    count_and_log("a non-standard exception");
  }
}

void delivery_queue::drain() {
  std::uint64_t lost_after_batch = 0;
  {
    std::lock_guard lock(mutex_);
    batch_.swap(pending_);
    lost_after_batch = std::exchange(lost_pending_, 0);
  }
  // Events were lost only while pending_ was full, i.e. after everything in
  // this batch: the gap is reported after the batch, exactly where it occurred.
  for (const auto& e : batch_) {
    if (closed()) break;
    call_guarded([&] { dispatch(*sink_, *e); });
    delivered_.fetch_add(1, std::memory_order_relaxed);
  }
  if (lost_after_batch != 0 && !closed()) {
    lost_.fetch_add(lost_after_batch, std::memory_order_relaxed);
    call_guarded([&] { sink_->on_gap(lost_after_batch); });
  }
  std::lock_guard lock(mutex_);
  batch_.clear();
  if (pending_.empty() && lost_pending_ == 0) {
    drain_scheduled_ = false;
  } else {
    boost::asio::post(strand_, [self = shared_from_this()] { self->drain(); });
  }
}

}  // namespace isens::events::detail
