#include "failover_limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>

namespace isens::subscribers::detail {

namespace asio = boost::asio;

namespace {

std::atomic<std::size_t> peak{0};

void note_in_flight(std::size_t now) noexcept {
  auto seen = peak.load(std::memory_order_relaxed);
  while (now > seen && !peak.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::size_t peak_logins_in_flight() noexcept { return peak.load(std::memory_order_relaxed); }

void reset_peak_logins_in_flight() noexcept { peak.store(0, std::memory_order_relaxed); }

login_limiter::login_limiter(asio::any_io_executor executor, std::size_t limit)
    : executor_(std::move(executor)), limit_(std::max<std::size_t>(limit, 1)) {}

asio::awaitable<bool> login_limiter::acquire(std::string target) {
  if (stopped_) co_return false;
  auto& slots = targets_[target];
  if (slots.in_flight < limit_) {
    note_in_flight(++slots.in_flight);
    co_return true;
  }
  auto me = std::make_shared<waiter>(executor_);
  me->timer.expires_at(asio::steady_timer::time_point::max());
  slots.waiters.push_back(me);
  // Wakes only by cancel(): from release() with the slot, or from stop() without.
  co_await me->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return me->granted;
}

void login_limiter::release(const std::string& target) {
  const auto found = targets_.find(target);
  if (found == targets_.end()) return;
  auto& slots = found->second;
  if (!slots.waiters.empty() && !stopped_) {
    // The slot passes on without in_flight dropping, so no newcomer can jump the queue.
    auto next = std::move(slots.waiters.front());
    slots.waiters.pop_front();
    next->granted = true;
    next->timer.cancel();
    return;
  }
  if (slots.in_flight > 0) --slots.in_flight;
  if (slots.in_flight == 0 && slots.waiters.empty()) targets_.erase(found);
}

void login_limiter::stop() {
  stopped_ = true;
  for (auto& [name, slots] : targets_) {
    for (auto& w : slots.waiters) w->timer.cancel();
    slots.waiters.clear();
  }
}

}  // namespace isens::subscribers::detail
