#pragma once
/// The bounded on-disk event journal: out-of-process consumers (`isensctl
/// watch --since SEQ`) resume from a seq, also across daemon restarts.
///
/// Events are stored as JSON lines (schema 1, see event_json.hpp) in segment
/// files `events-<first_seq>.jsonl`; the oldest whole segment is deleted when
/// more than `max_events` are kept. Seqs the journal knows it never received
/// (queue overflow, a failed write, a corrupt line found on open) are
/// remembered as holes, so a reader crossing one is told to resync instead of
/// silently missing events.

#include "isens/events/event.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace isens::events {

/// Where the journal lives, how much it keeps and how often it syncs.
struct journal_options {
  std::filesystem::path directory;     ///< created (mode 0700) if missing; one journal per directory
  std::size_t max_events = 100000;     ///< events kept at most; older whole segments are deleted
  std::size_t segment_events = 10000;  ///< lines per segment file; must not exceed max_events
  /// fdatasync when this long has passed since the last one (0: after every event).
  std::chrono::milliseconds sync_interval{100};
  /// fdatasync when this many events were written since the last one.
  std::size_t sync_every_events = 256;
};

/// Where a read_since stopped in the journal's files. Passed back with the
/// next read (whose after_seq is this read's next_after), it lets that read
/// start there instead of reading its segment from the start and skipping
/// to after_seq line by line. A stale one (another after_seq, or a segment
/// rotated away meanwhile) is ignored: the read scans as without it.
struct journal_read_position {
  std::uint64_t after_seq = 0;  ///< every line before `offset` has a seq up to this
  std::uint64_t segment = 0;    ///< the segment's name seq; 0: no position
  std::uint64_t offset = 0;     ///< bytes into that segment
};

/// What a read found besides the events: whether some are missing, and
/// where to go on from.
struct journal_span {
  /// Some seq in (after_seq, next_after] is not in the answer: it was
  /// deleted (older than oldest_available) or never reached the journal.
  /// Resync from a session snapshot, then continue from next_after.
  bool gap = false;
  std::uint64_t oldest_available = 0;  ///< seq of the oldest event kept (0 when empty)
  std::uint64_t next_after = 0;        ///< pass as after_seq next time: everything up to it is accounted for
  journal_read_position position;      ///< pass with next_after to read on from where this read stopped
};

/// An event with its journal line, serialised once: the journal writes the
/// line, and whoever else needs the event's JSON (the NATS bridge) shares it.
struct journal_record {
  /// Serialises `e`; never throws for want of memory there: an empty line
  /// is refused by append() and counted as an append error.
  explicit journal_record(event e);
  /// An event read back with the line it was stored as (stored is true).
  journal_record(event e, std::string stored_line);
  event ev;
  std::string line;     ///< the event's JSON (schema 1, as in the files) and '\n'; empty if it could not be made
  bool stored = false;  ///< set by append(): the line is in the journal (written, synced per the options)
  /// The JSON alone, without the newline.
  std::string_view json() const noexcept { return std::string_view(line).substr(0, line.empty() ? 0 : line.size() - 1); }
};

/// What read_since found.
struct journal_batch : journal_span {
  std::vector<event> events;  ///< seq > after_seq, ascending, at most `max`
};

/// What read_records_since found.
struct journal_record_batch : journal_span {
  std::vector<journal_record> records;  ///< seq > after_seq, ascending, at most `max`, with their lines
};

/// Counters for metrics and tests.
struct journal_stats {
  std::uint64_t appended = 0;       ///< events written since open
  std::uint64_t append_errors = 0;  ///< events that could not be written (logged)
  std::uint64_t out_of_order = 0;   ///< events refused because seq did not increase (logged)
  std::uint64_t lost = 0;           ///< events reported lost upstream via record_loss
  std::uint64_t corrupt_lines = 0;  ///< unreadable lines skipped when opening
  std::uint64_t torn_lines = 0;     ///< half-written last lines truncated away when opening
  std::size_t events = 0;           ///< events kept now
  std::size_t segments = 0;         ///< segment files now
};

/// The journal. Thread-safe: append, record_loss, flush and the readers may
/// be called from any thread; readers do their file I/O and parsing without
/// holding the lock appends take.
class event_journal {
 public:
  /// Opens (and recovers) or creates the journal; throws std::system_error or
  /// std::runtime_error naming the directory and the cause.
  explicit event_journal(journal_options options);
  /// Syncs and closes.
  ~event_journal();

  event_journal(const event_journal&) = delete;
  event_journal& operator=(const event_journal&) = delete;

  /// Writes one event; false (logged and counted, never thrown) when it
  /// could not be written or its seq is not above last_seq().
  bool append(const event& e);
  /// Writes the records in order under one lock, as few write() calls as
  /// the sync options allow (a write never spans a point where one event at
  /// a time would have synced, nor two segments), and sets each record's
  /// `stored`. Returns how many were stored; the others are logged and
  /// counted as append() does. When it returns, what it stored is in the
  /// kernel, exactly as after that many append() calls.
  std::size_t append(std::span<journal_record> records);
  /// Records that the next `lost` seqs after last_seq() never reached the
  /// journal (a subscriber's queue overflowed), so readers are told.
  void record_loss(std::uint64_t lost);
  /// Forces written events to disk (fdatasync).
  void flush();

  /// The highest seq the journal accounts for, written or lost (0 when empty);
  /// the daemon continues its bus's seq after it.
  std::uint64_t last_seq() const;
  /// The seq of the oldest event kept (0 when empty).
  std::uint64_t first_seq() const;
  /// Up to `max` events with seq > after_seq, in order, and whether any seq
  /// in between is missing. `from`: the last batch's position, so that a
  /// reader going through the journal batch by batch reads each line once.
  journal_batch read_since(std::uint64_t after_seq, std::size_t max, const journal_read_position& from = {}) const;
  /// The same, each event with the line it is stored as, for a reader that
  /// forwards the JSON (the NATS bridge): no second serialisation.
  journal_record_batch read_records_since(std::uint64_t after_seq, std::size_t max,
                                          const journal_read_position& from = {}) const;
  /// Current counters.
  journal_stats stats() const;
  /// The directory the journal lives in.
  const std::filesystem::path& directory() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> state_;
  // Both readers: calls keep(event, line) for each event after after_seq,
  // in order, until it has kept `max`.
  template <class Keep>
  journal_span read_lines(std::uint64_t after_seq, std::size_t max, const journal_read_position& from, Keep keep) const;
};

}  // namespace isens::events
