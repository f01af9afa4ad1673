#include "isens/subscribers/logger_subscriber.hpp"

#include "isens/events/event_json.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

#include <array>
#include <syslog.h>

namespace isens::subscribers {

namespace {

// spdlog refuses more rotated files than this; say so before it does.
constexpr std::size_t max_rotated_files = 200000;

spdlog::level::level_enum to_spdlog(log_level level) noexcept {
  switch (level) {
    case log_level::debug: return spdlog::level::debug;
    case log_level::info: return spdlog::level::info;
    case log_level::warn: return spdlog::level::warn;
    case log_level::error: return spdlog::level::err;
    case log_level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// Targets, portals and details come from configuration and from the
// network; a raw newline in one would let it forge a second log line.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr std::array<char, 16> hex{'0', '1', '2', '3', '4', '5', '6', '7',
                                            '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    } else {
      out += c;
    }
  }
}

spdlog::sink_ptr open_sink(const logger_options& options) {
  switch (options.sink) {
    case log_sink::standard_error:
      return std::make_shared<spdlog::sinks::stderr_sink_mt>();
    case log_sink::syslog:
      // LOG_PID: several isensd instances on one host stay distinguishable.
      return std::make_shared<spdlog::sinks::syslog_sink_mt>(options.syslog_ident, LOG_PID, LOG_DAEMON, true);
    case log_sink::file:
      break;
  }
  if (options.path.empty()) throw logger_error("logger: the file sink needs a path");
  if (options.max_size == 0) throw logger_error("logger: max_size of \"" + options.path + "\" must be more than 0 bytes");
  if (options.max_files > max_rotated_files) {
    throw logger_error("logger: max_files of \"" + options.path + "\" must be at most " +
                       std::to_string(max_rotated_files));
  }
  try {
    return std::make_shared<spdlog::sinks::rotating_file_sink_mt>(options.path, options.max_size, options.max_files);
  } catch (const spdlog::spdlog_ex& e) {
    throw logger_error("logger: cannot open log file \"" + options.path + "\": " + e.what());
  }
}

}  // namespace

struct logger_subscriber::impl {
  log_format format = log_format::text;
  std::shared_ptr<spdlog::logger> logger;
};

logger_subscriber::logger_subscriber(const logger_options& options) : impl_(std::make_unique<impl>()) {
  impl_->format = options.format;
  // Built directly rather than through spdlog's registry, so it is never
  // the global default and two subscribers never fight over one name.
  impl_->logger = std::make_shared<spdlog::logger>("isens.events", open_sink(options));
  // Syslog stamps time and priority itself, and a JSON line must be nothing
  // but JSON; only text on stderr or in a file gets a time and level prefix.
  const bool plain = options.format == log_format::json || options.sink == log_sink::syslog;
  impl_->logger->set_pattern(plain ? "%v" : "%Y-%m-%dT%H:%M:%S.%fZ [%l] %v", spdlog::pattern_time_type::utc);
  impl_->logger->set_level(to_spdlog(options.level));
  // Events are rare and a crash should not eat the last ones before it.
  impl_->logger->flush_on(spdlog::level::trace);
}

logger_subscriber::~logger_subscriber() {
  try {
    impl_->logger->flush();
  } catch (...) {  // a destructor must not throw; a failed last flush has nowhere to go
  }
}

void logger_subscriber::on_event(const events::event& e) {
  const auto level = to_spdlog(event_log_level(e));
  if (!impl_->logger->should_log(level)) return;
  // Passed as a plain message, never a format string: a detail with braces
  // from the network must come out as written.
  const auto line = impl_->format == log_format::json ? events::to_json_line(e) : format_event_line(e);
  impl_->logger->log(level, spdlog::string_view_t(line));
}

void logger_subscriber::on_gap(std::uint64_t lost) {
  if (impl_->format == log_format::json) {
    impl_->logger->warn("{{\"schema\":{},\"gap\":{}}}", events::event_schema_version, lost);
  } else {
    impl_->logger->warn("gap: {} events lost (the logger's queue was full)", lost);
  }
}

void logger_subscriber::flush() { impl_->logger->flush(); }

std::shared_ptr<logger_subscriber> make_logger_subscriber(const logger_options& options) {
  return std::make_shared<logger_subscriber>(options);
}

log_level event_log_level(const events::event& e) noexcept {
  if (e.reason == events::event_reason::recovery_failed) return log_level::error;
  if (e.kind == events::event_kind::session_disconnect) return log_level::warn;
  return log_level::info;
}

std::string format_event_line(const events::event& e) {
  std::string line = "session " + std::to_string(e.session_id);
  if (!e.target.empty()) {
    line += ' ';
    append_escaped(line, e.target);
  }
  if (!e.portal.empty()) {
    line += ' ';
    append_escaped(line, e.portal);
  }
  if (e.cid) line += " cid " + std::to_string(*e.cid);
  line += ": ";
  line += events::to_string(e.kind);
  if (e.reason != events::event_reason::none) {
    line += " (";
    line += events::to_string(e.reason);
    line += ')';
  }
  if (e.attempt) line += " attempt " + std::to_string(*e.attempt);
  if (!e.detail.empty()) {
    line += " \u2014 ";
    append_escaped(line, e.detail);
  }
  return line;
}

}  // namespace isens::subscribers
