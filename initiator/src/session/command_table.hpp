#pragma once
// The SCSI commands a session has in flight, found by their Initiator Task
// Tag, and how many each connection carries.
//
// The ITT names a slot of a table: its low bits are the slot's index, the
// bits above them a generation that changes each time the slot is freed,
// so an answer to a command that has already ended (aborted, re-issued
// after a drop) finds nothing rather than the slot's next command. Finding
// a command costs an index and a compare; the hash map it replaces cost a
// division and a node on the heap per command, a tenth of a 4 KiB read's
// instructions (bench/README.md, io).
//
// ITTs with the top bit set are never a command's: the session's other
// requests (NOP-Out, Logout, Text, Task Management) take theirs from there.

#include "session/scsi_task.hpp"

#include <boost/assert.hpp>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace isens::initiator::detail {

class command_table {
 public:
  static constexpr std::uint32_t index_bits = 20;
  // More commands than this in flight at once wait as if the window were closed.
  static constexpr std::size_t capacity = std::size_t{1} << index_bits;
  static constexpr std::uint32_t control_tag_bit = 0x80000000u;

  static bool is_command_tag(std::uint32_t itt) noexcept { return (itt & control_tag_bit) == 0; }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  bool full() const noexcept { return size_ == capacity; }

  // Puts a command in flight on task->connection_id; its ITT (also set in
  // task->itt). Needs !full().
  std::uint32_t insert(std::unique_ptr<scsi_task> task) {
    BOOST_ASSERT(!full());  // an index past index_bits would run into the generation
    std::uint32_t index;
    if (free_.empty()) {
      index = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      index = free_.back();
      free_.pop_back();
    }
    auto& slot = slots_[index];
    const auto itt = tag_of(index, slot.generation);
    task->itt = itt;
    ++load_of(task->connection_id);
    slot.task = std::move(task);
    ++size_;
    return itt;
  }

  // The command in flight with this ITT, or nullptr.
  scsi_task* find(std::uint32_t itt) const noexcept {
    const auto index = index_of(itt);
    return index == none ? nullptr : slots_[index].task.get();
  }
  bool contains(std::uint32_t itt) const noexcept { return find(itt) != nullptr; }

  // Takes the command with this ITT out of flight (nullptr when none has it).
  std::unique_ptr<scsi_task> take(std::uint32_t itt) {
    const auto index = index_of(itt);
    return index == none ? nullptr : release(index);
  }

  // Takes every command in flight on one connection out; its count restarts at 0.
  std::vector<std::unique_ptr<scsi_task>> take_on(std::uint64_t connection_id) {
    std::vector<std::unique_ptr<scsi_task>> out;
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].task && slots_[i].task->connection_id == connection_id) out.push_back(release(i));
    }
    forget_connection(connection_id);
    return out;
  }

  // Takes every command out of flight.
  std::vector<std::unique_ptr<scsi_task>> take_all() {
    std::vector<std::unique_ptr<scsi_task>> out;
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].task) out.push_back(release(i));
    }
    loads_.clear();
    return out;
  }

  // Commands in flight on a connection.
  std::uint32_t in_flight_on(std::uint64_t connection_id) const noexcept {
    for (const auto& [id, load] : loads_) {
      if (id == connection_id) return load;
    }
    return 0;
  }
  void forget_connection(std::uint64_t connection_id) {
    std::erase_if(loads_, [&](const auto& entry) { return entry.first == connection_id; });
  }

  // Calls f(scsi_task&) for each command in flight; f may change the
  // commands, not the table.
  template <class F>
  void for_each(F&& f) {
    for (auto& slot : slots_) {
      if (slot.task) f(*slot.task);
    }
  }

 private:
  static constexpr std::uint32_t index_mask = (1u << index_bits) - 1;
  static constexpr std::uint32_t generation_mask = (control_tag_bit - 1) >> index_bits;

  struct slot {
    std::unique_ptr<scsi_task> task;
    std::uint32_t generation = 0;
  };

  static std::uint32_t tag_of(std::uint32_t index, std::uint32_t generation) noexcept {
    return (generation & generation_mask) << index_bits | index;
  }

  static constexpr std::uint32_t none = 0xFFFFFFFF;

  // The slot this ITT names while its command is in flight, or none.
  std::uint32_t index_of(std::uint32_t itt) const noexcept {
    const auto index = itt & index_mask;
    if (!is_command_tag(itt) || index >= slots_.size()) return none;
    const auto& s = slots_[index];
    return s.task && tag_of(index, s.generation) == itt ? index : none;
  }

  std::unique_ptr<scsi_task> release(std::uint32_t index) {
    auto& s = slots_[index];
    auto task = std::move(s.task);
    ++s.generation;
    free_.push_back(index);
    --size_;
    auto& load = load_of(task->connection_id);
    if (load > 0) --load;
    return task;
  }

  std::uint32_t& load_of(std::uint64_t connection_id) {
    for (auto& [id, load] : loads_) {
      if (id == connection_id) return load;
    }
    return first_load_of(connection_id);
  }
  // Out of line, so that load_of, on every command, stays small enough to inline.
  [[gnu::noinline]] std::uint32_t& first_load_of(std::uint64_t connection_id) {
    return loads_.emplace_back(connection_id, 0).second;
  }

  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;  // slots without a command, the last freed last
  std::size_t size_ = 0;
  // Commands in flight per connection: a session has a handful of connections.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> loads_;
};

}  // namespace isens::initiator::detail
