#pragma once
// The thread a side that is not isens runs its rounds on: start() hands it a
// round, and it runs `run` on it; stop() (or the destructor) joins it.

#include "workload.hpp"

#include <pthread.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace isens::bench {

class side_thread {
 public:
  /// `name` is the thread's name (what `perf report --comms` shows).
  side_thread(std::string name, std::function<void(round_state&)> run)
      : name_(std::move(name)), run_(std::move(run)), thread_([this] { main(); }) {}
  ~side_thread() { stop(); }
  side_thread(const side_thread&) = delete;
  side_thread& operator=(const side_thread&) = delete;

  void start(round_state& state) {
    {
      std::lock_guard lock(mutex_);
      pending_ = &state;
    }
    wake_.notify_all();
  }

  /// Ends the thread after the round it runs, if any.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void main() {
    ::pthread_setname_np(::pthread_self(), name_.substr(0, 15).c_str());
    while (true) {
      round_state* state = nullptr;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || pending_ != nullptr; });
        if (stop_) return;
        state = std::exchange(pending_, nullptr);
      }
      run_(*state);
    }
  }

  std::string name_;
  std::function<void(round_state&)> run_;
  std::mutex mutex_;
  std::condition_variable wake_;
  round_state* pending_ = nullptr;
  bool stop_ = false;
  std::thread thread_;  // last: it starts once the rest is ready
};

}  // namespace isens::bench
