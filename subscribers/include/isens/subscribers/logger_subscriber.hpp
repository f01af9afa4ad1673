#pragma once
/// The logger subscriber: one line per event, to stderr, a rotating file or
/// syslog, as readable text or as the event's JSON line.
///
/// Text:  `session 3 iqn.2026-11.org.example:disk1 127.0.0.1:3260 cid 0:
///         session_disconnect (peer_closed) — connection reset by peer`
/// JSON:  the event's `to_json_line`, so a log file is a JSON Lines stream
///        `parse_event_json` reads back. A gap is the line `{"schema":1,"gap":N}`.
/// Levels: session_disconnect warns, anything with reason recovery_failed is
/// an error, every other event is info. Uses its own spdlog logger, never the
/// process-wide default, so it neither changes nor depends on other logging.

#include "isens/events/event.hpp"
#include "isens/events/subscriber.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace isens::subscribers {

/// How each event is written.
enum class log_format : std::uint8_t {
  text,  ///< a readable line (with time and level on stderr and in files)
  json,  ///< the event's JSON line exactly, nothing around it
};

/// Where lines go.
enum class log_sink : std::uint8_t {
  standard_error,  ///< the process's stderr
  file,            ///< `path`, rotated by size
  syslog,          ///< the local syslog (LOG_DAEMON), with the level as priority
};

/// The least severe level written; events below it are skipped.
enum class log_level : std::uint8_t { debug, info, warn, error, off };

/// Everything the logger subscriber is configured with.
struct logger_options {
  log_format format = log_format::text;  ///< text or JSON lines
  log_sink sink = log_sink::standard_error;  ///< stderr, file or syslog
  std::string path;                      ///< the log file, for log_sink::file
  std::size_t max_size = 10 * 1024 * 1024;  ///< bytes before the file rotates (> 0)
  std::size_t max_files = 5;             ///< rotated files kept besides the current one
  log_level level = log_level::info;     ///< least severe level written
  std::string syslog_ident = "isensd";   ///< the program name syslog shows
};

/// A logger could not be set up; the message says what and why.
class logger_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes every delivered event as one line; see the file comment for formats.
class logger_subscriber final : public events::subscriber {
 public:
  /// Opens the sink; throws logger_error for a bad path or size.
  explicit logger_subscriber(const logger_options& options);
  /// Flushes and closes the sink.
  ~logger_subscriber() override;

  /// Not copyable: it owns an open sink.
  logger_subscriber(const logger_subscriber&) = delete;
  /// Not copyable: it owns an open sink.
  logger_subscriber& operator=(const logger_subscriber&) = delete;

  /// Writes the event at the level event_log_level gives.
  void on_event(const events::event& e) override;
  /// Warns that `lost` events were dropped, so a reader knows the log has a hole.
  void on_gap(std::uint64_t lost) override;
  /// Pushes buffered lines to the sink (lines are flushed as written anyway).
  void flush();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Makes a logger subscriber to hand to event_bus::subscribe; throws logger_error.
std::shared_ptr<logger_subscriber> make_logger_subscriber(const logger_options& options);

/// The level an event is logged at.
log_level event_log_level(const events::event& e) noexcept;

/// The readable text line of an event, without time or level; control
/// characters in target, portal and detail are escaped so no one can forge
/// a log line through them.
std::string format_event_line(const events::event& e);

}  // namespace isens::subscribers
