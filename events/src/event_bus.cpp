#include "isens/events/event_bus.hpp"

#include "delivery_pool.hpp"
#include "delivery_queue.hpp"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>

namespace isens::events {

struct event_bus::owned_pool {
  explicit owned_pool(const bus_options& options)
      : pool(detail::delivery_pool_options{.threads = options.delivery_threads, .watch_for = options.spin_after_events}) {}
  detail::delivery_pool pool;  // its destructor runs what is queued, then joins
};

struct event_bus::core {
  core(detail::delivery_pool* pool, boost::asio::any_io_executor executor)
      : pool(pool),
        delivery_executor(std::move(executor)),
        boot_id(boost::uuids::to_string(boost::uuids::random_generator()())) {}

  // Where subscribers without an executor of their own are served: the
  // bus's own pool, or else the executor the bus was given.
  detail::delivery_pool* const pool;
  const boost::asio::any_io_executor delivery_executor;
  const std::string boot_id;

  // Shared with the delivery queues (weakly), which disconnect through it.
  // Its mutex serialises seq assignment with the emit, so every subscriber
  // sees events in seq order even with concurrent publishers.
  const std::shared_ptr<detail::bus_signal> signal = std::make_shared<detail::bus_signal>();
  std::atomic<std::uint64_t> last_seq{0};

  mutable std::mutex queues_mutex;
  std::vector<std::weak_ptr<detail::delivery_queue>> queues;  // for stats
};

event_bus::event_bus(std::size_t delivery_threads) : event_bus(bus_options{.delivery_threads = delivery_threads}) {}

event_bus::event_bus(bus_options options)
    : pool_(std::make_unique<owned_pool>(options)), core_(std::make_shared<core>(&pool_->pool, nullptr)) {}

event_bus::event_bus(boost::asio::any_io_executor delivery_executor)
    : core_(std::make_shared<core>(nullptr, std::move(delivery_executor))) {}

event_bus::~event_bus() {
  // Disconnect every slot so late publishes cannot reach a joined pool.
  std::lock_guard lock(core_->signal->mutex);
  core_->signal->signal.disconnect_all_slots();
}

std::uint64_t event_bus::publish(event e) {
  if (e.timestamp == std::chrono::system_clock::time_point{}) e.timestamp = std::chrono::system_clock::now();
  e.boot_id = core_->boot_id;
  // Allocated before taking the lock, so concurrent publishers wait only
  // for the emit itself. The event is const once shared; seq is its last
  // write, made under the lock that orders it.
  auto owned = std::make_shared<event>(std::move(e));
  event& stamped = *owned;
  const detail::event_ptr shared = std::move(owned);
  auto& bus = *core_->signal;
  std::lock_guard lock(bus.mutex);
  const auto seq = ++bus.seq;
  stamped.seq = seq;
  core_->last_seq.store(seq, std::memory_order_relaxed);
  bus.signal(shared);
  if (!bus.woken.empty()) detail::delivery_queue::schedule_woken(bus.woken, bus.to_submit);
  return seq;
}

subscription event_bus::subscribe(std::shared_ptr<subscriber> sink, event_filter filter, subscription_options options) {
  auto* pool = options.executor ? nullptr : core_->pool;
  auto executor = options.executor.value_or(core_->delivery_executor);
  auto queue = std::make_shared<detail::delivery_queue>(std::move(sink), std::move(filter), std::move(options.name),
                                                        options.queue_capacity, pool, std::move(executor));
  // From here on, leaving early (an exception) closes the queue again.
  subscription handle(queue);
  {
    std::lock_guard lock(core_->signal->mutex);
    // The slot may hold the queue by plain pointer: the queue is owned by
    // its subscription handle (and drains in flight), and close() - run
    // before the handle lets go - disconnects under this same mutex, so no
    // emit can reach a queue that is gone.
    auto* bus = core_->signal.get();
    auto connection = bus->signal.connect([q = queue.get(), bus](const detail::event_ptr& e) {
      if (q->enqueue(e)) bus->woken.push_back(q);
    });
    queue->attach(core_->signal, std::move(connection));
  }
  {
    std::lock_guard lock(core_->queues_mutex);
    auto& queues = core_->queues;
    queues.erase(std::remove_if(queues.begin(), queues.end(), [](const auto& w) { return w.expired(); }), queues.end());
    queues.push_back(queue);
  }
  return handle;
}

const std::string& event_bus::boot_id() const noexcept { return core_->boot_id; }

void event_bus::continue_after(std::uint64_t seq) {
  auto& bus = *core_->signal;
  std::lock_guard lock(bus.mutex);
  if (seq <= bus.seq) return;
  bus.seq = seq;
  core_->last_seq.store(seq, std::memory_order_relaxed);
}

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
