#include "io_sampler.hpp"

#include "session_tracker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace isens::daemon {

namespace asio = boost::asio;

io_sampler::io_sampler(asio::any_io_executor executor, initiator::initiator& initiator,
                       std::chrono::milliseconds period, std::size_t keep)
    : executor_(std::move(executor)), initiator_(initiator), period_(period), keep_(keep) {}

void io_sampler::start() {
  stop();
  stopped_ = std::make_shared<bool>(false);
  asio::co_spawn(executor_, run(stopped_), asio::detached);
}

void io_sampler::stop() {
  if (stopped_) *stopped_ = true;
  stopped_.reset();
}

asio::awaitable<void> io_sampler::run(std::shared_ptr<bool> stopped) {
  asio::steady_timer timer(executor_);
  while (!*stopped) {
    sample();
    timer.expires_after(period_);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void io_sampler::sample() {
  const auto now = std::chrono::steady_clock::now();
  io_rate sum;
  sum.time_ms = epoch_ms(std::chrono::system_clock::now());
  std::map<std::uint64_t, track> next;
  // A session not seen before logged in since the last tick, its counters
  // at zero then: what it did so far counts in this interval, so nothing it
  // moved goes unshown (a copy shorter than a period included).
  const auto previous_tick = last_tick_ == std::chrono::steady_clock::time_point{} ? now - period_ : last_tick_;
  last_tick_ = now;
  for (const auto& s : initiator_.sessions()) {
    auto found = sessions_.find(s.session_id);
    track t = found == sessions_.end() ? track{{}, previous_tick, {}} : std::move(found->second);
    const double seconds = std::chrono::duration<double>(now - t.at).count();
    if (seconds > 0) {
      io_rate r;
      r.time_ms = sum.time_ms;
      r.read_bytes_per_s = static_cast<double>(s.io.read_bytes - t.last.read_bytes) / seconds;
      r.write_bytes_per_s = static_cast<double>(s.io.write_bytes - t.last.write_bytes) / seconds;
      r.read_ops_per_s = static_cast<double>(s.io.read_ops - t.last.read_ops) / seconds;
      r.write_ops_per_s = static_cast<double>(s.io.write_ops - t.last.write_ops) / seconds;
      sum.read_bytes_per_s += r.read_bytes_per_s;
      sum.write_bytes_per_s += r.write_bytes_per_s;
      sum.read_ops_per_s += r.read_ops_per_s;
      sum.write_ops_per_s += r.write_ops_per_s;
      t.rates.push_back(r);
      if (t.rates.size() > keep_) t.rates.pop_front();
    }
    t.last = s.io;
    t.at = now;
    next.emplace(s.session_id, std::move(t));
  }
  sessions_ = std::move(next);  // ended sessions go
  total_.push_back(sum);
  if (total_.size() > keep_) total_.pop_front();
}

io_rate io_sampler::latest(std::uint64_t session_id) const {
  const auto found = sessions_.find(session_id);
  if (found == sessions_.end() || found->second.rates.empty()) return {};
  return found->second.rates.back();
}

nlohmann::ordered_json io_sampler::to_json(const io_rate& r) {
  return {{"t", r.time_ms}, {"rb", r.read_bytes_per_s}, {"wb", r.write_bytes_per_s}, {"ro", r.read_ops_per_s},
          {"wo", r.write_ops_per_s}};
}

nlohmann::ordered_json io_sampler::history_json() const {
  auto list = [](const std::deque<io_rate>& rates) {
    auto out = nlohmann::ordered_json::array();
    for (const auto& r : rates) out.push_back(to_json(r));
    return out;
  };
  nlohmann::ordered_json sessions = nlohmann::ordered_json::object();
  for (const auto& [id, t] : sessions_) sessions[std::to_string(id)] = list(t.rates);
  return {{"period_ms", period_.count()}, {"total", list(total_)}, {"sessions", std::move(sessions)}};
}

}  // namespace isens::daemon
