#pragma once
// Read and write rates per session for the dashboard: once a second it
// reads the sessions' io counters (the snapshot's, which only grow while a
// session exists) and keeps the last few minutes of rates.

#include <isens/initiator/initiator.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>

namespace isens::daemon {

/// One rate sample.
struct io_rate {
  std::int64_t time_ms = 0;  ///< end of the interval, ms since the epoch
  double read_bytes_per_s = 0;
  double write_bytes_per_s = 0;
  double read_ops_per_s = 0;
  double write_ops_per_s = 0;
};

class io_sampler {
 public:
  /// Samples `initiator` every `period` on `executor` once started.
  io_sampler(boost::asio::any_io_executor executor, initiator::initiator& initiator,
             std::chrono::milliseconds period = std::chrono::seconds(1), std::size_t keep = 300);
  /// Starts sampling.
  void start();
  /// Stops sampling (the pending timer is cancelled).
  void stop();

  /// The latest rate of a session (zeros before its second sample).
  io_rate latest(std::uint64_t session_id) const;
  /// {"period_ms":…, "total":[samples…], "sessions":{"<id>":[samples…]}}, the
  /// total being the sum over the sessions of each tick.
  nlohmann::ordered_json history_json() const;

  /// One sample as {"t":…, "rb":…, "wb":…, "ro":…, "wo":…}.
  static nlohmann::ordered_json to_json(const io_rate& r);

 private:
  struct track {
    initiator::io_counters last;
    std::chrono::steady_clock::time_point at;
    std::deque<io_rate> rates;
  };
  boost::asio::awaitable<void> run(std::shared_ptr<bool> stopped);
  void sample();

  boost::asio::any_io_executor executor_;
  initiator::initiator& initiator_;
  std::chrono::milliseconds period_;
  std::size_t keep_;
  std::chrono::steady_clock::time_point last_tick_{};
  std::map<std::uint64_t, track> sessions_;
  std::deque<io_rate> total_;
  std::shared_ptr<bool> stopped_;
};

}  // namespace isens::daemon
