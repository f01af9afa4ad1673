#include "isens_side.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace isens::bench {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

initiator::login_options login_options_for(const bench_target& target) {
  initiator::login_options options;
  options.target_portal = {target.host, target.port};
  options.target_name = target.iqn;
  options.enumerate_luns = false;
  return options;
}

// Completes when `count()` reaches zero: whoever brings it there posts a
// cancel of `wakeup` onto `strand`, where the waiter runs.
class countdown {
 public:
  countdown(asio::strand<asio::any_io_executor> strand, std::size_t count)
      : strand_(std::move(strand)), wakeup_(strand_, clock::time_point::max()), count_(count) {}

  void arrive() {
    if (count_.fetch_sub(1) == 1) asio::post(strand_, [this] { wakeup_.cancel(); });
  }

  asio::awaitable<void> wait() {
    while (count_.load() > 0) co_await wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
  }

 private:
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer wakeup_;
  std::atomic<std::size_t> count_;
};

// Spawns `body(i)` for every i < n at once and waits until all have finished.
template <class Body>
asio::awaitable<void> all_at_once(std::size_t n, Body body) {
  const auto strand = asio::make_strand(co_await asio::this_coro::executor);
  countdown done(strand, n);
  for (std::size_t i = 0; i < n; ++i) {
    asio::co_spawn(strand.get_inner_executor(), body(i), [&done](std::exception_ptr) { done.arrive(); });
  }
  if (n > 0) co_await done.wait();
}

}  // namespace

initiator::initiator_options bench_initiator_options(unsigned io_threads) {
  initiator::initiator_options options;
  options.single_threaded = io_threads == 1;  // as isensd and isensctl run it
  options.initiator_name = "iqn.2026-11.org.isens:login-bench";
  options.nop_interval = std::chrono::milliseconds{0};
  return options;
}

asio::awaitable<std::optional<std::string>> isens_round(initiator::initiator& ini, const bench_target& target,
                                                        round_samples* into) {
  const auto cpu0 = thread_cpu_micros();
  const auto t0 = clock::now();
  auto id = co_await ini.login_to_target(login_options_for(target));
  const auto t1 = clock::now();
  const auto cpu1 = thread_cpu_micros();
  if (!id) co_return "login: " + id.error().what();
  auto inquiry = co_await ini.scsi_inquiry(*id, target.lun);
  const auto t2 = clock::now();
  if (!inquiry) {
    (void)co_await ini.logout_from_target(*id);
    co_return "inquiry: " + inquiry.error().what();
  }
  auto logout = co_await ini.logout_from_target(*id);
  const auto t3 = clock::now();
  if (!logout) co_return "logout: " + logout.error().what();
  if (into) {
    into->login.push_back(micros_between(t0, t1));
    into->login_cpu.push_back(cpu1 - cpu0);
    into->inquiry.push_back(micros_between(t1, t2));
    into->logout.push_back(micros_between(t2, t3));
    into->round.push_back(micros_between(t0, t3));
  }
  co_return std::nullopt;
}

storm_result isens_storm(const bench_target& target, std::size_t sessions, unsigned threads) {
  storm_result out;
  out.sessions = sessions;
  asio::io_context io(static_cast<int>(threads));
  events::event_bus bus(1);
  initiator::initiator ini(io.get_executor(), bus, bench_initiator_options(threads));

  std::mutex mutex;  // guards out.login_us, out.errors, out.failures and ids
  std::set<std::string> distinct_errors;
  std::vector<std::uint64_t> ids;
  auto record_failure = [&](const std::string& what) {
    std::lock_guard lock(mutex);
    ++out.failures;
    if (distinct_errors.insert(what).second && out.errors.size() < 10) out.errors.push_back(what);
  };

  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto start = clock::now();
        co_await all_at_once(sessions, [&](std::size_t) -> asio::awaitable<void> {
          auto id = co_await ini.login_to_target(login_options_for(target));
          const auto done = clock::now();
          if (!id) {
            record_failure("login: " + id.error().what());
            co_return;
          }
          std::lock_guard lock(mutex);
          out.login_us.push_back(micros_between(start, done));
          ids.push_back(*id);
        });
        out.login_all_s = micros_between(start, clock::now()) / 1e6;

        const auto logout_start = clock::now();
        co_await all_at_once(ids.size(), [&](std::size_t i) -> asio::awaitable<void> {
          auto done = co_await ini.logout_from_target(ids[i]);
          if (!done) record_failure("logout: " + done.error().what());
        });
        out.logout_all_s = micros_between(logout_start, clock::now()) / 1e6;
        co_await ini.shutdown();
      },
      [&](std::exception_ptr e) {
        failure = e;
        io.stop();
      });

  std::vector<std::jthread> helpers;
  for (unsigned i = 1; i < threads; ++i) helpers.emplace_back([&io] { io.run(); });
  io.run();
  helpers.clear();  // joins
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace isens::bench
