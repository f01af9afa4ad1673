#include "journal_io.hpp"

#include "isens/events/event_json.hpp"
#include "plain_event_json.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace isens::events::detail {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int unique_fd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void unique_fd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::error_code last_error() noexcept { return {errno, std::generic_category()}; }

std::filesystem::path segment_path(const std::filesystem::path& directory, std::uint64_t first_seq) {
  return directory / ("events-" + std::to_string(first_seq) + ".jsonl");
}

std::optional<std::uint64_t> segment_name_seq(const std::string& file_name) noexcept {
  constexpr std::string_view prefix = "events-";
  constexpr std::string_view suffix = ".jsonl";
  const std::string_view name = file_name;
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix))
    return std::nullopt;
  const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  std::uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return seq;
}

std::error_code write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::error_code read_range(int fd, std::uint64_t from, std::uint64_t to, std::string& out) {
  out.resize(static_cast<std::size_t>(to > from ? to - from : 0));
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(from + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (n == 0) break;  // shorter than expected: keep what is there
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return {};
}

std::error_code read_all(int fd, std::string& out) {
  const auto size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) return last_error();
  return read_range(fd, 0, static_cast<std::uint64_t>(size), out);
}

std::string event_line(const event& e) {
  std::string line;
  line.reserve(400);
  if (!append_plain_event_json(e, line))
    line = to_json(e).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  line += '\n';
  return line;
}

std::string hole_line(std::uint64_t first, std::uint64_t last) {
  return "{\"journal_hole\":{\"first\":" + std::to_string(first) + ",\"last\":" + std::to_string(last) + "}}\n";
}

parsed_line parse_line(std::string_view line) {
  parsed_line out;
  if (read_plain_event_json(line, out.ev)) {  // the journal's own form, read without a JSON tree
    out.kind = parsed_line::type::event;
    return out;
  }
  auto j = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    out.error = "not JSON";
    return out;
  }
  if (const auto it = j.is_object() ? j.find("journal_hole") : j.end(); it != j.end()) {
    const auto first = it->is_object() ? it->find("first") : it->end();
    const auto last = it->is_object() ? it->find("last") : it->end();
    if (first == it->end() || last == it->end() || !first->is_number_unsigned() || !last->is_number_unsigned() ||
        first->get<std::uint64_t>() == 0 || first->get<std::uint64_t>() > last->get<std::uint64_t>()) {
      out.error = "malformed hole marker";
      return out;
    }
    out.kind = parsed_line::type::hole;
    out.hole_first = first->get<std::uint64_t>();
    out.hole_last = last->get<std::uint64_t>();
    return out;
  }
  try {
    out.ev = event_from_json(j);
    out.kind = parsed_line::type::event;
  } catch (const event_format_error& ex) {
    out.error = ex.what();
  }
  return out;
}

std::optional<std::uint64_t> peek_seq(std::string_view line) noexcept {
  constexpr std::string_view prefix = R"({"schema":1,"seq":)";
  if (!line.starts_with(prefix)) return std::nullopt;
  line.remove_prefix(prefix.size());
  std::uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), seq);
  if (ec != std::errc{} || end == line.data() + line.size() || *end != ',') return std::nullopt;
  return seq;
}

}  // namespace isens::events::detail
