#pragma once
// An initiator with a failover subscriber on a private io_context thread,
// plus what every failover test asks of the recorded events. (The shared
// initiator_harness keeps its io_context private; the subscriber needs it.)

#include "initiator_harness.hpp"
#include "tgtd_target.hpp"

#include <isens/subscribers/failover_subscriber.hpp>

#include <optional>
#include <string>

namespace isens::test {

// One event reduced to what the failover tests compare.
struct step {
  events::event_kind kind;
  events::event_reason reason;
  std::optional<std::uint32_t> attempt;
  friend bool operator==(const step&, const step&) = default;
};

inline std::ostream& operator<<(std::ostream& out, const step& s) {
  out << events::to_string(s.kind) << '(' << events::to_string(s.reason);
  if (s.attempt) out << ", attempt " << *s.attempt;
  return out << ')';
}

// Back-off short enough for tests, long enough that tgtd restarts in between.
inline subscribers::failover_policy quick_policy() {
  subscribers::failover_policy p;
  p.recover_all_sessions = true;
  p.first_retry_delay = std::chrono::milliseconds(100);
  p.max_retry_delay = std::chrono::milliseconds(400);
  p.give_up_after = std::chrono::milliseconds(20000);
  return p;
}

class failover_rig {
 public:
  explicit failover_rig(subscribers::failover_policy policy = quick_policy(),
                        initiator::initiator_options options = initiator_harness::quick_options(),
                        std::function<bool(std::uint64_t)> should_recover = {})
      : work_(io_.get_executor()),
        recorder_(std::make_shared<event_recorder>()),
        recording_(bus_.subscribe(recorder_)),
        initiator_(io_.get_executor(), bus_, std::move(options)),
        failover_(std::make_shared<subscribers::failover_subscriber>(initiator_, io_.get_executor(), policy,
                                                                     std::move(should_recover))),
        failing_over_(bus_.subscribe(failover_)),
        thread_([this] { io_.run(); }) {}

  // The subscriber goes first, while the initiator still runs, as in isensd.
  ~failover_rig() {
    failing_over_.reset();
    failover_.reset();
    run(initiator_.shutdown());
    work_.reset();
    io_.stop();
    thread_.join();
  }

  template <class T>
  std::future<T> start(boost::asio::awaitable<T> call) {
    return start_on(io_, std::move(call));
  }

  template <class T>
  T run(boost::asio::awaitable<T> call, std::chrono::seconds limit = std::chrono::seconds(30)) {
    return run_on(io_, std::move(call), limit);
  }

  std::uint64_t login(initiator::login_options options) {
    auto id = run(initiator_.login_to_target(std::move(options)));
    if (!id) throw std::runtime_error("login failed: " + id.error().what());
    return *id;
  }

  // The events of one session, as steps.
  std::vector<step> steps(std::uint64_t session_id) const {
    std::vector<step> out;
    for (const auto& e : recorder_->events())
      if (e.session_id == session_id) out.push_back({e.kind, e.reason, e.attempt});
    return out;
  }

  // Polls until `done(events)` holds; false after `limit`.
  template <class Pred>
  bool wait_until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(20)) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done(recorder_->events())) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Waits for `count` events of `kind` (of any session).
  bool wait_for(events::event_kind kind, std::size_t count = 1,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) const {
    return wait_until(
        [&](const std::vector<events::event>& all) {
          return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const auto& e) {
                   return e.kind == kind && !(kind == events::event_kind::session_disconnect && e.attempt);
                 })) >= count;
        },
        limit);
  }

  // Waits until the subscriber has nothing in progress, then a little more
  // so a wrongly late event would show up.
  bool settle(std::chrono::milliseconds quiet = std::chrono::milliseconds(300)) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (failover_->recoveries_in_progress() != 0) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(quiet);
    return true;
  }

  initiator::initiator& initiator() { return initiator_; }
  event_recorder& recorder() { return *recorder_; }
  subscribers::failover_subscriber& failover() { return *failover_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  events::event_bus bus_{1};
  std::shared_ptr<event_recorder> recorder_;
  events::subscription recording_;
  initiator::initiator initiator_;
  std::shared_ptr<subscribers::failover_subscriber> failover_;
  std::optional<events::subscription> failing_over_;
  std::thread thread_;
};

// Login options for the standard target, without LUN enumeration (quicker, fewer events).
inline initiator::login_options quick_login(const tgtd_target& target) {
  initiator::login_options o;
  o.target_portal = {"127.0.0.1", target.port()};
  o.target_name = std::string(standard_iqn);
  o.enumerate_luns = false;
  return o;
}

}  // namespace isens::test
