#pragma once
/// What an NBD export is and what it has done: the value types that
/// isensctl, the sessions snapshot and /metrics show.

#include <isens/initiator/types.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace isens::nbd {

/// What one export's clients have done since it appeared.
struct export_counters {
  std::uint64_t reads = 0;            ///< READ commands answered
  std::uint64_t writes = 0;           ///< WRITE commands answered
  std::uint64_t flushes = 0;          ///< FLUSH commands answered
  std::uint64_t trims = 0;            ///< TRIM commands answered
  std::uint64_t zeroes = 0;           ///< WRITE_ZEROES commands answered
  std::uint64_t read_bytes = 0;       ///< bytes of successful READs
  std::uint64_t write_bytes = 0;      ///< bytes of successful WRITEs
  std::uint64_t errors = 0;           ///< replies carrying an error
  std::uint64_t attaches = 0;         ///< clients that entered the transmission phase
  /// Replies by latency (request read to reply queued), per bucket of
  /// initiator::io_latency_bounds_us, the last for anything slower.
  std::array<std::uint64_t, initiator::io_latency_bounds_us.size() + 1> latency_buckets{};
  std::uint64_t latency_sum_us = 0;   ///< sum of those latencies
};

/// One export: a disk LUN of a logged-in session.
struct export_info {
  std::string name;                 ///< "<target-iqn>/<lun>"
  std::string alias;                ///< "session/<id>/<lun>", the same export
  std::uint64_t session_id = 0;     ///< UniqueSessionId
  std::uint64_t lun = 0;
  std::string target;               ///< target IQN
  std::uint64_t size_bytes = 0;
  std::uint32_t block_size = 0;     ///< minimum block size: the LUN's logical block size
  std::uint32_t preferred_block_size = 0;
  std::uint32_t max_block_size = 0; ///< largest READ or WRITE payload accepted
  bool read_only = false;           ///< served with NBD_FLAG_READ_ONLY
  std::uint16_t transmission_flags = 0;
  std::size_t clients = 0;          ///< clients attached now
  export_counters counters;
};

}  // namespace isens::nbd
