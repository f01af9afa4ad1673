#pragma once
// The polling row: 4 KiB random reads at QD1 with each side polling its
// socket for a lone command's answer before it sleeps, for the same time:
// isens through initiator_options::lone_command_poll, libiscsi through its
// loop calling poll() with no wait first. Each side has a session of its
// own, so the main rows keep the defaults (neither polls).

#include "bench_setup.hpp"
#include "isens_sessions.hpp"
#include "isens_side.hpp"
#include "libiscsi_side.hpp"
#include "rounds.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace isens::bench {

// The row's sides' totals: isens polling, then libiscsi polling.
inline std::vector<side_totals> run_poll_row(io_runner& runner, isens::events::event_bus& bus,
                                             initiator::initiator_options ini_options,
                                             const isens::test::tgtd_target& tgtd, std::uint64_t lun_bytes,
                                             const bench_options& options, bench_context& ctx) {
  const std::chrono::microseconds poll(options.poll_us);
  ini_options.lone_command_poll = poll;
  initiator::initiator polling_ini(runner.io().get_executor(), bus, ini_options);
  const auto session = login_with(runner, polling_ini, tgtd, 1);
  isens_side isens("isens polling", polling_ini, runner.io(), session, bench_lun,
                   block_size_of(polling_ini, session, lun_bytes));
  libiscsi_side libiscsi(libiscsi_options{tgtd.portal(), bench_iqn, bench_lun,
                                          libiscsi_initiator_name + std::string("-poll"), "libiscsi polling", poll});
  const auto totals = run_row(main_rows()[0], 200, {&isens, &libiscsi}, options, ctx);
  (void)runner.run(polling_ini.logout_from_target(session));
  return totals;
}

}  // namespace isens::bench
