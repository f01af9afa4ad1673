#include "run_initiator.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>

namespace isensctl {

int run_initiator(const isens::initiator::initiator_options& options, const initiator_job& job,
                  std::shared_ptr<isens::events::subscriber> watcher) {
  boost::asio::io_context io;
  // Declared before the bus so it ends after it: the bus's destructor waits
  // until every queued event has been delivered to the watcher.
  isens::events::subscription watching;
  isens::events::event_bus bus(1);
  if (watcher) watching = bus.subscribe(std::move(watcher));
  isens::initiator::initiator initiator(io.get_executor(), bus, options);
  int exit_code = 1;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        exit_code = co_await job(initiator);
        co_await initiator.shutdown();
        io.stop();  // NOP timers of ended sessions need not run out
      },
      [&](std::exception_ptr failure) {
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& ex) {
          std::cerr << "isensctl: internal error: " << ex.what() << '\n';
        }
        exit_code = 1;
        io.stop();
      });
  io.run();
  return exit_code;
}

}  // namespace isensctl
