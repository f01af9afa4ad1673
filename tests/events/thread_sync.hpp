#pragma once
// Helpers for the bus and delivery-pool tests, whose subjects run on other
// threads: bounded polling and a gate a callback can block on.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace isens::events::test {

// Polls until `done` holds or a generous deadline passes (a failed wait is a
// failed test, not a hang).
template <class Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A one-shot gate a callback can block on.
class gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace isens::events::test
