#include "isens/events/event_journal.hpp"

#include "journal_state.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace isens::events {
namespace fs = std::filesystem;

void event_journal::state::add_hole(std::uint64_t first, std::uint64_t last_lost) {
  if (!holes.empty() && holes.back().last + 1 == first) {
    holes.back().last = last_lost;
  } else {
    holes.push_back({first, last_lost});
  }
}

bool event_journal::state::start_segment(std::uint64_t seq) {
  if (active_fd) sync_active();  // a finished segment is durable before the next begins
  active_fd.reset();
  const auto path = detail::segment_path(options.directory, seq);
  // O_EXCL: a name already taken means our index is wrong; never append to a stranger.
  detail::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) {
    const auto ec = detail::last_error();
    if (detail::worth_logging(counters.append_errors + 1))
      spdlog::error("event journal: cannot create {}: {}", path.string(), ec.message());
    return false;
  }
  // The new name must survive a power cut as well as the lines in it.
  ::fsync(directory_fd.get());
  active_fd = std::move(fd);
  detail::segment seg;
  seg.name_seq = seq;
  seg.path = path;
  segments.push_back(std::move(seg));
  return true;
}

bool event_journal::state::write_lines(const std::string& text, std::size_t lines) {
  auto& seg = segments.back();
  if (const auto ec = detail::write_all(active_fd.get(), text)) {
    if (detail::worth_logging(counters.append_errors + 1))
      spdlog::error("event journal {}: write failed: {} ({} failures so far)", seg.path.string(), ec.message(),
                    counters.append_errors + 1);
    // Undo a partial line, or the next line would be glued to it. If even
    // that fails, give up on this file: the next append starts a new one.
    if (::ftruncate(active_fd.get(), static_cast<off_t>(seg.bytes)) != 0) active_fd.reset();
    return false;
  }
  seg.bytes += text.size();
  seg.lines += lines;
  return true;
}

// Durability trade-off: every event is written (write()) at once, so a crash
// of the daemon alone loses nothing — the kernel holds the data. Only a crash
// of the machine can lose what is not yet fdatasync'ed. Syncing every event
// would bound that to zero but costs a disk flush (ms on disks) per event on
// the journal subscriber's strand, and a burst of disconnects would overflow
// its queue. So we sync at most every sync_interval or sync_every_events,
// and on flush()/close; a machine crash loses at most that window, and the
// next boot's events carry a new boot_id, so consumers can tell.
// A batch (append(span)) is written in pieces that end where one event at a
// time would have synced, so batching changes how many write() calls are
// made, never what is on disk when a sync returns.
std::size_t event_journal::state::events_before_sync() const noexcept {
  if (options.sync_interval.count() == 0 || options.sync_every_events <= unsynced + 1) return 1;
  return options.sync_every_events - unsynced;
}

void event_journal::state::maybe_sync(std::size_t written) {
  unsynced += written;
  const auto now = std::chrono::steady_clock::now();
  if (options.sync_interval.count() == 0 || unsynced >= options.sync_every_events ||
      now - last_sync >= options.sync_interval)
    sync_active();
}

void event_journal::state::sync_active() {
  if (active_fd && unsynced != 0 && ::fdatasync(active_fd.get()) != 0)
    spdlog::error("event journal {}: fdatasync failed: {}", segments.back().path.string(),
                  detail::last_error().message());
  unsynced = 0;
  last_sync = std::chrono::steady_clock::now();
}

void event_journal::state::enforce_bound() {
  // Whole segments only, never the one being written: deleting a file is one
  // cheap call, rewriting one to trim its head is not.
  while (events > options.max_events && segments.size() > 1) {
    std::error_code ec;
    if (!fs::remove(segments.front().path, ec) && ec)
      spdlog::error("event journal: cannot delete {}: {}", segments.front().path.string(), ec.message());
    events -= segments.front().events;
    segments.pop_front();
  }
  const auto first = first_seq();
  while (!holes.empty() && holes.front().last < first) holes.pop_front();
}

std::uint64_t event_journal::state::first_seq() const noexcept {
  for (const auto& seg : segments)
    if (seg.events != 0) return seg.first_seq;
  return 0;
}

event_journal::event_journal(journal_options options) : state_(std::make_unique<state>()) {
  if (options.directory.empty()) throw std::invalid_argument("event journal: no directory given");
  if (options.segment_events == 0 || options.segment_events > options.max_events)
    throw std::invalid_argument("event journal: segment_events must be between 1 and max_events");
  state_->options = std::move(options);
  state_->open_directory();
  state_->scan();
  spdlog::info("event journal {}: {} events in {} segments, seq {}..{}", state_->options.directory.string(),
               state_->events, state_->segments.size(), state_->first_seq(), state_->last_seq);
}

event_journal::~event_journal() { flush(); }

journal_record::journal_record(event e, std::string stored_line)
    : ev(std::move(e)), line(std::move(stored_line)), stored(true) {}

journal_record::journal_record(event e) : ev(std::move(e)) {
  try {
    line = detail::event_line(ev);
  } catch (const std::exception& ex) {  // allocation, in practice
    line.clear();
    spdlog::error("event journal: cannot serialise event {}: {}", ev.seq, ex.what());
  }
}

bool event_journal::append(const event& e) {
  journal_record record(e);
  return append(std::span(&record, 1)) == 1;
}

std::size_t event_journal::append(std::span<journal_record> records) {
  auto& s = *state_;
  std::lock_guard lock(s.mutex);
  for (auto& r : records) r.stored = false;
  std::size_t stored = 0;
  for (std::size_t i = 0; i < records.size();) {
    auto& first = records[i];
    if (first.line.empty()) {  // could not be serialised (logged)
      ++s.counters.append_errors;
      ++i;
      continue;
    }
    if (first.ev.seq <= s.last_seq) {
      // read_since relies on seq only increasing; a bus that restarted its
      // seq at 1 (not continued after last_seq()) would break every reader.
      if (detail::worth_logging(++s.counters.out_of_order))
        spdlog::error("event journal: refused event seq {}: not above {} ({} refused so far)", first.ev.seq,
                      s.last_seq, s.counters.out_of_order);
      ++i;
      continue;
    }
    if ((!s.active_fd || s.segments.back().lines >= s.options.segment_events) && !s.start_segment(first.ev.seq)) {
      ++s.counters.append_errors;
      ++i;
      continue;
    }
    // One write for the records that follow in order, up to the segment's
    // end and the next point where the sync options call for a sync.
    const auto limit = std::min(s.options.segment_events - s.segments.back().lines, s.events_before_sync());
    std::size_t n = 0;
    s.batch.clear();
    for (auto seq = s.last_seq; n < limit && i + n < records.size(); ++n) {
      const auto& r = records[i + n];
      if (r.line.empty() || r.ev.seq <= seq) break;
      seq = r.ev.seq;
      s.batch += r.line;
    }
    if (!s.write_lines(s.batch, n)) {
      s.counters.append_errors += n;
      i += n;
      continue;  // their seqs become a hole when the next event is written
    }
    auto& seg = s.segments.back();
    for (const auto end = i + n; i < end; ++i) {
      auto& r = records[i];
      if (s.last_seq != 0 && r.ev.seq > s.last_seq + 1) {
        s.add_hole(s.last_seq + 1, r.ev.seq - 1);
        spdlog::warn("event journal: seq {}..{} never reached the journal", s.last_seq + 1, r.ev.seq - 1);
      }
      if (seg.events++ == 0) seg.first_seq = r.ev.seq;
      seg.last_seq = s.last_seq = r.ev.seq;
      r.stored = true;
    }
    s.events += n;
    s.counters.appended += n;
    stored += n;
    s.maybe_sync(n);
    s.enforce_bound();
  }
  return stored;
}

void event_journal::record_loss(std::uint64_t lost) {
  auto& s = *state_;
  std::lock_guard lock(s.mutex);
  s.counters.lost += lost;
  if (lost == 0) return;
  if (s.last_seq == 0) {
    // Nothing kept yet: the first event written becomes oldest_available,
    // and readers asking for anything earlier are told of a gap anyway.
    spdlog::warn("event journal: {} events lost before the first one reached the journal", lost);
    return;
  }
  const auto first = s.last_seq + 1;
  s.last_seq += lost;
  s.add_hole(first, s.last_seq);
  spdlog::warn(
      "event journal: {} events (seq {}..{}) lost before reaching the journal; readers crossing them "
      "are told to resync",
      lost, first, s.last_seq);
  // Persisted, so that after a restart last_seq() still covers these seqs
  // (the bus must not hand them out again) and readers still hear of them.
  if (!s.active_fd || !s.write_lines(detail::hole_line(first, s.last_seq)))
    spdlog::error("event journal: could not record the loss of seq {}..{} on disk", first, s.last_seq);
}

void event_journal::flush() {
  std::lock_guard lock(state_->mutex);
  state_->sync_active();
}

std::uint64_t event_journal::last_seq() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_seq;
}

std::uint64_t event_journal::first_seq() const {
  std::lock_guard lock(state_->mutex);
  return state_->first_seq();
}

journal_stats event_journal::stats() const {
  std::lock_guard lock(state_->mutex);
  auto out = state_->counters;
  out.events = state_->events;
  out.segments = state_->segments.size();
  return out;
}

const std::filesystem::path& event_journal::directory() const noexcept { return state_->options.directory; }

template <class Keep>
journal_span event_journal::read_lines(std::uint64_t after_seq, std::size_t max, const journal_read_position& from,
                                       Keep keep) const {
  // A snapshot under the lock: which files, how many bytes of each, which
  // holes. Opening the files under the lock too means a segment deleted by a
  // later append stays readable through our descriptor. Reading and parsing
  // happen unlocked, so a long read never stalls the journal subscriber.
  struct source {
    detail::unique_fd fd;
    std::uint64_t start = 0;  // bytes known to hold only seqs up to after_seq
    std::uint64_t bytes = 0;
    std::uint64_t name_seq = 0;
    std::string path;
  };
  std::vector<source> sources;
  std::vector<detail::hole> holes;
  journal_span out;
  std::size_t kept = 0;
  std::uint64_t last_kept = after_seq;
  const bool from_valid = from.segment != 0 && from.after_seq == after_seq;
  if (from_valid) out.position = from;  // kept if nothing is read
  std::uint64_t last = 0;
  {
    const auto& s = *state_;
    std::lock_guard lock(s.mutex);
    out.oldest_available = s.first_seq();
    last = s.last_seq;
    std::size_t ahead = 0;  // events known to be > after_seq in the files opened so far
    for (const auto& seg : s.segments) {
      if (max == 0 || ahead >= max) break;
      if (seg.events == 0 || seg.last_seq <= after_seq) continue;
      detail::unique_fd fd(::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) {
        spdlog::error("event journal: cannot open {}: {}", seg.path.string(), detail::last_error().message());
        out.gap = true;  // its events are missing from the answer: say so
        continue;
      }
      const bool resume_here = from_valid && from.segment == seg.name_seq && from.offset <= seg.bytes;
      sources.push_back({std::move(fd), resume_here ? from.offset : 0, seg.bytes, seg.name_seq, seg.path.string()});
      ahead += seg.first_seq > after_seq ? seg.events : 1;
    }
    for (const auto& h : s.holes)
      if (h.last > after_seq) holes.push_back(h);
  }

  std::uint64_t covered = max == 0 ? after_seq : last;  // seqs up to here are returned or reported
  std::string data;
  for (const auto& src : sources) {
    if (const auto ec = detail::read_range(src.fd.get(), src.start, src.bytes, data)) {
      spdlog::error("event journal: cannot read {}: {}", src.path, ec.message());
      out.gap = true;
      out.position = {};  // what it held is unaccounted for: the next read scans
      continue;
    }
    std::size_t pos = 0;
    for (std::size_t newline; kept < max && pos < data.size(); pos = newline + 1) {
      newline = data.find('\n', pos);
      if (newline == std::string::npos) break;
      const auto line = std::string_view(data).substr(pos, newline - pos);
      // Skip what the reader has already seen without parsing it in full.
      if (const auto seq = detail::peek_seq(line); seq && *seq <= after_seq) continue;
      auto parsed = detail::parse_line(line);
      // Hole markers and lines found corrupt on open are accounted for by `holes`.
      if (parsed.kind != detail::parsed_line::type::event || parsed.ev.seq <= last_kept) continue;
      last_kept = parsed.ev.seq;
      keep(std::move(parsed.ev), std::string_view(data).substr(pos, newline + 1 - pos));
      ++kept;
    }
    out.position = {0, src.name_seq, src.start + pos};  // every line before it is returned or skipped
    if (kept >= max) break;
  }
  if (max != 0 && kept >= max) covered = last_kept;

  out.next_after = std::max(after_seq, covered);
  out.position.after_seq = out.next_after;
  if (out.next_after == after_seq) return out;  // nothing new: nothing can be missing
  // Missing from (after_seq, next_after]: whatever was deleted, and every hole in it.
  if (out.oldest_available != 0 && after_seq + 1 < out.oldest_available) out.gap = true;
  for (const auto& h : holes)
    if (h.first <= out.next_after) out.gap = true;  // h.last > after_seq already
  return out;
}

journal_batch event_journal::read_since(std::uint64_t after_seq, std::size_t max,
                                        const journal_read_position& from) const {
  journal_batch out;
  static_cast<journal_span&>(out) =
      read_lines(after_seq, max, from, [&](event&& e, std::string_view) { out.events.push_back(std::move(e)); });
  return out;
}

journal_record_batch event_journal::read_records_since(std::uint64_t after_seq, std::size_t max,
                                                       const journal_read_position& from) const {
  journal_record_batch out;
  static_cast<journal_span&>(out) = read_lines(after_seq, max, from, [&](event&& e, std::string_view line) {
    out.records.emplace_back(std::move(e), std::string(line));
  });
  return out;
}

}  // namespace isens::events
