#include "isens/subscribers/failover_subscriber.hpp"

#include "failover_limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
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
};

// What discovery said about one target name, shared by all its sessions.
struct target_portals {
  std::vector<initiator::target_portal> learned;   // the target's portals and groups, as the last discovery that worked named them
  std::optional<clock::time_point> learned_at;     // when that discovery ended
  std::shared_ptr<asio::steady_timer> discovering; // while one runs; cancelled when it ends, to wake who waits for it
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

bool same_host_text(const std::string& a, const std::string& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](unsigned char x, unsigned char y) {
    return std::tolower(x) == std::tolower(y);
  });
}

// One endpoint, without asking DNS: the same port, and the same address when
// both hosts are IP literals ("::1" and "0:0::1"), else the same host name
// (DNS names ignore case). A host name and an IP literal of one machine stay
// two portals: telling them apart needs a resolver call, and trying one
// endpoint twice in a round costs only an attempt.
bool same_endpoint(const initiator::portal& a, const initiator::portal& b) {
  if (a.port != b.port) return false;
  if (a == b) return true;
  boost::system::error_code a_error, b_error;
  const auto a_address = asio::ip::make_address(a.host, a_error);
  const auto b_address = asio::ip::make_address(b.host, b_error);
  if (!a_error && !b_error) return a_address == b_address;
  return same_host_text(a.host, b.host);
}

const initiator::portal& address_of(const initiator::portal& p) { return p; }
const initiator::portal& address_of(const initiator::target_portal& p) { return p.address; }

template <class Portal>
void add_unique(std::vector<Portal>& portals, const Portal& p) {
  const auto known = [&p](const Portal& q) { return same_endpoint(address_of(p), address_of(q)); };
  if (std::none_of(portals.begin(), portals.end(), known)) portals.push_back(p);
}

// The portals SendTargets named for `target`, with their portal groups.
std::vector<initiator::target_portal> portals_of(const std::vector<initiator::discovered_target>& found,
                                                 const std::string& target) {
  std::vector<initiator::target_portal> out;
  for (const auto& t : found)
    if (t.name == target)
      for (const auto& p : t.portals) add_unique(out, p);
  return out;
}

// Whether `p` is in the portal group session `s` lives in, as discovery named
// its group. A portal discovery did not name, or a session whose target named
// no group, counts as in it: nothing says otherwise.
bool in_session_group(const std::vector<initiator::target_portal>& learned, const initiator::session_info& s,
                      const initiator::portal& p) {
  if (!s.portal_group_tag) return true;
  const auto named = std::find_if(learned.begin(), learned.end(),
                                  [&p](const initiator::target_portal& q) { return same_endpoint(p, q.address); });
  return named == learned.end() || named->portal_group_tag == *s.portal_group_tag;
}

// When a login in another portal group of the target may follow a drop at
// `dropped`. Reinstatement (same ISID, TSIH 0) ends the old session only in
// its own portal group: the target port, and so the I_T nexus, includes the
// group tag (RFC 7143). Elsewhere the same ISID makes a second session
// whose commands could race the old one's, which the target may still be
// running; once Time2Wait + Time2Retain have passed it has let the old
// session go. The Async Message's values when it named them, else the
// negotiated defaults.
clock::time_point other_groups_from(const initiator::session_info& s, clock::time_point dropped) {
  if (s.reconnect_after && s.retain_for) return *s.reconnect_after + *s.retain_for;
  return dropped + std::chrono::seconds(s.default_time2wait) + std::chrono::seconds(s.default_time2retain);
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
  // By target name: learned while a session to it is up, so the portals
  // are known when the session's own portal is down.
  std::map<std::string, target_portals> targets;
  // By session: where its last reconnect worked. Kept across recoveries, as
  // the session's own portal may still be down at its next drop.
  std::map<std::uint64_t, initiator::portal> good_portals;
  std::atomic<bool> stopped{false};
  std::atomic<std::size_t> in_progress{0};

  std::optional<initiator::portal> good_portal_of(std::uint64_t session_id) const {
    const auto good = good_portals.find(session_id);
    if (good == good_portals.end()) return std::nullopt;
    return good->second;
  }
};

// The healing coroutines.
struct failover_runner {
  using state = shared_state;

  static std::chrono::milliseconds jittered(state& st, std::chrono::milliseconds delay) {
    const double j = std::clamp(st.policy.jitter, 0.0, 1.0);
    std::uniform_real_distribution<double> factor(1.0 - j, 1.0 + j);
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * factor(st.random)));
  }

  // Sleeps until `until` unless stopped; false when it was stopped before or during the sleep.
  static asio::awaitable<bool> sleep_until(const std::shared_ptr<state>& st, job& j, clock::time_point until) {
    if (st->stopped) co_return false;
    j.sleeper.expires_at(until);
    co_await j.sleeper.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !st->stopped;
  }

  // Until when to wait before any login of the session, a reconnect or a
  // replacement connection: the point of the Time2Wait the target named
  // (Async Message), unless it has passed or the policy ignores it. The
  // Time2Retain named with it moves the give-up `deadline`: the target keeps
  // the session's state that long after that point.
  static std::optional<clock::time_point> time2wait_ahead(const state& st, const initiator::session_info& s,
                                                          clock::time_point& deadline) {
    if (!st.policy.honour_time2wait || !s.reconnect_after) return std::nullopt;
    if (s.retain_for) deadline = std::max(deadline, *s.reconnect_after + *s.retain_for);
    if (clock::now() >= *s.reconnect_after) return std::nullopt;
    return s.reconnect_after;
  }

  // SendTargets at `where` with the CHAP credentials of session `session_id`
  // (kept inside the initiator: the subscriber never sees them), within the
  // target's login cap.
  static asio::awaitable<std::optional<std::vector<initiator::target_portal>>> discover_at(
      const std::shared_ptr<state>& st, std::uint64_t session_id, const std::string& target,
      const initiator::portal& where) {
    if (!co_await st->limiter.acquire(target)) co_return std::nullopt;
    auto found = co_await st->initiator.discover_for_session(session_id, where);
    st->limiter.release(target);
    if (!found) co_return std::nullopt;
    co_return portals_of(*found, target);
  }

  // Learns `target`'s portals by SendTargets at `where`, with the
  // credentials of session `session_id`: a success replaces what was
  // learned, a failure keeps it. One discovery per target name at a time: a
  // caller that finds one running waits for its answer instead.
  static asio::awaitable<void> learn_portals(std::shared_ptr<state> st, std::uint64_t session_id, std::string target,
                                             initiator::portal where) {
    if (st->stopped) co_return;
    if (const auto running = st->targets[target].discovering) {
      co_await running->async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled when it ends (or on stop)
      co_return;
    }
    const auto done = std::make_shared<asio::steady_timer>(st->strand, asio::steady_timer::time_point::max());
    st->targets[target].discovering = done;
    const auto found = co_await discover_at(st, session_id, target, where);
    // Looked up again: the map is not held across a suspension.
    auto& known = st->targets[target];
    if (found) {
      known.learned = *found;
      known.learned_at = clock::now();
    }
    known.discovering.reset();
    done->cancel();
  }

  // Where to try, in order: where the session last came back, its own
  // portal, then the target's learned portals, each endpoint once; those of
  // the session's portal group first, those of other groups only with
  // `other_groups` (see other_groups_from).
  static std::vector<initiator::portal> portals_to_try(const state& st, const initiator::session_info& s,
                                                       bool other_groups) {
    static const std::vector<initiator::target_portal> none;
    const auto known = st.targets.find(s.target_name);
    const auto& learned = known == st.targets.end() ? none : known->second.learned;
    std::vector<initiator::portal> out;
    if (auto good = st.good_portal_of(s.session_id)) out.push_back(std::move(*good));
    add_unique(out, s.target_portal);
    for (const auto& p : learned) add_unique(out, p.address);
    const auto others = std::stable_partition(
        out.begin(), out.end(), [&](const initiator::portal& p) { return in_session_group(learned, s, p); });
    if (!other_groups) out.erase(others, out.end());
    return out;
  }

  // True when no discovery of the target has worked since `since`.
  static bool not_learned_since(const state& st, const std::string& target, clock::time_point since) {
    const auto known = st.targets.find(target);
    return known == st.targets.end() || !known->second.learned_at || *known->second.learned_at < since;
  }

  // One attempt per portal (portals_to_try, and what is learned during the
  // round). After the first failure the target's portals are discovered
  // again at the session's portal, unless a discovery worked since
  // `episode_start`; a failed one keeps the learned portals and is tried
  // again next round.
  static asio::awaitable<round_result> reconnect_round(const std::shared_ptr<state>& st,
                                                       const initiator::session_info& s, std::uint32_t& attempt,
                                                       clock::time_point episode_start, bool other_groups,
                                                       std::string& last_error) {
    auto where = portals_to_try(*st, s, other_groups);
    for (std::size_t i = 0; i < where.size(); ++i) {
      if (!co_await st->limiter.acquire(s.target_name)) co_return round_result::stopped;
      const initiator::reconnect_options options{where[i], ++attempt};  // named: see discover_at()
      const auto r = co_await st->initiator.reconnect_session(s.session_id, options);
      st->limiter.release(s.target_name);
      if (st->stopped) co_return round_result::stopped;
      if (r) {
        st->good_portals[s.session_id] = where[i];
        co_return round_result::connected;
      }
      // invalid_argument: someone else connected it meanwhile, at a portal we do not know.
      if (r.error().code == make_error_code(errc::invalid_argument)) co_return round_result::connected;
      if (is_final(r.error())) co_return round_result::gone;
      last_error = r.error().what();
      if (is_auth_failure(r.error())) co_return round_result::auth_failed;
      if (i == 0 && not_learned_since(*st, s.target_name, episode_start)) {
        co_await learn_portals(st, s.session_id, s.target_name, s.target_portal);
        if (st->stopped) co_return round_result::stopped;
      }
      // Another discovery (this target's logon, another session) may have
      // ended since the round began: its portals count in this round too.
      for (const auto& p : portals_to_try(*st, s, other_groups)) add_unique(where, p);
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
    std::optional<clock::time_point> down_since;  // when this job first saw the session disconnected
    auto delay = policy.first_retry_delay;
    std::uint32_t attempt = 0;
    std::string last_error = "no attempt was made";
    // The end of the next back-off, never past the deadline (which is checked after it).
    auto next_wait = [&] {
      const auto until = std::min(clock::now() + jittered(*st, delay), deadline);
      delay = std::min(delay * 2, policy.max_retry_delay);
      return until;
    };
    for (;;) {
      if (st->stopped) co_return;
      const auto s = st->initiator.session(j->session_id);
      if (!s) co_return;  // logged out or given up by someone else
      if (!s->connected && !down_since) down_since = clock::now();
      const bool wants_login =
          !s->connected || (j->restore_connections && s->connections.size() < s->connections_wanted);
      if (const auto until = wants_login ? time2wait_ahead(*st, *s, deadline) : std::nullopt) {
        if (!co_await sleep_until(st, *j, *until)) co_return;
        continue;  // the session may have changed meanwhile
      }
      if (!s->connected) {
        if (clock::now() >= deadline) {
          const auto why = "recovery given up after " + std::to_string(attempt) + " attempts in " +
                           elapsed_ms(started) + " ms; last error: " + last_error;
          co_await give_up(st, j->session_id, why, attempt);
          co_return;
        }
        const bool other_groups = clock::now() >= other_groups_from(*s, *down_since);
        switch (co_await reconnect_round(st, *s, attempt, started, other_groups, last_error)) {
          case round_result::connected:
            // A new episode: a later drop gets the full deadline again.
            down_since.reset();
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
        if (!co_await sleep_until(st, *j, next_wait())) co_return;
        continue;
      }
      if (!wants_login) co_return;
      if (clock::now() >= deadline) co_return;  // the session works; the missing connections stay missing
      if (!co_await st->limiter.acquire(s->target_name)) co_return;
      // At the portal the session came back through: its connections stay together.
      const auto where = st->good_portal_of(j->session_id);
      const auto added = co_await st->initiator.add_connection_to_session(j->session_id, where);
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
      if (!co_await sleep_until(st, *j, next_wait())) co_return;
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
      // A logout racing the reconnect may have come before the portal was noted.
      if (!st->stopped && !st->initiator.session(j->session_id)) st->good_portals.erase(j->session_id);
      --st->in_progress;
    });
  }

  // On the strand: learns the target's portals at `portal_text`, where
  // session `session_id` just logged on, unless they are known or being learned.
  static void learn_at_logon(const std::shared_ptr<state>& st, std::uint64_t session_id, const std::string& target,
                             const std::string& portal_text) {
    if (st->stopped) return;
    // No gate per session: isensd registers a session after its logon.
    if (!st->policy.recover_all_sessions && !st->should_recover) return;  // it recovers nothing
    const auto& known = st->targets[target];
    if (known.learned_at || known.discovering) return;
    const auto where = initiator::portal::parse(portal_text);
    if (!where) return;
    asio::co_spawn(st->strand, learn_portals(st, session_id, target, *where), asio::detached);
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
    for (auto& [target, known] : st->targets)
      if (known.discovering) known.discovering->cancel();
  });
}

void failover_subscriber::on_logon(const events::event& e) {
  // While the session's portal is up, it can name the others.
  asio::post(state_->strand, [st = state_, id = e.session_id, target = e.target, portal = e.portal] {
    failover_runner::learn_at_logon(st, id, target, portal);
  });
}

void failover_subscriber::on_logoff(const events::event& e) {
  asio::post(state_->strand, [st = state_, id = e.session_id] { st->good_portals.erase(id); });
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
