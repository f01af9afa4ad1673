#pragma once
// The publishes awaiting their ack, in publish order. Acks may come in any
// order; the cursor advances only over a prefix that is wholly acknowledged,
// so a persisted cursor never skips an unacknowledged event. Each publish
// keeps when it was sent, so the bridge times out a lost ack itself (one
// clock read per run) instead of the client tracking a deadline per message.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace isens::fleet {

class publish_window {
 public:
  // Starts over after `acked` (a resync).
  void reset(std::uint64_t acked);
  using time_point = std::chrono::steady_clock::time_point;
  // Records a publish that accounts for journal seqs (after, position], sent at `when`.
  void sent(std::uint64_t after, std::uint64_t position, time_point when);
  // Records its ack; returns the new in-order cursor when it moved.
  std::optional<std::uint64_t> acked(std::uint64_t position);
  // Records a failure (an error ack or a timeout): the lowest `after` of a
  // failed publish is kept, since the stream may hold later ones but not it.
  void failed(std::uint64_t position);
  // Publishes not yet acked or failed.
  std::size_t in_flight() const noexcept { return outstanding_; }
  // The last position acknowledged in order.
  std::uint64_t cursor() const noexcept { return cursor_; }
  // Where a resend must start at the latest: every seq after it may be missing.
  std::optional<std::uint64_t> lowest_failed() const noexcept { return lowest_failed_; }
  // The position of the oldest publish neither acked nor failed, if it was
  // sent before `deadline`: its ack is overdue.
  std::optional<std::uint64_t> overdue(time_point deadline) const;
  // When the last publish awaiting its ack was sent at the latest.
  std::optional<time_point> newest_sent() const;

 private:
  struct entry {
    std::uint64_t after;
    std::uint64_t position;
    time_point sent_at;
    bool done;
  };
  std::deque<entry> entries_;
  std::size_t outstanding_ = 0;
  std::uint64_t cursor_ = 0;
  std::optional<std::uint64_t> lowest_failed_;
  entry* find(std::uint64_t position);
};

}  // namespace isens::fleet
