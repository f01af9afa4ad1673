#pragma once
// The event journal's bookkeeping, shared by its recovery on open
// (journal_recovery.cpp) and its append/read side (event_journal.cpp).

#include "isens/events/event_journal.hpp"
#include "journal_io.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

namespace isens::events {
namespace detail {

// One segment file as the journal knows it. `bytes` covers complete lines
// only: readers never look past it, so they never see a line half-written.
struct segment {
  std::uint64_t name_seq = 0;
  std::filesystem::path path;
  std::uint64_t first_seq = 0;  // of its first event; 0 while it holds none
  std::uint64_t last_seq = 0;
  std::size_t events = 0;
  std::size_t lines = 0;
  std::uint64_t bytes = 0;
};

// Seqs first..last that the journal accounts for but does not hold.
struct hole {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// Repeated failures (a full disk) log on the 1st, 2nd, 4th, 8th… occurrence
// so the log stays readable while the counter keeps the exact number.
inline bool worth_logging(std::uint64_t count) noexcept { return (count & (count - 1)) == 0; }

// Throws the constructor's error: the path and the cause, both in the message.
[[noreturn]] inline void journal_fail(std::error_code ec, const std::string& what, const std::filesystem::path& path) {
  throw std::system_error(ec, "event journal: " + what + " " + path.string());
}

}  // namespace detail

struct event_journal::state {
  journal_options options;
  mutable std::mutex mutex;
  detail::unique_fd directory_fd;  // holds the flock that keeps a second journal out
  detail::unique_fd active_fd;     // the last segment, open for appending; closed after a failure
  std::deque<detail::segment> segments;
  std::deque<detail::hole> holes;
  std::uint64_t last_seq = 0;  // the highest seq written or marked lost
  std::size_t events = 0;
  std::size_t unsynced = 0;
  std::chrono::steady_clock::time_point last_sync = std::chrono::steady_clock::now();
  journal_stats counters;
  std::string batch;  // the lines of one batched write (kept for its capacity)

  // Recovery (journal_recovery.cpp).
  void open_directory();
  void scan();
  void scan_segment(detail::segment& seg, bool last);
  void take_line(detail::segment& seg, std::string_view line, std::size_t line_no);

  // Writing (event_journal.cpp). All called with `mutex` held.
  void add_hole(std::uint64_t first, std::uint64_t last_lost);
  bool start_segment(std::uint64_t seq);
  // Writes `text`, which holds `lines` whole lines, in one go.
  bool write_lines(const std::string& text, std::size_t lines = 1);
  // After `written` events: syncs if the options say so.
  void maybe_sync(std::size_t written);
  // How many events the next write may carry: it must not pass a point
  // where writing one event at a time would have synced.
  std::size_t events_before_sync() const noexcept;
  void sync_active();
  void enforce_bound();
  std::uint64_t first_seq() const noexcept;
};

}  // namespace isens::events
