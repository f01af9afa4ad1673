#include "bridge_env.hpp"

#include <spdlog/spdlog.h>

namespace isens::test {

log_capture::log_capture()
    : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10000)), previous_(spdlog::default_logger()) {
  auto logger = std::make_shared<spdlog::logger>("fleet-test", sink_);
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

log_capture::~log_capture() { spdlog::set_default_logger(previous_); }

std::string log_capture::text() const {
  std::string all;
  for (const auto& line : sink_->last_formatted()) all += line;
  return all;
}

std::size_t log_capture::count(const std::string& needle) const {
  std::size_t n = 0;
  for (const auto& line : sink_->last_formatted()) n += line.find(needle) != std::string::npos;
  return n;
}

fleet::bridge_options test_bridge_options(const std::string& url, const std::filesystem::path& dir,
                                          const std::string& host) {
  fleet::bridge_options o;
  o.nats = fast_nats_options(url);
  o.host = host;
  o.host_token = fleet::escape_host_token(host);
  o.boot_id = "boot-a";
  o.stream.name = "ISENS_TEST";
  o.cursor_file = dir / "nats-cursor";
  o.ack_timeout = std::chrono::milliseconds(1000);
  o.heartbeat_interval = std::chrono::milliseconds(200);
  o.retry_interval = std::chrono::milliseconds(100);
  return o;
}

bridge_env::bridge_env(std::size_t journal_max_events) {
  events::journal_options o;
  o.directory = dir.path() / "journal";
  o.max_events = journal_max_events;
  o.segment_events = std::max<std::size_t>(journal_max_events / 10, 10);
  journal = std::make_shared<events::event_journal>(o);
}

bridge_env::~bridge_env() {
  if (bridge) bridge->stop();
}

void bridge_env::append(std::size_t n) {
  static constexpr events::event_kind kinds[] = {events::event_kind::connection_made, events::event_kind::logon,
                                                 events::event_kind::session_ready, events::event_kind::session_disconnect,
                                                 events::event_kind::session_reconnect, events::event_kind::logoff};
  std::vector<events::journal_record> run;  // one run, as the journal's subscriber appends it
  for (std::size_t i = 0; i < n; ++i) {
    events::event e;
    e.seq = ++last_seq;
    e.boot_id = "boot-a";
    e.timestamp = std::chrono::system_clock::now();
    e.kind = kinds[e.seq % std::size(kinds)];
    e.session_id = 1 + e.seq % 3;
    e.target = "iqn.2026-12.test:fleet";
    e.portal = "127.0.0.1:3260";
    run.emplace_back(std::move(e));
  }
  journal->append(run);
  if (bridge) bridge->notify(run);
}

void bridge_env::start_bridge(std::optional<fleet::bridge_options> options) {
  bridge = std::make_unique<fleet::bridge>(options ? *options : test_bridge_options(broker.url(), dir.path()), journal);
  bridge->start();
}

bool bridge_env::acked_through(std::uint64_t seq, std::chrono::milliseconds bound) {
  return eventually([&] { return bridge->stats().acked_seq >= seq; }, bound);
}

}  // namespace isens::test
