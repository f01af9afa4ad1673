#pragma once
// One round of one row on one side: which I/Os to issue (the same sequence
// for isens and libiscsi), what each completion is checked against, and
// what the round measured. Both sides drive it the same way from the one
// thread that runs them: start(), then next() for every slot, then on each
// completion done() followed by next() on that slot, finish() once nothing
// is in flight. Only the command itself differs between the sides.

#include "lun_pattern.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isens::bench {

inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// CPU time of the calling thread, in ns.
inline std::int64_t thread_cpu_ns() noexcept {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

/// User-space CPU time of the calling thread, in ns. The kernel splits a
/// thread's time into user and system by its clock ticks, so this is a
/// sample: good over a row (thousands of ticks), rough over one round.
inline std::int64_t thread_user_cpu_ns() noexcept {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return std::int64_t{u.ru_utime.tv_sec} * 1'000'000'000 + std::int64_t{u.ru_utime.tv_usec} * 1000;
}

enum class io_op : std::uint8_t { read, write, mixed };

/// One row of the table: what the I/Os are.
struct row_spec {
  std::string key;    ///< JSON key, e.g. "read_4k_qd16"
  std::string label;  ///< table label
  io_op op = io_op::read;
  bool random = true;
  std::uint32_t io_bytes = 4096;
  std::uint32_t depth = 1;
  /// What the row's figure is: MB/s for I/Os above 4 KiB, else IOPS (a JSON key's suffix).
  const char* rate_unit() const noexcept { return io_bytes > 4096 ? "mbps" : "iops"; }
};

/// One command slot (the queue depth is the number of slots).
struct io_slot {
  std::uint32_t index = 0;
  std::byte* read_buffer = nullptr;
  std::byte* write_buffer = nullptr;
  std::uint64_t offset = 0;  ///< LUN byte offset of the current command
  std::uint32_t length = 0;
  bool is_write = false;
  std::int64_t issued_ns = 0;
};

/// The longest gap between two completions since open() (the drop row's stall).
class gap_window {
 public:
  void open(std::int64_t from_ns) {
    std::lock_guard lock(mutex_);
    from_ns_ = from_ns;
    max_gap_ns_ = gap_from_ns_ = 0;
    completions_.clear();
  }
  void note(std::int64_t at_ns) {
    std::lock_guard lock(mutex_);
    if (last_ns_ != 0 && at_ns >= from_ns_ && at_ns - last_ns_ > max_gap_ns_) {
      max_gap_ns_ = at_ns - last_ns_;
      gap_from_ns_ = last_ns_;
    }
    last_ns_ = at_ns;
    if (at_ns >= from_ns_) completions_.push_back(at_ns);
  }
  double max_gap_ms() const {
    std::lock_guard lock(mutex_);
    return static_cast<double>(max_gap_ns_) / 1e6;
  }
  /// The longest gap's ends: the completion before it and the one that ended it (ns, steady clock).
  std::pair<std::int64_t, std::int64_t> max_gap_ends() const {
    std::lock_guard lock(mutex_);
    return {gap_from_ns_, gap_from_ns_ + max_gap_ns_};
  }
  /// The last completion at or before `t` and the first at or after `u` (ns; 0 when none).
  std::pair<std::int64_t, std::int64_t> around(std::int64_t t, std::int64_t u) const {
    std::lock_guard lock(mutex_);
    std::int64_t before = 0, after = 0;
    for (const auto c : completions_) {
      if (c <= t) before = c;
      if (c >= u && after == 0) after = c;
    }
    return {before, after};
  }

 private:
  mutable std::mutex mutex_;
  std::int64_t from_ns_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_gap_ns_ = 0;
  std::int64_t gap_from_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::vector<std::int64_t> completions_;  // since open()
};

/// What one round does.
struct round_plan {
  row_spec row;
  std::chrono::nanoseconds duration{0};  ///< stop issuing after this long (unless until_stopped)
  std::uint64_t max_ops = 0;             ///< stop issuing after this many commands (0: no limit)
  bool until_stopped = false;            ///< run until round_state::stop() (the drop row)
  std::uint16_t write_gen = 0;           ///< the generation this round's writes write
  std::uint64_t seed = 1;                ///< the random offsets (the same for both sides)
  std::uint32_t full_check_every = 16;   ///< every n-th read is compared byte for byte (the others by stamps)
  // Reads fall in [read_begin, read_end), writes in [write_begin, write_end) (LUN bytes).
  std::uint64_t read_begin = 0, read_end = 0, write_begin = 0, write_end = 0;
  bool track_gaps = false;               ///< feed the gap window (the drop row)
};

/// One round in progress, then its results. The driving thread calls
/// start/next/done/finish; other threads only stop(), completed() and the window.
class round_state {
 public:
  round_state(round_plan plan, lun_pattern& pattern, std::byte* arena, std::size_t arena_bytes)
      : plan_(std::move(plan)), pattern_(pattern), rng_(plan_.seed | 1) {
    const auto& row = plan_.row;
    const bool reads = row.op != io_op::write, writes = row.op != io_op::read;
    const std::size_t per_buffer = row.io_bytes;
    if (per_buffer * row.depth * ((reads ? 1 : 0) + (writes ? 1 : 0)) > arena_bytes)
      throw std::logic_error("round_state: the buffer arena is too small for " + row.label);
    slots_.resize(row.depth);
    std::byte* at = arena;
    for (std::uint32_t i = 0; i < row.depth; ++i) {
      slots_[i].index = i;
      if (reads) slots_[i].read_buffer = at, at += per_buffer;
      if (writes) {
        slots_[i].write_buffer = at;
        pattern_.prepare(at, row.io_bytes, plan_.write_gen);
        at += per_buffer;
      }
    }
    read_cursor_ = plan_.read_begin;
    write_cursor_ = plan_.write_begin;
    const std::uint64_t expected = plan_.max_ops ? plan_.max_ops : 1u << 20;
    latency_us_.reserve(std::min<std::uint64_t>(expected, 1u << 22));
  }

  const round_plan& plan() const noexcept { return plan_; }
  std::vector<io_slot>& slots() noexcept { return slots_; }

  // ---- the driving thread ----
  void start() {
    cpu0_ = thread_cpu_ns();
    user0_ = thread_user_cpu_ns();
    t0_ = last_now_ = now_ns();
    deadline_ = plan_.duration.count() > 0 ? t0_ + plan_.duration.count() : std::numeric_limits<std::int64_t>::max();
  }

  /// Chooses the slot's next command; false when the round issues no more.
  bool next(io_slot& s) {
    if (plan_.until_stopped ? stop_.load(std::memory_order_relaxed)
                            : (last_now_ >= deadline_ || (plan_.max_ops != 0 && issued_ >= plan_.max_ops)))
      return false;
    const auto& row = plan_.row;
    s.is_write = row.op == io_op::write || (row.op == io_op::mixed && (random() & 1) != 0);
    s.length = row.io_bytes;
    const std::uint64_t begin = s.is_write ? plan_.write_begin : plan_.read_begin;
    const std::uint64_t end = s.is_write ? plan_.write_end : plan_.read_end;
    if (row.random) {
      const std::uint64_t pages = (end - begin - row.io_bytes) / page_bytes + 1;
      s.offset = begin + (random() % pages) * page_bytes;
    } else {
      auto& cursor = s.is_write ? write_cursor_ : read_cursor_;
      if (cursor + row.io_bytes > end) cursor = begin;
      s.offset = cursor;
      cursor += row.io_bytes;
    }
    if (s.is_write) {
      pattern_.restamp(s.write_buffer, s.offset, s.length, plan_.write_gen);
      pattern_.written(s.offset, s.length, plan_.write_gen);
    }
    s.issued_ns = last_now_;
    ++issued_;
    ++in_flight_;
    return true;
  }

  /// Records the slot's command as completed (`error` empty when it succeeded).
  void done(io_slot& s, std::string_view error) {
    const auto now = now_ns();
    last_now_ = now;
    --in_flight_;
    if (error.empty()) {
      ++ops_;
      bytes_ += s.length;
      latency_us_.push_back(static_cast<float>(now - s.issued_ns) / 1e3f);
      if (!s.is_write) {
        const bool full = reads_checked_++ % plan_.full_check_every == 0;
        if (auto wrong = pattern_.check(s.read_buffer, s.offset, s.length, full); !wrong.empty()) {
          if (mismatches_++ == 0) first_mismatch_ = std::move(wrong);
        }
      }
    } else {
      if (errors_++ == 0) first_error_ = std::string(error);
    }
    completed_.store(ops_ + errors_, std::memory_order_relaxed);
    if (plan_.track_gaps) window.note(now);
  }

  /// A command that could not even be started: it counts as a failed one.
  void refused(io_slot& s, std::string_view error) {
    s.issued_ns = now_ns();
    done(s, error);
  }

  std::uint32_t in_flight() const noexcept { return in_flight_; }

  /// Nothing in flight and nothing more to issue: the round is over.
  void finish() {
    cpu1_ = thread_cpu_ns();
    user1_ = thread_user_cpu_ns();
    t1_ = last_now_;
    finished.set_value();
  }

  // ---- any thread ----
  void stop() { stop_.store(true, std::memory_order_relaxed); }
  std::uint64_t completed() const noexcept { return completed_.load(std::memory_order_relaxed); }
  gap_window window;
  std::promise<void> finished;  ///< set by finish()

  // ---- results, once `finished` is ready ----
  std::uint64_t ops() const noexcept { return ops_; }
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint64_t errors() const noexcept { return errors_; }
  std::uint64_t mismatches() const noexcept { return mismatches_; }
  double wall_s() const noexcept { return static_cast<double>(t1_ - t0_) / 1e9; }
  double thread_cpu_s() const noexcept { return static_cast<double>(cpu1_ - cpu0_) / 1e9; }
  double thread_user_cpu_s() const noexcept { return static_cast<double>(user1_ - user0_) / 1e9; }
  const std::vector<float>& latency_us() const noexcept { return latency_us_; }
  const std::string& first_error() const noexcept { return first_error_; }
  const std::string& first_mismatch() const noexcept { return first_mismatch_; }

 private:
  std::uint64_t random() noexcept {  // xorshift64
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  round_plan plan_;
  lun_pattern& pattern_;
  std::vector<io_slot> slots_;
  std::uint64_t rng_;
  std::uint64_t read_cursor_ = 0, write_cursor_ = 0;
  std::int64_t t0_ = 0, t1_ = 0, cpu0_ = 0, cpu1_ = 0, user0_ = 0, user1_ = 0, last_now_ = 0, deadline_ = 0;
  std::uint64_t issued_ = 0, ops_ = 0, bytes_ = 0, errors_ = 0, mismatches_ = 0, reads_checked_ = 0;
  std::uint32_t in_flight_ = 0;
  std::vector<float> latency_us_;
  std::string first_error_, first_mismatch_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> completed_{0};
};

/// A side of the comparison: runs a round on its own thread.
class io_side {
 public:
  virtual ~io_side() = default;
  /// Starts the round on the side's thread; `state.finished` is set when it is over.
  virtual void start(round_state& state) = 0;
  /// The side's name in the table.
  virtual const std::string& name() const = 0;
};

}  // namespace isens::bench
