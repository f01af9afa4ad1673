#pragma once
// The libiscsi half of the login benchmark: the same rounds with libiscsi's
// synchronous API, and many sessions at once with its asynchronous API.

#include "isens_side.hpp"
#include "sample_stats.hpp"

#include <optional>
#include <string>

namespace isens::bench {

/// One round: connect + login (iscsi_connect_sync, iscsi_login_sync: the
/// same exchange as isens's login_to_target), the INQUIRYs isens's
/// scsi_inquiry sends (standard, VPD 0x80, VPD 0x83), logout; each phase
/// timed into `into`. Returns the failure message, or nothing.
std::optional<std::string> libiscsi_round(const bench_target& target, round_samples* into);

/// iscsi_full_connect_sync (connect, login, then TEST UNIT READY until the
/// power-on unit attention is gone), timed into `into`, then logout.
std::optional<std::string> libiscsi_full_connect(const bench_target& target, std::vector<double>* into);

/// Logs in `sessions` sessions at once (iscsi_connect_async +
/// iscsi_login_async, serviced by one poll() loop), then logs them all out.
storm_result libiscsi_storm(const bench_target& target, std::size_t sessions);

}  // namespace isens::bench
