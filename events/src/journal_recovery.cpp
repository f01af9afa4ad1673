// Opening the event journal: the directory, its lock, and the recovery scan
// that rebuilds the index, the holes and last_seq from the segment files.

#include "journal_state.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <utility>
#include <vector>

namespace isens::events {
namespace fs = std::filesystem;

void event_journal::state::open_directory() {
  const auto& dir = options.directory;
  std::error_code ec;
  const auto status = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) detail::journal_fail(ec, "cannot access", dir);
  if (!fs::exists(status)) {
    if (dir.has_parent_path() && !fs::create_directories(dir.parent_path(), ec) && ec)
      detail::journal_fail(ec, "cannot create the parent of", dir);
    // 0700: events name targets and portals, which are not everyone's business.
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      detail::journal_fail(detail::last_error(), "cannot create", dir);
  } else if (!fs::is_directory(status)) {
    throw std::runtime_error("event journal: " + dir.string() + " is not a directory");
  }
  directory_fd = detail::unique_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory_fd) detail::journal_fail(detail::last_error(), "cannot open", dir);
  // Two writers would interleave lines and both believe they own last_seq.
  if (::flock(directory_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw std::runtime_error("event journal: " + dir.string() + " is in use by another event journal");
    detail::journal_fail(detail::last_error(), "cannot lock", dir);
  }
  // Fail now, not on the first event, when we may not write here (read-only
  // mount, wrong owner): the daemon's operator sees it at start.
  if (::access(dir.c_str(), W_OK | X_OK) != 0) detail::journal_fail(detail::last_error(), "cannot write to", dir);
}

void event_journal::state::scan() {
  std::vector<std::pair<std::uint64_t, fs::path>> found;
  std::error_code ec;
  for (fs::directory_iterator it(options.directory, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (const auto seq = detail::segment_name_seq(it->path().filename().string())) found.emplace_back(*seq, it->path());
  }
  if (ec) detail::journal_fail(ec, "cannot list", options.directory);
  std::sort(found.begin(), found.end());

  for (std::size_t i = 0; i < found.size(); ++i) {
    detail::segment seg;
    seg.name_seq = found[i].first;
    seg.path = found[i].second;
    const bool last = i + 1 == found.size();
    scan_segment(seg, last);
    // A file without one whole line is what a crash right after creating a
    // segment leaves; it holds nothing, so it goes (the last one stays:
    // appends reuse it).
    if (seg.bytes == 0 && !last) {
      fs::remove(seg.path, ec);
      continue;
    }
    events += seg.events;
    segments.push_back(std::move(seg));
  }
  if (!segments.empty()) {
    active_fd = detail::unique_fd(::open(segments.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!active_fd) detail::journal_fail(detail::last_error(), "cannot open for appending", segments.back().path);
  }
  enforce_bound();  // max_events may have shrunk since the last run
}

void event_journal::state::scan_segment(detail::segment& seg, bool last) {
  detail::unique_fd fd(::open(seg.path.c_str(), (last ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  std::string data;
  if (!fd) detail::journal_fail(detail::last_error(), "cannot open", seg.path);
  if (const auto ec = detail::read_all(fd.get(), data)) detail::journal_fail(ec, "cannot read", seg.path);

  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < data.size()) {
    const auto newline = data.find('\n', pos);
    if (newline == std::string::npos) {
      if (last) {
        // A crash in the middle of a write. Cut it off so the next append
        // starts on a fresh line and nobody ever reads the fragment.
        if (::ftruncate(fd.get(), static_cast<off_t>(pos)) != 0)
          detail::journal_fail(detail::last_error(), "cannot truncate", seg.path);
        ++counters.torn_lines;
        spdlog::warn("event journal {}: dropped a half-written last line ({} bytes) left by a crash", seg.path.string(),
                     data.size() - pos);
      } else {
        // Not ours to truncate (appends never go here again); readers stop at `bytes`.
        ++counters.corrupt_lines;
        spdlog::warn("event journal {}: skipped an unterminated line {}", seg.path.string(), line_no + 1);
      }
      break;
    }
    take_line(seg, std::string_view(data).substr(pos, newline - pos), ++line_no);
    pos = newline + 1;
    seg.bytes = pos;
    ++seg.lines;
  }
}

void event_journal::state::take_line(detail::segment& seg, std::string_view line, std::size_t line_no) {
  auto parsed = detail::parse_line(line);
  if (parsed.kind == detail::parsed_line::type::event && parsed.ev.seq <= last_seq) {
    parsed.kind = detail::parsed_line::type::corrupt;
    parsed.error = "seq " + std::to_string(parsed.ev.seq) + " does not follow " + std::to_string(last_seq);
  }
  switch (parsed.kind) {
    case detail::parsed_line::type::event: {
      const auto seq = parsed.ev.seq;
      // A line we skipped, or a loss before the crash: a reader must hear of it.
      if (last_seq != 0 && seq > last_seq + 1) add_hole(last_seq + 1, seq - 1);
      if (seg.events++ == 0) seg.first_seq = seq;
      seg.last_seq = last_seq = seq;
      break;
    }
    case detail::parsed_line::type::hole:
      if (parsed.hole_last > last_seq) {
        add_hole(std::max(parsed.hole_first, last_seq + 1), parsed.hole_last);
        last_seq = parsed.hole_last;
      }
      break;
    case detail::parsed_line::type::corrupt:
      ++counters.corrupt_lines;
      spdlog::warn("event journal {}: skipped line {}: {}", seg.path.string(), line_no, parsed.error);
      break;
  }
}

}  // namespace isens::events
