#pragma once
// A gate a bus or delivery-pool callback can block on (their subjects run
// on other threads; for bounded polling see tests/support/eventually.hpp).

#include <condition_variable>
#include <mutex>

namespace isens::events::test {

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
