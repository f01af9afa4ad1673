#pragma once
// A cap on logins in flight per target: an async semaphore. A waiter is a
// steady_timer that never expires; release() hands the slot straight to the
// longest waiter and cancels its timer to wake it. Used on one strand only,
// so it needs no lock.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>

namespace isens::subscribers::detail {

/// Per-target async semaphore of the failover subscriber (strand-confined).
class login_limiter {
 public:
  /// Allows `limit` (at least 1) slots per target; waiters wait on `executor`.
  login_limiter(boost::asio::any_io_executor executor, std::size_t limit);

  /// Waits for a slot of `target`; false when stopped meanwhile (then no slot is held).
  boost::asio::awaitable<bool> acquire(std::string target);
  /// Returns a slot of `target`: the longest waiter gets it.
  void release(const std::string& target);
  /// Wakes every waiter empty-handed; later acquires fail at once.
  void stop();

 private:
  struct waiter {
    explicit waiter(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    bool granted = false;
  };
  struct per_target {
    std::size_t in_flight = 0;
    std::deque<std::shared_ptr<waiter>> waiters;
  };

  boost::asio::any_io_executor executor_;
  std::size_t limit_;
  bool stopped_ = false;
  std::map<std::string, per_target> targets_;
};

/// Most slots any limiter held for one target at once since the last reset,
/// process-wide: lets a test see the login-storm cap hold against a real target.
std::size_t peak_logins_in_flight() noexcept;
/// Starts peak_logins_in_flight() over from 0.
void reset_peak_logins_in_flight() noexcept;

}  // namespace isens::subscribers::detail
