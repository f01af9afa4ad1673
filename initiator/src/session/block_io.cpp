// Facade reads, writes, flushes, WRITE SAMEs and UNMAPs: checked against the LUN's size and
// block size, split into commands of at most max_transfer_bytes, counted,
// and turned into one result<void> for the caller.
#include "session/session.hpp"

#include "protocol/scsi_sense.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>

#include <bit>
#include <new>
#include <utility>

namespace isens::initiator::detail {

namespace asio = boost::asio;
using io_handler = asio::any_completion_handler<void(result<void>)>;

namespace {

// Runs the caller's handler on its associated executor (the session's by
// default, where it then runs at once). Never posted from inside the
// session's bookkeeping: the tasks complete from a posted call.
// A refusal comes from inside the initiating call, so it is posted instead
// (Asio's rule: a handler never runs inside the call that started it).
void deliver(io_handler handler, const asio::any_io_executor& fallback, result<void> outcome,
             bool from_initiation = false) {
  const auto ex = asio::get_associated_executor(handler, fallback);
  auto call = [handler = std::move(handler), outcome = std::move(outcome)]() mutable {
    std::move(handler)(std::move(outcome));
  };
  if (from_initiation) asio::prefer(ex, asio::execution::blocking.never).execute(std::move(call));
  else ex.execute(std::move(call));
}

// A completion, on the session's executor. A handler with no executor of
// its own, on a session run by one io_context thread, is called at once, as
// execute() would call it; asked with the io_context's own executor rather
// than the type-erased one, and called directly, it costs no allocation.
void deliver_completion(io_handler handler, const session& owner, result<void> outcome) {
  if (const auto* own = owner.io_executor()) {
    const auto ex = asio::get_associated_executor(handler, *own);
    if (const auto* target = ex.target<asio::io_context::executor_type>(); target && *target == *own)
      return std::move(handler)(std::move(outcome));
  }
  deliver(std::move(handler), owner.executor(), std::move(outcome));
}

// The commands of one facade call that had to be split: the caller hears
// once, when the last ends, with the first error if any.
struct io_join {
  io_handler handler;
  std::size_t remaining = 0;
  std::optional<error> first_error;
};

// Bytes in whole blocks: a shift for the power-of-two block sizes real
// devices have, since a 64-bit division costs tens of cycles and an I/O
// took four.
class block_size_math {
 public:
  explicit block_size_math(std::uint32_t block_size)
      : size_(block_size), shift_(std::has_single_bit(block_size) ? std::countr_zero(block_size) : -1) {}
  std::uint64_t blocks_in(std::uint64_t bytes) const noexcept { return shift_ >= 0 ? bytes >> shift_ : bytes / size_; }
  bool is_whole(std::uint64_t bytes) const noexcept {
    return shift_ >= 0 ? (bytes & (size_ - 1)) == 0 : bytes % size_ == 0;
  }

 private:
  std::uint32_t size_;
  int shift_;  // log2(size_), or -1 when it is not a power of two
};

// Blocks per command: the session's max_transfer_bytes, and the device's
// own limit for this kind of command where it declares one (0: none).
std::uint64_t blocks_per_command(std::size_t max_transfer_bytes, const block_size_math& block,
                                 std::uint64_t device_limit) {
  const std::uint64_t ours = std::max<std::uint64_t>(1, block.blocks_in(max_transfer_bytes));
  return device_limit == 0 ? ours : std::min(ours, device_limit);
}

// Commands of at most per_command blocks that `blocks` take (one for none).
std::uint64_t commands_for(std::uint64_t blocks, std::uint64_t per_command) {
  return blocks <= per_command ? 1 : (blocks + per_command - 1) / per_command;
}

std::string_view name_of(const protocol::cdb& cdb) {
  switch (cdb[0]) {
    case 0x88: return "READ(16)";
    case 0x8a: return "WRITE(16)";
    case 0x93: return "WRITE SAME(16)";
    case 0x42: return "UNMAP";
    default: return "SYNCHRONIZE CACHE(10)";
  }
}

}  // namespace

namespace {

// Freed tasks of this thread, kept for its next commands: the task was the
// one allocation a facade I/O made. Bounded; a thread's cache is freed
// when it exits. Left out under ASan, which must see a task's reuse.
class block_io_task_cache {
 public:
  static constexpr std::size_t kept = 256;
  ~block_io_task_cache() {
    while (head_) ::operator delete(std::exchange(head_, head_->next));
    count_ = kept;  // a task freed after this (thread teardown) goes back to the heap
  }
  void* take(std::size_t size) {
    if (!head_) return ::operator new(size);
    --count_;
    return std::exchange(head_, head_->next);
  }
  void give(void* block) noexcept {
    if (count_ >= kept) return ::operator delete(block);
    head_ = ::new (block) free_block{head_};
    ++count_;
  }

 private:
  struct free_block {
    free_block* next;
  };
  free_block* head_ = nullptr;
  std::size_t count_ = 0;
};

#if defined(__SANITIZE_ADDRESS__)
#define ISENS_TASK_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ISENS_TASK_CACHE 0
#endif
#endif
#ifndef ISENS_TASK_CACHE
#define ISENS_TASK_CACHE 1
#endif

#if ISENS_TASK_CACHE
thread_local block_io_task_cache task_cache;
#endif

}  // namespace

// One command of a facade call.
class block_io_task final : public scsi_task {
 public:
#if ISENS_TASK_CACHE
  // Every block_io_task has this one size (the class is final).
  static void* operator new(std::size_t size) { return task_cache.take(size); }
  static void operator delete(void* block) noexcept { task_cache.give(block); }
#endif
  // Either `handler` (the call is one command) or `join` (it is several).
  // (Constructed, never assigned: Boost 1.81's any_completion_handler move
  // assignment wraps the handler in itself until the stack runs out.)
  block_io_task(session& owner, std::uint64_t lba, std::uint32_t blocks, io_handler handler,
                std::shared_ptr<io_join> join)
      : handler(std::move(handler)), join(std::move(join)), owner_(owner), lba_(lba), blocks_(blocks) {}

  io_handler handler;
  std::shared_ptr<io_join> join;
  // UNMAP's parameter list: the Data-Out of the command, owned by it.
  std::array<std::uint8_t, 24> parameters{};

  void complete(result<scsi_completion> outcome) override {
    auto r = judge(outcome);
    owner_.note_block_io(*this, r.has_value());
    if (!join) return deliver_completion(std::move(handler), owner_, std::move(r));
    if (!r && !join->first_error) join->first_error = r.error();
    if (--join->remaining > 0) return;
    deliver_completion(std::move(join->handler), owner_,
                       join->first_error ? result<void>(*join->first_error) : result<void>{});
  }

 private:
  // GOOD with every byte moved is success; anything else an error that says
  // what the target answered.
  result<void> judge(const result<scsi_completion>& outcome) const {
    if (!outcome) return outcome.error();
    const auto status = static_cast<protocol::scsi_status>(outcome->status);
    // Only a READ or WRITE moves the caller's blocks; the Data-Out of UNMAP
    // and WRITE SAME only describes the work, and tgt reports all of
    // UNMAP's as residual although it did the unmap.
    const bool moves_blocks = cdb[0] == 0x88 || cdb[0] == 0x8a;
    const bool whole = !moves_blocks || (outcome->transferred == length && outcome->residual_underflow == 0 &&
                                         !outcome->residual_overflow);
    if (status == protocol::scsi_status::good && whole) return {};
    std::string what = std::string(name_of(cdb)) + " of LUN " + std::to_string(lun);
    if (blocks_ != 0)
      what += ", blocks " + std::to_string(lba_) + "+" + std::to_string(blocks_);
    if (status == protocol::scsi_status::good) {
      return make_error(errc::scsi_bad_response, what + ": the target moved " + std::to_string(outcome->transferred) +
                                                     " of " + std::to_string(length) + " bytes");
    }
    what += " failed: " + std::string(protocol::to_string(status));
    if (status != protocol::scsi_status::check_condition) return make_error(errc::scsi_bad_status, what);
    if (const auto sense = protocol::parse_sense_segment(outcome->sense)) what += ": " + protocol::describe(*sense);
    return make_error(errc::scsi_check_condition, what);
  }

  // The session owns its tasks and completes them only while it lives.
  session& owner_;
  std::uint64_t lba_;
  std::uint32_t blocks_;
};

void session::note_block_io(const scsi_task& task, bool good) {
  count_latency(completions_at_ - task.submitted);
  if (!good) return count(failed);
  if (task.direction == data_direction::read) {
    count(read_ops);
    count(read_bytes, task.length);
  } else {
    count(write_ops);
    count(write_bytes, task.length);
  }
}

void session::start_block_io(const block_io_request& request, io_handler done) {
  const auto refuse = [&](std::string why) {
    count(failed);
    deliver(std::move(done), executor_, make_error(errc::invalid_argument, std::move(why)), true);
  };
  const device_info* device = nullptr;
  for (const auto& d : devices_) {
    if (d.lun == request.lun) device = &d;
  }
  const auto which = [&] { return "LUN " + std::to_string(request.lun) + " of session " + std::to_string(id_); };
  if (!device || !device->capacity || device->capacity->block_size == 0)
    return refuse(which() + " is not a known block device (LUNs are enumerated at login: session_ready)");
  const auto& capacity = *device->capacity;
  const std::uint32_t block_size = capacity.block_size;
  const block_size_math block(block_size);

  if (request.range != block_io_request::range_op::none) return start_range_io(request, *device, std::move(done));
  std::uint64_t blocks = 0;
  if (request.direction != data_direction::none) {
    if (request.length == 0) return refuse("a read or write of 0 bytes on " + which());
    if (!block.is_whole(request.length))
      return refuse(std::to_string(request.length) + " bytes is not a whole number of " + std::to_string(block_size) +
                    "-byte blocks of " + which());
    blocks = block.blocks_in(request.length);
    if (request.lba >= capacity.block_count || blocks > capacity.block_count - request.lba)
      return refuse("blocks " + std::to_string(request.lba) + "+" + std::to_string(blocks) + " lie beyond the end of " +
                    which() + " (" + std::to_string(capacity.block_count) + " blocks)");
  }

  const std::uint64_t per_command = blocks_per_command(context_->options.max_transfer_bytes, block,
                                                      device->limits ? device->limits->max_transfer_blocks : 0);
  const std::uint64_t commands = commands_for(blocks, per_command);
  std::shared_ptr<io_join> join;
  if (commands > 1) join = std::make_shared<io_join>(io_join{std::move(done), commands, {}});
  for (std::uint64_t i = 0; i < commands; ++i) {
    const std::uint64_t lba = request.lba + i * per_command;
    const auto n = static_cast<std::uint32_t>(std::min(per_command, blocks - std::min(blocks, i * per_command)));
    auto task = join ? std::make_unique<block_io_task>(*this, lba, n, io_handler{}, join)
                     : std::make_unique<block_io_task>(*this, lba, n, std::move(done), nullptr);
    task->lun = request.lun;
    task->direction = request.direction;
    task->buffer = request.buffer + i * per_command * block_size;
    task->length = n * block_size;
    task->counted = true;
    switch (request.direction) {
      case data_direction::read: task->cdb = protocol::read16_cdb(lba, n); break;
      case data_direction::write:
        task->cdb = request.fua ? protocol::write16_fua_cdb(lba, n) : protocol::write16_cdb(lba, n);
        break;
      default: task->cdb = protocol::synchronize_cache10_cdb(); break;
    }
    submit(std::move(task));
  }
}

// WRITE SAME and UNMAP name a range of blocks rather than carry them: the
// Data-Out is one block (WRITE SAME) or a 24-byte parameter list (UNMAP),
// so a range is split by blocks, at the size a write would be split at, to
// bound how long the target works on one command.
void session::start_range_io(const block_io_request& request, const device_info& device, io_handler done) {
  const std::uint32_t block_size = device.capacity->block_size;
  const std::uint64_t block_count = device.capacity->block_count;
  const bool same = request.range == block_io_request::range_op::write_same;
  const auto which = [&] { return "LUN " + std::to_string(request.lun) + " of session " + std::to_string(id_); };
  const auto refuse = [&](std::string why) {
    count(failed);
    deliver(std::move(done), executor_, make_error(errc::invalid_argument, std::move(why)), true);
  };
  if (request.blocks == 0) return refuse("a WRITE SAME or UNMAP of 0 blocks on " + which());
  if (same && (request.buffer == nullptr || request.length != block_size))
    return refuse("WRITE SAME takes exactly one " + std::to_string(block_size) + "-byte block of " + which());
  if (request.lba >= block_count || request.blocks > block_count - request.lba)
    return refuse("blocks " + std::to_string(request.lba) + "+" + std::to_string(request.blocks) +
                  " lie beyond the end of " + which() + " (" + std::to_string(block_count) + " blocks)");

  // A device whose provisioning page says it does not deallocate is not
  // sent UNMAP, and its WRITE SAME writes the blocks (which is all a
  // caller may count on anyway); one without the page answers for itself.
  const auto& provisioning = device.provisioning;
  if (!same && provisioning && !provisioning->unmap)
    return refuse(which() + " does not unmap (its Logical Block Provisioning page: " +
                  (provisioning->thin ? "LBPU=0" : "not thin provisioned") + ")");
  const bool unmap = request.unmap && (!provisioning || provisioning->write_same_unmap);
  const auto& limits = device.limits;
  const std::uint64_t per_command = blocks_per_command(
      context_->options.max_transfer_bytes, block_size_math(block_size),
      !limits ? 0 : same ? limits->max_write_same_blocks : limits->max_unmap_blocks);
  const std::uint64_t commands = commands_for(request.blocks, per_command);
  std::shared_ptr<io_join> join;
  if (commands > 1) join = std::make_shared<io_join>(io_join{std::move(done), commands, {}});
  for (std::uint64_t i = 0; i < commands; ++i) {
    const std::uint64_t lba = request.lba + i * per_command;
    const auto n = static_cast<std::uint32_t>(std::min(per_command, request.blocks - i * per_command));
    auto task = join ? std::make_unique<block_io_task>(*this, lba, n, io_handler{}, join)
                     : std::make_unique<block_io_task>(*this, lba, n, std::move(done), nullptr);
    task->lun = request.lun;
    task->direction = data_direction::write;
    task->counted = true;
    if (same) {
      task->buffer = request.buffer;  // the same block for every command
      task->length = block_size;
      task->cdb = protocol::write_same16_cdb(lba, n, unmap);
    } else {
      task->parameters = protocol::unmap_parameters(lba, n);
      task->buffer = task->parameters.data();
      task->length = static_cast<std::uint32_t>(task->parameters.size());
      task->cdb = protocol::unmap_cdb(static_cast<std::uint16_t>(task->parameters.size()));
    }
    submit(std::move(task));
  }
}

}  // namespace isens::initiator::detail
