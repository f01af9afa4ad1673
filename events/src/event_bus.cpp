#include "isens/events/event_bus.hpp"

#include "delivery_queue.hpp"

#include <boost/asio/thread_pool.hpp>
#include <boost/signals2/signal.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <algorithm>
#include <mutex>

namespace isens::events {

struct event_bus::owned_pool {
  explicit owned_pool(std::size_t threads) : pool(std::max<std::size_t>(threads, 1)) {}
  ~owned_pool() { pool.join(); }
  boost::asio::thread_pool pool;
};

struct event_bus::core {
  explicit core(boost::asio::any_io_executor executor)
      : delivery_executor(std::move(executor)), boot_id(boost::uuids::to_string(boost::uuids::random_generator()())) {}

  boost::asio::any_io_executor delivery_executor;
  const std::string boot_id;

  // Serialises seq assignment with the emit, so every subscriber sees
  // events in seq order even with concurrent publishers.
  std::mutex publish_mutex;
  std::uint64_t seq = 0;  // guarded by publish_mutex
  std::atomic<std::uint64_t> last_seq{0};
  boost::signals2::signal<void(const detail::event_ptr&)> signal;

  mutable std::mutex queues_mutex;
  std::vector<std::weak_ptr<detail::delivery_queue>> queues;  // for stats
};

event_bus::event_bus(std::size_t delivery_threads)
    : pool_(std::make_unique<owned_pool>(delivery_threads)),
      core_(std::make_shared<core>(pool_->pool.get_executor())) {}

event_bus::event_bus(boost::asio::any_io_executor delivery_executor)
    : core_(std::make_shared<core>(std::move(delivery_executor))) {}

event_bus::~event_bus() {
  // Disconnect every slot so late publishes cannot reach a joined pool.
  core_->signal.disconnect_all_slots();
}

std::uint64_t event_bus::publish(event e) {
  if (e.timestamp == std::chrono::system_clock::time_point{}) e.timestamp = std::chrono::system_clock::now();
  e.boot_id = core_->boot_id;
  std::lock_guard lock(core_->publish_mutex);
  e.seq = ++core_->seq;
  core_->last_seq.store(e.seq, std::memory_order_relaxed);
  const auto seq = e.seq;
  core_->signal(std::make_shared<const event>(std::move(e)));
  return seq;
}

subscription event_bus::subscribe(std::shared_ptr<subscriber> sink, event_filter filter, subscription_options options) {
  auto executor = options.executor.value_or(core_->delivery_executor);
  auto queue = std::make_shared<detail::delivery_queue>(std::move(sink), std::move(filter), std::move(options.name),
                                                        options.queue_capacity, std::move(executor));
  // The slot holds the queue weakly: a queue is owned by its subscription
  // handle (and by drains in flight), never by the bus.
  auto connection = core_->signal.connect([weak = std::weak_ptr(queue)](const detail::event_ptr& e) {
    if (auto q = weak.lock()) q->enqueue(e);
  });
  queue->attach(connection);
  {
    std::lock_guard lock(core_->queues_mutex);
    auto& queues = core_->queues;
    queues.erase(std::remove_if(queues.begin(), queues.end(), [](const auto& w) { return w.expired(); }), queues.end());
    queues.push_back(queue);
  }
  return subscription(std::move(queue));
}

const std::string& event_bus::boot_id() const noexcept { return core_->boot_id; }

std::uint64_t event_bus::last_seq() const noexcept { return core_->last_seq.load(std::memory_order_relaxed); }

std::vector<subscription_stats> event_bus::stats() const {
  std::vector<subscription_stats> out;
  std::lock_guard lock(core_->queues_mutex);
  for (const auto& weak : core_->queues) {
    const auto q = weak.lock();
    if (!q || q->closed()) continue;
    out.push_back({q->name(), q->delivered(), q->lost(), q->errors(), q->depth()});
  }
  return out;
}

// --- subscription ---------------------------------------------------------

subscription::subscription(std::shared_ptr<detail::delivery_queue> queue) : queue_(std::move(queue)) {}
subscription::subscription(subscription&&) noexcept = default;

subscription& subscription::operator=(subscription&& other) noexcept {
  if (this != &other) {
    unsubscribe();
    queue_ = std::move(other.queue_);
  }
  return *this;
}

subscription::~subscription() { unsubscribe(); }

void subscription::unsubscribe() {
  if (queue_) queue_->close();
}

bool subscription::active() const noexcept { return queue_ && !queue_->closed(); }
std::uint64_t subscription::delivered() const noexcept { return queue_ ? queue_->delivered() : 0; }
std::uint64_t subscription::lost() const noexcept { return queue_ ? queue_->lost() : 0; }
std::uint64_t subscription::errors() const noexcept { return queue_ ? queue_->errors() : 0; }
std::size_t subscription::queue_depth() const { return queue_ ? queue_->depth() : 0; }

}  // namespace isens::events
