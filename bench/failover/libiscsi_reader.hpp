#pragma once
// The libiscsi peer of the failover benchmark: one session issuing READ(10)s
// back to back on a thread of its own (sync API), left to libiscsi's own
// reconnect logic when the target drops its connection. It measures the
// longest gap between two completed reads and counts reads that failed.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

struct iscsi_context;

namespace isens::bench {

/// A libiscsi session reading in a loop; pausable so that it does not load
/// the machine while the isens side is measured.
class libiscsi_reader {
 public:
  /// Connects and logs in to `portal` ("host:port") / `iqn` as `initiator_name`; throws on failure.
  libiscsi_reader(const std::string& portal, const std::string& iqn, int lun, const std::string& initiator_name);
  /// Stops the thread and logs out.
  ~libiscsi_reader();
  libiscsi_reader(const libiscsi_reader&) = delete;
  libiscsi_reader& operator=(const libiscsi_reader&) = delete;

  /// Lets the reading thread run (true) or park between reads (false).
  void set_running(bool running);
  /// Starts a new measuring window: the longest gap so far is forgotten.
  void reset_window();
  /// The longest gap between two completed reads since reset_window(), in ms.
  double window_max_gap_ms() const;
  /// Reads completed since the start.
  std::uint64_t completed() const { return completed_.load(); }
  /// Reads that ended with an error the caller saw (NULL task or status not GOOD).
  std::uint64_t failed() const { return failed_.load(); }
  /// The first error text the caller saw, if any.
  std::string first_error() const;

 private:
  void loop();

  iscsi_context* context_ = nullptr;
  int lun_ = 1;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint64_t> failed_{0};
  mutable std::mutex mutex_;            // guards running_, window_max_ns_, last_ns_, first_error_
  std::condition_variable wake_;
  bool running_ = false;
  std::int64_t window_max_ns_ = 0;
  std::int64_t last_ns_ = 0;            // steady_clock of the last completed read; 0: none in this window
  std::string first_error_;
  std::thread thread_;
};

}  // namespace isens::bench
