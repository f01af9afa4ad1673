#include "isens/subscribers/failover_subscriber.hpp"

#include "failover_limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace isens::subscribers {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using initiator::errc;

namespace {

// One session being healed: reconnected, then given its connections back.
struct job {
  job(std::uint64_t id, const asio::any_io_executor& executor, bool restore)
      : session_id(id), sleeper(executor), restore_connections(restore) {}
  std::uint64_t session_id;
  asio::steady_timer sleeper;  // back-off and Time2Wait; cancelled by stop
  bool restore_connections;    // add connections up to connections_wanted
  std::optional<initiator::portal> good_portal;  // where the last reconnect worked
};

// How one round of reconnect attempts (all portals) ended.
enum class round_result { connected, failed, auth_failed, gone, stopped };

bool is_auth_failure(const initiator::error& e) {
  return e.code == make_error_code(errc::login_auth_failed) || e.code == make_error_code(errc::target_auth_failed);
}

// The session is over, or the service is: nothing left to recover.
bool is_final(const initiator::error& e) {
  return e.code == make_error_code(errc::no_such_session) || e.code == make_error_code(errc::shutting_down);
}

// Everything the coroutines share; they hold it by shared_ptr so it
// outlives the subscriber until the last of them has ended.
struct shared_state {
  shared_state(initiator::initiator& i, asio::any_io_executor executor, failover_policy p,
        std::function<bool(std::uint64_t)> gate)
      : initiator(i),
        strand(asio::make_strand(std::move(executor))),
        policy(p),
        should_recover(std::move(gate)),
        limiter(strand, p.max_concurrent_per_target),
        random(std::random_device{}()) {}

  initiator::initiator& initiator;
  asio::any_io_executor strand;  // everything below runs on it
  const failover_policy policy;
  const std::function<bool(std::uint64_t)> should_recover;
  detail::login_limiter limiter;
  std::mt19937_64 random;
  std::map<std::uint64_t, std::shared_ptr<job>> jobs;  // one per session: the dedupe
  std::atomic<bool> stopped{false};
  std::atomic<std::size_t> in_progress{0};
};

// The healing coroutines.
struct failover_runner {
  using state = shared_state;

  static std::chrono::milliseconds jittered(state& st, std::chrono::milliseconds delay) {
    const double j = std::clamp(st.policy.jitter, 0.0, 1.0);
    std::uniform_real_distribution<double> factor(1.0 - j, 1.0 + j);
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * factor(st.random)));
  }

  // Sleeps unless stopped; false when it was stopped before or during the sleep.
  static asio::awaitable<bool> sleep(const std::shared_ptr<state>& st, job& j, clock::duration d) {
    if (st->stopped) co_return false;
    j.sleeper.expires_after(std::max(d, clock::duration::zero()));
    co_await j.sleeper.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !st->stopped;
  }

  // SendTargets on the session's portal: the target's other portals. A
  // failure only means there are no alternates to try.
  static asio::awaitable<std::vector<initiator::portal>> alternates(const std::shared_ptr<state>& st,
                                                                  const initiator::session_info& s) {
    std::vector<initiator::portal> out;
    if (!co_await st->limiter.acquire(s.target_name)) co_return out;
    // Named, not a braced temporary: GCC 12 destroys temporaries inside a
    // co_await expression twice.
    const initiator::discovery_options options{s.target_portal, std::nullopt, std::nullopt};
    auto found = co_await st->initiator.discover(options);
    st->limiter.release(s.target_name);
    if (!found) co_return out;
    for (const auto& t : *found) {
      if (t.name != s.target_name) continue;
      for (const auto& p : t.portals)
        if (p.address != s.target_portal && std::find(out.begin(), out.end(), p.address) == out.end())
          out.push_back(p.address);
    }
    co_return out;
  }

  // One attempt per portal: the session's own, then the others discovery found.
  static asio::awaitable<round_result> reconnect_round(const std::shared_ptr<state>& st, job& j,
                                                       const initiator::session_info& s, std::uint32_t& attempt,
                                                       std::optional<std::vector<initiator::portal>>& others,
                                                       std::string& last_error) {
    std::vector<std::optional<initiator::portal>> where{std::nullopt};
    for (std::size_t i = 0; i < where.size(); ++i) {
      if (!co_await st->limiter.acquire(s.target_name)) co_return round_result::stopped;
      const initiator::reconnect_options options{where[i], ++attempt};  // named: see alternates()
      const auto r = co_await st->initiator.reconnect_session(s.session_id, options);
      st->limiter.release(s.target_name);
      if (st->stopped) co_return round_result::stopped;
      if (r || r.error().code == make_error_code(errc::invalid_argument)) {  // invalid_argument: already connected
        j.good_portal = where[i];
        co_return round_result::connected;
      }
      if (is_final(r.error())) co_return round_result::gone;
      last_error = r.error().what();
      if (is_auth_failure(r.error())) co_return round_result::auth_failed;
      if (i == 0) {
        if (!others) others = co_await alternates(st, s);  // once per recovery, cached
        if (st->stopped) co_return round_result::stopped;
        for (const auto& p : *others) where.emplace_back(p);
      }
    }
    co_return round_result::failed;
  }

  static asio::awaitable<void> give_up(const std::shared_ptr<state>& st, std::uint64_t id, const std::string& why,
                                       std::uint32_t attempts) {
    if (st->stopped) co_return;
    co_await st->initiator.abandon_session(id, why, attempts);  // fails only if the session already ended
  }

  static std::string elapsed_ms(clock::time_point since) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - since).count());
  }

  // Heals one session until it is connected with its connections, gone, given up or stopped.
  static asio::awaitable<void> heal(std::shared_ptr<state> st, std::shared_ptr<job> j) {
    const auto& policy = st->policy;
    auto started = clock::now();
    auto deadline = started + policy.give_up_after;
    auto delay = policy.first_retry_delay;
    std::uint32_t attempt = 0;
    bool first = true;
    std::optional<std::vector<initiator::portal>> others;
    std::string last_error = "no attempt was made";
    // The next back-off, never past the deadline (which is checked after it).
    auto next_wait = [&] {
      const auto wait = std::min<clock::duration>(jittered(*st, delay), deadline - clock::now());
      delay = std::min(delay * 2, policy.max_retry_delay);
      return wait;
    };
    for (;;) {
      if (st->stopped) co_return;
      const auto s = st->initiator.session(j->session_id);
      if (!s) co_return;  // logged out or given up by someone else
      if (!s->connected) {
        if (first && policy.honour_time2wait && s->reconnect_after) {
          first = false;  // the target asked for this pause (Async Message)
          if (!co_await sleep(st, *j, *s->reconnect_after)) co_return;
          continue;
        }
        first = false;
        if (clock::now() >= deadline) {
          const auto why = "recovery given up after " + std::to_string(attempt) + " attempts in " +
                           elapsed_ms(started) + " ms; last error: " + last_error;
          co_await give_up(st, j->session_id, why, attempt);
          co_return;
        }
        switch (co_await reconnect_round(st, *j, *s, attempt, others, last_error)) {
          case round_result::connected:
            // A new episode: a later drop gets the full deadline again.
            j->restore_connections = true;
            started = clock::now();
            deadline = started + policy.give_up_after;
            delay = policy.first_retry_delay;
            continue;
          case round_result::auth_failed: {
            if (!policy.give_up_on_auth_failure) break;
            const auto why = "authentication failed on recovery attempt " + std::to_string(attempt) +
                             "; retrying cannot fix credentials: " + last_error;
            co_await give_up(st, j->session_id, why, attempt);
            co_return;
          }
          case round_result::failed: break;
          case round_result::gone:
          case round_result::stopped: co_return;
        }
        if (!co_await sleep(st, *j, next_wait())) co_return;
        continue;
      }
      if (!j->restore_connections || s->connections.size() >= s->connections_wanted) co_return;
      if (clock::now() >= deadline) co_return;  // the session works; the missing connections stay missing
      if (!co_await st->limiter.acquire(s->target_name)) co_return;
      const auto added = co_await st->initiator.add_connection_to_session(j->session_id, j->good_portal);
      st->limiter.release(s->target_name);
      if (added) {
        delay = policy.first_retry_delay;
        continue;
      }
      const auto& code = added.error().code;
      if (is_final(added.error()) || is_auth_failure(added.error()) ||
          code == make_error_code(errc::login_too_many_connections))
        co_return;  // retrying cannot help
      if (code == make_error_code(errc::session_not_logged_in)) continue;  // dropped meanwhile: recover it
      if (!co_await sleep(st, *j, next_wait())) co_return;
    }
  }

  // On the strand: starts healing `id` unless a job runs for it already.
  static void start(const std::shared_ptr<state>& st, std::uint64_t id, bool disconnected) {
    if (st->stopped) return;
    if (const auto running = st->jobs.find(id); running != st->jobs.end()) {
      // The running job re-reads the snapshot each round, so it sees the drop too.
      if (disconnected) running->second->restore_connections = true;
      return;
    }
    if (!st->policy.recover_all_sessions && !(st->should_recover && st->should_recover(id))) return;
    if (!disconnected) {
      const auto s = st->initiator.session(id);
      if (!s || !s->connected || s->connections.size() >= s->connections_wanted) return;
    }
    auto j = std::make_shared<job>(id, st->strand, disconnected || st->policy.replace_lost_connections);
    st->jobs.emplace(id, j);
    ++st->in_progress;
    asio::co_spawn(st->strand, heal(st, j), [st, j](std::exception_ptr) {
      // Runs on the strand. Only this job's own entry goes: a stop may have cleared the map.
      if (const auto found = st->jobs.find(j->session_id); found != st->jobs.end() && found->second == j)
        st->jobs.erase(found);
      --st->in_progress;
    });
  }
};

}  // namespace

struct failover_subscriber::state : shared_state {
  using shared_state::shared_state;
};

failover_subscriber::failover_subscriber(initiator::initiator& initiator, asio::any_io_executor executor,
                                         failover_policy policy, std::function<bool(std::uint64_t)> should_recover)
    : state_(std::make_shared<state>(initiator, std::move(executor), policy, std::move(should_recover))) {}

failover_subscriber::~failover_subscriber() {
  state_->stopped = true;
  // The timers belong to the strand; waking them there avoids a data race
  // with a coroutine arming one. Woken coroutines see `stopped` and end.
  asio::post(state_->strand, [st = state_] {
    st->limiter.stop();
    for (auto& [id, j] : st->jobs) j->sleeper.cancel();
  });
}

void failover_subscriber::on_session_disconnect(const events::event& e) {
  if (e.attempt) return;  // our own failed attempt: the job already handles it
  asio::post(state_->strand, [st = state_, id = e.session_id] { failover_runner::start(st, id, true); });
}

void failover_subscriber::on_connection_lost(const events::event& e) {
  using events::event_reason;
  switch (e.reason) {
    case event_reason::peer_closed:
    case event_reason::io_error:
    case event_reason::nop_timeout:
    case event_reason::protocol_error:
    case event_reason::target_requested: break;
    default: return;  // a caller or the service removed it on purpose
  }
  if (!state_->policy.replace_lost_connections) return;
  // A lost last connection also raises session_disconnect; start() then
  // finds the session disconnected and leaves it to that event.
  asio::post(state_->strand, [st = state_, id = e.session_id] { failover_runner::start(st, id, false); });
}

std::size_t failover_subscriber::recoveries_in_progress() const { return state_->in_progress.load(); }

const failover_policy& failover_subscriber::policy() const noexcept { return state_->policy; }

}  // namespace isens::subscribers
