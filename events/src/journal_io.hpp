#pragma once
// The event journal's file format and the POSIX calls it needs, kept apart
// from the journal's bookkeeping (event_journal.cpp).
//
// A segment is a file of lines, each ending in '\n': either an event in its
// schema-1 JSON form, or a hole marker {"journal_hole":{"first":A,"last":B}}
// saying seqs A..B were lost before reaching the journal. Markers carry no
// "schema" member, so an event parser never mistakes one for an event.

#include "isens/events/event.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace isens::events::detail {

// Owns a file descriptor; closes it on destruction.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  ~unique_fd() { reset(); }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// The last errno as an error_code.
std::error_code last_error() noexcept;

// `events-<seq>.jsonl` inside `directory`.
std::filesystem::path segment_path(const std::filesystem::path& directory, std::uint64_t first_seq);
// The seq in a segment's file name; empty for any other name.
std::optional<std::uint64_t> segment_name_seq(const std::string& file_name) noexcept;

// Writes all of `data`, retrying short writes and EINTR.
std::error_code write_all(int fd, std::string_view data) noexcept;
// Reads bytes [from, to) (fewer if the file is shorter).
std::error_code read_range(int fd, std::uint64_t from, std::uint64_t to, std::string& out);
// Reads the whole file.
std::error_code read_all(int fd, std::string& out);

// The line (with '\n') that stores an event. Invalid UTF-8 in a string is
// replaced rather than thrown on: a target's odd name must not cost the event.
std::string event_line(const event& e);
// The line (with '\n') that marks seqs first..last as lost.
std::string hole_line(std::uint64_t first, std::uint64_t last);

// One line of a segment, understood.
struct parsed_line {
  enum class type { event, hole, corrupt } kind = type::corrupt;
  event ev;                      // type::event
  std::uint64_t hole_first = 0;  // type::hole
  std::uint64_t hole_last = 0;   // type::hole
  std::string error;             // type::corrupt: why
};
// Parses a line (without its '\n'); never throws on bad content.
parsed_line parse_line(std::string_view line);
// The seq of an event line as event_line writes it, without a full parse;
// empty when the line does not start the usual way (then parse it fully).
std::optional<std::uint64_t> peek_seq(std::string_view line) noexcept;

}  // namespace isens::events::detail
