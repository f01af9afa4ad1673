#pragma once
// The floor: a bare initiator loop with nothing around it, to show what a
// command costs when the initiator itself costs next to nothing, so that the
// part of a round trip or of a CPU budget that is tgtd's and the kernel's
// can be told from the part that is isens's or libiscsi's. One blocking TCP
// socket on one thread; each SCSI Command PDU built by hand straight into a
// send buffer (a write's data behind it, as immediate data); one send() for
// all the commands a batch of answers frees, one recv() for whatever has
// arrived, a Data-In copied into the caller's buffer (what did not come with
// its header, when large, received straight there). It logs in offering
// only what it must, reads, and writes only what fits one PDU of immediate
// data (no R2T); it expects what tgtd sends for GOOD commands (a read's
// status in its last Data-In, the S bit; a write's in a SCSI Response), and
// anything else fails the round's commands with a clear error. Not an
// initiator anyone should use: no CmdSN window beyond a check, no recovery,
// no task management.

#include "side_thread.hpp"
#include "workload.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace isens::bench {

struct bare_options {
  std::string portal;  ///< "host:port"
  std::string target_iqn;
  int lun = 1;
  std::string initiator_name;
  std::uint32_t block_size = 512;
  std::string side_name = "bare loop";
};

class bare_side final : public io_side {
 public:
  /// Connects and logs in; throws with what went wrong.
  explicit bare_side(bare_options options);
  /// Stops the thread and closes the connection (tgtd ends the session).
  ~bare_side() override;
  bare_side(const bare_side&) = delete;
  bare_side& operator=(const bare_side&) = delete;

  /// Runs a round; one whose writes do not fit one PDU of immediate data fails at once.
  void start(round_state& state) override { thread_.start(state); }
  const std::string& name() const override { return options_.side_name; }

 private:
  void login();
  void clear_unit_attention();
  void run(round_state& state);
  // Appends the slot's READ(16) or WRITE(16) (with its data) to the send
  // buffer; false when the CmdSN window is closed.
  bool append_command(io_slot& s);
  // Handles one PDU, whose first `buffered` data bytes follow its header in
  // the receive buffer (the rest of a large Data-In is received straight
  // into place); an error text when it is not what a GOOD read gets.
  std::string take_pdu(const std::byte* pdu, std::size_t data_bytes, std::size_t buffered, round_state& state);
  // Sends the whole send buffer; an error text when the socket fails.
  std::string flush();

  bare_options options_;
  int fd_ = -1;
  std::string broken_;  // why the connection is unusable, once it is
  std::uint32_t cmd_sn_ = 0, exp_stat_sn_ = 0, max_cmd_sn_ = 0;
  std::uint32_t immediate_limit_ = 8192;  // min(target's MaxRecvDataSegmentLength, FirstBurstLength)
  std::uint32_t round_tag_ = 0;  // the high half of every task tag of a round
  std::vector<bool> in_flight_;  // by slot
  std::vector<std::byte> send_, recv_;
  side_thread thread_{"bare-loop", [this](round_state& state) { run(state); }};
};

}  // namespace isens::bench
