#pragma once
// A SCSI command as the session runs it: what the caller asked for (the
// CDB and the caller's buffer, used in place), where it stands on the wire
// (ITT, CmdSN, its connection, the Data-In and R2T sequence numbers), and
// how it ends (complete(), called exactly once by the session).

#include "isens/initiator/error.hpp"
#include "protocol/bytes.hpp"
#include "protocol/scsi.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace isens::initiator::detail {

// How a command ended at the target: status, sense and residual.
struct scsi_completion {
  std::uint8_t status = 0;
  protocol::byte_buffer sense;       // the SCSI Response data segment: SenseLength, then the sense data
  std::uint32_t transferred = 0;     // Data-In bytes placed, or Data-Out bytes sent
  std::uint32_t residual_underflow = 0;  // bytes not transferred, as the target reported (U bit)
  bool residual_overflow = false;    // the target had more than EDTL to transfer (O bit)
};

enum class data_direction : std::uint8_t { none, read, write };

class scsi_task {
 public:
  virtual ~scsi_task() = default;
  // The command's end: a completion from the target, or an error when it
  // could not be carried out. Called once; the session then frees the task.
  virtual void complete(result<scsi_completion> outcome) = 0;

  // ---- set by whoever submits ----
  std::uint64_t lun = 0;
  protocol::cdb cdb{};
  data_direction direction = data_direction::none;
  std::uint8_t* buffer = nullptr;  // Data-In lands here / Data-Out comes from here
  std::uint32_t length = 0;        // Expected Data Transfer Length
  // UNIT ATTENTION, BUSY and TASK SET FULL are sent again instead of being
  // returned (a new nexus after reinstatement reports a UNIT ATTENTION that
  // is not about this command).
  bool absorb_retryable = true;
  bool counted = false;  // a facade I/O: counted in io_counters

  // ---- the session's bookkeeping ----
  std::uint64_t order = 0;            // submission order: held commands go out again in it
  std::uint32_t itt = protocol_reserved_tag;
  std::uint32_t cmd_sn = 0;
  std::uint64_t connection_id = 0;    // connection allegiance of the current send
  std::uint32_t next_data_sn = 0;     // Data-In expected next
  std::uint32_t received = 0;         // Data-In bytes placed so far (in order)
  std::uint32_t next_r2t_sn = 0;      // R2T expected next
  std::uint32_t retries = 0;          // UNIT ATTENTION / BUSY resends
  std::uint32_t sends = 0;            // times sent
  bool reissue = false;               // the next send is a re-issue (after a drop, an abort or a reset)
  bool abort_sent = false;            // ABORT TASK went out for the current send
  std::chrono::steady_clock::time_point submitted{};
  std::chrono::steady_clock::time_point sent_at{};

  static constexpr std::uint32_t protocol_reserved_tag = 0xFFFFFFFF;
};

}  // namespace isens::initiator::detail
