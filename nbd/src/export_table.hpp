#pragma once
// The exports the server knows, by name and by alias, with the live state
// each keeps while it exists: counters (atomics, so exports() can read them
// from any thread), its attached clients, the block of zeros WRITE_ZEROES
// sends, and whether the target refused UNMAP.

#include "isens/nbd/export_info.hpp"

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace isens::nbd::detail {

class client_connection;

// Counters updated on the server's executor, read from anywhere.
struct live_counters {
  std::atomic<std::uint64_t> reads{0}, writes{0}, flushes{0}, trims{0}, zeroes{0};
  std::atomic<std::uint64_t> read_bytes{0}, write_bytes{0}, errors{0}, attaches{0};
  std::array<std::atomic<std::uint64_t>, initiator::io_latency_bounds_us.size() + 1> latency_buckets{};
  std::atomic<std::uint64_t> latency_sum_us{0};

  // Counts one reply to a command of `type`, `bytes` moved, `error` (0: success).
  void count(std::uint16_t type, std::uint64_t bytes, std::uint32_t error, std::uint64_t latency_us) noexcept;
  export_counters snapshot() const noexcept;
};

struct export_state {
  export_info info;  // fixed once added (clients and counters live below)
  live_counters counters;
  std::atomic<std::size_t> clients{0};
  std::atomic<bool> unmap_refused{false};  // the target answered UNMAP with ILLEGAL REQUEST
  bool fua_native = true;                  // the LUN honours WRITE's FUA bit (MODE SENSE DPOFUA)
  std::vector<std::byte> zero_block;       // one logical block of zeros, for WRITE SAME
  // WRITE SAME with UNMAP deallocates and the blocks then read as zeros
  // (LBPWS and LBPRZ): WRITE_ZEROES without NO_HOLE may punch a hole.
  bool zeroes_by_unmap = false;
  // ---- on the server's executor only ----
  bool closed = false;  // its session logged off: no new clients
  std::vector<std::weak_ptr<client_connection>> attached;

  export_info snapshot() const;
};

class export_table {
 public:
  // Adds (or, for a session_ready seen again, keeps) an export; false when the name was taken.
  bool add(const std::shared_ptr<export_state>& e);
  // Removes every export of a session and returns them.
  std::vector<std::shared_ptr<export_state>> remove_session(std::uint64_t session_id);
  // Removes every export.
  std::vector<std::shared_ptr<export_state>> clear();
  // The export called `name` (its name or its alias), or null.
  std::shared_ptr<export_state> find(const std::string& name) const;
  // Every export once, ordered by name.
  std::vector<std::shared_ptr<export_state>> list() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<export_state>> by_name_;  // canonical names
  std::map<std::string, std::shared_ptr<export_state>> by_alias_;
};

}  // namespace isens::nbd::detail
