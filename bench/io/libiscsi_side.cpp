#include "libiscsi_side.hpp"

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace isens::bench {

struct libiscsi_side::slot_context {
  libiscsi_side* self = nullptr;
  round_state* state = nullptr;
  io_slot* slot = nullptr;
  scsi_iovec iov{};  // the read buffer, handed to libiscsi (it keeps the pointer until completion)
};

libiscsi_side::libiscsi_side(libiscsi_options options) : options_(std::move(options)) {
  context_ = iscsi_create_context(options_.initiator_name.c_str());
  if (!context_) throw std::runtime_error("libiscsi: iscsi_create_context failed");
  iscsi_set_targetname(context_, options_.target_iqn.c_str());
  iscsi_set_session_type(context_, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(context_, ISCSI_HEADER_DIGEST_NONE);
  // Its own reconnect, forever (the default, said out loud), and the UNIT
  // ATTENTION a reinstated nexus reports consumed by libiscsi itself (TEST
  // UNIT READY after the reconnect) rather than returned to the caller:
  // libiscsi's best settings for riding through a drop.
  iscsi_set_reconnect_max_retries(context_, -1);
  iscsi_set_no_ua_on_reconnect(context_, 1);
  iscsi_set_timeout(context_, 10);
  if (const char* level = std::getenv("ISENS_BENCH_LIBISCSI_LOG")) {
    iscsi_set_log_level(context_, std::atoi(level));
    iscsi_set_log_fn(context_, [](int, const char* message) {
      std::fprintf(stderr, "libiscsi %.3f ms: %s\n", static_cast<double>(now_ns()) / 1e6, message);
    });
  }
  if (iscsi_full_connect_sync(context_, options_.portal.c_str(), options_.lun) != 0) {
    std::string why = iscsi_get_error(context_);
    iscsi_destroy_context(context_);
    throw std::runtime_error("libiscsi: login failed: " + why);
  }
  if (scsi_task* task = iscsi_readcapacity16_sync(context_, options_.lun)) {
    if (task->status == SCSI_STATUS_GOOD) {
      if (auto* rc16 = static_cast<scsi_readcapacity16*>(scsi_datain_unmarshall(task)))
        block_size_ = rc16->block_length;
    }
    scsi_free_scsi_task(task);
  }
}

libiscsi_side::~libiscsi_side() {
  thread_.stop();
  (void)iscsi_logout_sync(context_);
  iscsi_destroy_context(context_);
}

void libiscsi_side::start(round_state& state) { thread_.start(state); }

void libiscsi_side::run(round_state& state) {
  auto& slots = state.slots();
  while (slots_.size() < slots.size()) slots_.push_back(std::make_unique<slot_context>());
  for (auto& s : slots) *slots_[s.index] = slot_context{this, &state, &s, {}};
  state.start();
  for (auto& s : slots)
    if (state.next(s)) issue(state, s);
  while (state.in_flight() > 0) {
    pollfd pfd{iscsi_get_fd(context_), static_cast<short>(iscsi_which_events(context_)), 0};
    if (pfd.events == 0) {
      // A reconnect libiscsi has put off (it says: ask again in >= 100 ms);
      // iscsi_service(0) starts it once its time has come.
      ::poll(nullptr, 0, 10);
      if (iscsi_service(context_, 0) < 0) ++service_errors_;
      continue;
    }
    const int n = wait_for_socket(pfd, state);
    if (n < 0 && errno == EINTR) continue;
    if (iscsi_service(context_, n > 0 ? pfd.revents : 0) < 0) {
      ++service_errors_;
      ::poll(nullptr, 0, 1);  // a broken context must not spin
    }
  }
  state.finish();
}

int libiscsi_side::wait_for_socket(pollfd& pfd, const round_state& state) {
  if (options_.lone_command_poll.count() > 0 && state.in_flight() == 1) {
    const auto until = std::chrono::steady_clock::now() + options_.lone_command_poll;
    do {
      const int n = ::poll(&pfd, 1, 0);
      if (n != 0) return n;
    } while (std::chrono::steady_clock::now() < until);
  }
  return ::poll(&pfd, 1, 100);
}

void libiscsi_side::issue(round_state& state, io_slot& s) {
  auto& c = *slots_[s.index];
  const std::uint64_t lba = s.offset / block_size_;
  scsi_task* task = nullptr;
  if (s.is_write) {
    task = iscsi_write16_task(context_, options_.lun, lba, reinterpret_cast<unsigned char*>(s.write_buffer), s.length,
                              static_cast<int>(block_size_), 0, 0, 0, 0, 0, &libiscsi_side::completed, &c);
  } else {
    c.iov = scsi_iovec{s.read_buffer, s.length};
    task = iscsi_read16_iov_task(context_, options_.lun, lba, s.length, static_cast<int>(block_size_), 0, 0, 0, 0, 0,
                                 &libiscsi_side::completed, &c, &c.iov, 1);
  }
  if (task == nullptr) state.refused(s, std::string("libiscsi refused the command: ") + iscsi_get_error(context_));
}

void libiscsi_side::completed(iscsi_context* iscsi, int status, void* command_data, void* private_data) {
  auto& c = *static_cast<slot_context*>(private_data);
  auto* task = static_cast<scsi_task*>(command_data);
  if (status == SCSI_STATUS_GOOD && task != nullptr && task->residual_status == SCSI_RESIDUAL_NO_RESIDUAL) {
    c.state->done(*c.slot, {});
  } else {
    std::string what = "status " + std::to_string(status);
    if (status == SCSI_STATUS_CHECK_CONDITION && task != nullptr)
      what += std::string(" ") + scsi_sense_key_str(task->sense.key) + " " + scsi_sense_ascq_str(task->sense.ascq);
    else if (status != SCSI_STATUS_GOOD)
      what += std::string(": ") + iscsi_get_error(iscsi);
    else
      what += ": residual";
    c.state->done(*c.slot, what);
  }
  if (task) scsi_free_scsi_task(task);
  if (c.state->next(*c.slot)) c.self->issue(*c.state, *c.slot);
}

}  // namespace isens::bench
