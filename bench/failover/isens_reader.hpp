#pragma once
// The isens side of the reading-through-a-drop comparison: READ CAPACITY in
// a loop on the initiator's io thread, with the longest gap between two
// completed commands in a window (the libiscsi reader's figure, for isens).

#include "isens/initiator/initiator.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace isens::bench {

namespace asio = boost::asio;

// The isens counterpart of the libiscsi reader: READ CAPACITY in a loop on
// the io thread (the facade has no READ; one small command per round trip
// either way). With recovery_hold set, commands issued while the session is
// down wait for the failover and are then sent; the caller sees no error.
/// READ CAPACITY in a loop through the facade; the main thread toggles and reads it.
struct isens_reader {
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  std::mutex mutex;  // guards the rest
  std::int64_t last_ns = 0;
  std::int64_t window_max_ns = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  std::string first_error;
  std::vector<std::int64_t> window_completions;  // every completion since reset_window()

  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void set_running(bool on) {
    std::lock_guard lock(mutex);
    last_ns = 0;
    running = on;
  }
  void reset_window() {
    std::lock_guard lock(mutex);
    window_max_ns = 0;
    window_completions.clear();
  }
  // The last completion before `t` and the first after `u`, as ms from t and u (-1 when none).
  std::pair<double, double> around(std::chrono::steady_clock::time_point t, std::chrono::steady_clock::time_point u) {
    const auto tn = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    const auto un = std::chrono::duration_cast<std::chrono::nanoseconds>(u.time_since_epoch()).count();
    std::lock_guard lock(mutex);
    double before = -1, after = -1;
    for (auto c : window_completions) {
      if (c <= tn) before = static_cast<double>(tn - c) / 1e6;
      if (c >= un && after < 0) after = static_cast<double>(c - un) / 1e6;
    }
    return {before, after};
  }
  double window_max_gap_ms() {
    std::lock_guard lock(mutex);
    return static_cast<double>(window_max_ns) / 1e6;
  }
  std::uint64_t completed_count() {
    std::lock_guard lock(mutex);
    return completed;
  }

  asio::awaitable<void> loop(isens::initiator::initiator& ini, std::uint64_t session_id) {
    asio::steady_timer idle(co_await asio::this_coro::executor);
    while (!stop) {
      if (!running) {
        idle.expires_after(std::chrono::milliseconds(1));
        co_await idle.async_wait(asio::use_awaitable);
        continue;
      }
      auto r = co_await ini.scsi_read_capacity(session_id, 1);
      const auto done = now_ns();
      std::lock_guard lock(mutex);
      if (!r) {
        ++failed;
        if (first_error.empty()) first_error = r.error().what();
        continue;
      }
      ++completed;
      window_completions.push_back(done);
      if (last_ns != 0 && done - last_ns > window_max_ns) window_max_ns = done - last_ns;
      last_ns = done;
    }
  }
};

}  // namespace isens::bench
