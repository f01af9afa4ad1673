#pragma once
// The isens half of the login benchmark: login + INQUIRY + logout rounds
// through the public facade, and many sessions logged in at once.

#include "sample_stats.hpp"

#include "isens/initiator/initiator.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace isens::bench {

/// The target every round logs in to.
struct bench_target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string iqn;
  std::uint64_t lun = 1;

  /// "host:port", as libiscsi wants the portal.
  std::string portal_text() const { return host + ":" + std::to_string(port); }
};

/// Initiator settings for the benchmark: no NOP-Out pings.
initiator::initiator_options bench_initiator_options(unsigned io_threads);

/// One round through `ini`: login_to_target (no LUN enumeration),
/// scsi_inquiry(lun), logout_from_target; each phase timed into `into`.
/// Returns the failure message, or nothing when the round succeeded.
boost::asio::awaitable<std::optional<std::string>> isens_round(initiator::initiator& ini, const bench_target& target,
                                                               round_samples* into);

/// Logs in `sessions` sessions at once on a fresh io_context run by
/// `threads` threads, waits for all, then logs them all out at once.
storm_result isens_storm(const bench_target& target, std::size_t sessions, unsigned threads);

}  // namespace isens::bench
