#pragma once
// Runs one initiator job in this process: an io_context, a bus and an
// initiator, for the standalone commands (discover, probe).

#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>

namespace isensctl {

// The work a standalone command does with an initiator; returns an exit code.
using initiator_job = std::function<boost::asio::awaitable<int>(isens::initiator::initiator&)>;

// Runs `job` to completion on a fresh initiator. `watcher`, if given, is
// subscribed to the bus first; every event has reached it when this returns.
int run_initiator(const isens::initiator::initiator_options& options, const initiator_job& job,
                  std::shared_ptr<isens::events::subscriber> watcher = nullptr);

}  // namespace isensctl
