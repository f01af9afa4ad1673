#pragma once
// The libiscsi side: one libiscsi 1.19 context on a thread of its own, its
// async API (iscsi_read16_iov_task into the caller's buffer, as isens reads
// in place; iscsi_write16_task from it) and one poll() loop, the way
// libiscsi's own iscsi-perf drives it.

#include "side_thread.hpp"
#include "workload.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct iscsi_context;
struct pollfd;
struct scsi_iovec;

namespace isens::bench {

struct libiscsi_options {
  std::string portal;          ///< "host:port"
  std::string target_iqn;
  int lun = 1;
  std::string initiator_name;
  std::string side_name = "libiscsi";
  /// With one command in flight, the loop polls the socket (poll() with no
  /// wait) this long before it sleeps in poll(): what isens's
  /// lone_command_poll does, for a like-for-like polling row. 0: never.
  std::chrono::microseconds lone_command_poll{0};
};

class libiscsi_side final : public io_side {
 public:
  /// Connects and logs in (full connect: login, then TEST UNIT READY until the
  /// power-on UNIT ATTENTION is gone), reads the block size; throws on failure.
  explicit libiscsi_side(libiscsi_options options);
  /// Stops the thread and logs out.
  ~libiscsi_side() override;
  libiscsi_side(const libiscsi_side&) = delete;
  libiscsi_side& operator=(const libiscsi_side&) = delete;

  void start(round_state& state) override;
  const std::string& name() const override { return options_.side_name; }
  std::uint32_t block_size() const noexcept { return block_size_; }
  /// Commands its poll loop saw iscsi_service() fail on (connection trouble).
  std::uint64_t service_errors() const noexcept { return service_errors_; }

 private:
  struct slot_context;
  void run(round_state& state);
  // Waits for the socket (poll() for up to 100 ms, after polling first when
  // asked); poll()'s answer.
  int wait_for_socket(pollfd& pfd, const round_state& state);
  void issue(round_state& state, io_slot& s);
  static void completed(iscsi_context* iscsi, int status, void* command_data, void* private_data);

  libiscsi_options options_;
  iscsi_context* context_ = nullptr;
  std::uint32_t block_size_ = 512;
  std::vector<std::unique_ptr<slot_context>> slots_;
  std::uint64_t service_errors_ = 0;
  side_thread thread_{"libiscsi", [this](round_state& state) { run(state); }};
};

}  // namespace isens::bench
