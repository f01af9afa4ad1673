#include "publish_window.hpp"

#include <algorithm>

namespace isens::fleet {

void publish_window::reset(std::uint64_t acked) {
  entries_.clear();
  outstanding_ = 0;
  cursor_ = acked;
  lowest_failed_.reset();
}

void publish_window::sent(std::uint64_t after, std::uint64_t position, time_point when) {
  entries_.push_back({after, position, when, false});
  ++outstanding_;
}

publish_window::entry* publish_window::find(std::uint64_t position) {
  // Positions increase along the deque: binary search.
  auto it = std::lower_bound(entries_.begin(), entries_.end(), position,
                             [](const entry& e, std::uint64_t p) { return e.position < p; });
  if (it == entries_.end() || it->position != position || it->done) return nullptr;
  return &*it;
}

std::optional<std::uint64_t> publish_window::acked(std::uint64_t position) {
  auto* e = find(position);
  if (!e) return std::nullopt;  // from before a reset, or repeated
  e->done = true;
  --outstanding_;
  bool moved = false;
  // Never past a failure: the stream may lack it.
  while (!entries_.empty() && entries_.front().done && !(lowest_failed_ && entries_.front().position > *lowest_failed_)) {
    cursor_ = entries_.front().position;
    entries_.pop_front();
    moved = true;
  }
  return moved ? std::optional(cursor_) : std::nullopt;
}

std::optional<std::uint64_t> publish_window::overdue(time_point deadline) const {
  if (outstanding_ == 0) return std::nullopt;
  // Sent in order: the first unanswered one is the oldest. Answered ones
  // stay in front only behind a failure, when a resync is due anyway.
  for (const auto& e : entries_) {
    if (e.done) continue;
    if (e.sent_at < deadline) return e.position;
    break;
  }
  return std::nullopt;
}

std::optional<publish_window::time_point> publish_window::newest_sent() const {
  if (outstanding_ == 0) return std::nullopt;
  return entries_.back().sent_at;
}

void publish_window::failed(std::uint64_t position) {
  auto* e = find(position);
  if (!e) return;
  e->done = true;
  --outstanding_;
  if (!lowest_failed_ || e->after < *lowest_failed_) lowest_failed_ = e->after;
}

}  // namespace isens::fleet
