#include "libiscsi_reader.hpp"

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace isens::bench {

namespace {

using clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
}

constexpr std::uint32_t block_size = 512;
constexpr std::uint32_t blocks_per_read = 8;     // 4 KiB per READ(10)
constexpr std::uint32_t lba_span = 16 * 1024;    // stay in the first 8 MiB of the LUN

}  // namespace

libiscsi_reader::libiscsi_reader(const std::string& portal, const std::string& iqn, int lun,
                                 const std::string& initiator_name)
    : lun_(lun) {
  context_ = iscsi_create_context(initiator_name.c_str());
  if (!context_) throw std::runtime_error("libiscsi: iscsi_create_context failed");
  iscsi_set_targetname(context_, iqn.c_str());
  iscsi_set_session_type(context_, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(context_, ISCSI_HEADER_DIGEST_NONE);
  // Reconnect on its own, forever (the default, said out loud); a command
  // stuck for 10 s fails instead of hanging the bench.
  iscsi_set_reconnect_max_retries(context_, -1);
  iscsi_set_timeout(context_, 10);
  // ISENS_BENCH_LIBISCSI_LOG=N: libiscsi's own log (level N) on stderr, to see its reconnect steps.
  if (const char* level = std::getenv("ISENS_BENCH_LIBISCSI_LOG")) {
    iscsi_set_log_level(context_, std::atoi(level));
    iscsi_set_log_fn(context_, [](int, const char* message) {
      std::fprintf(stderr, "libiscsi %.3f ms: %s\n", static_cast<double>(now_ns()) / 1e6, message);
    });
  }
  if (iscsi_full_connect_sync(context_, portal.c_str(), lun) != 0) {
    std::string why = iscsi_get_error(context_);
    iscsi_destroy_context(context_);
    throw std::runtime_error("libiscsi: login failed: " + why);
  }
  thread_ = std::thread([this] { loop(); });
}

libiscsi_reader::~libiscsi_reader() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)iscsi_logout_sync(context_);
  iscsi_destroy_context(context_);
}

void libiscsi_reader::set_running(bool running) {
  {
    std::lock_guard lock(mutex_);
    running_ = running;
    last_ns_ = 0;  // time spent parked is not a gap
  }
  wake_.notify_all();
}

void libiscsi_reader::reset_window() {
  std::lock_guard lock(mutex_);
  window_max_ns_ = 0;
}

double libiscsi_reader::window_max_gap_ms() const {
  std::lock_guard lock(mutex_);
  return static_cast<double>(window_max_ns_) / 1e6;
}

std::string libiscsi_reader::first_error() const {
  std::lock_guard lock(mutex_);
  return first_error_;
}

void libiscsi_reader::loop() {
  std::uint32_t lba = 0;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return running_ || stop_.load(); });
      if (stop_) return;
    }
    scsi_task* task = iscsi_read10_sync(context_, lun_, lba, blocks_per_read * block_size, block_size, 0, 0, 0, 0, 0);
    const auto done = now_ns();
    lba = (lba + blocks_per_read) % lba_span;
    const bool ok = task != nullptr && task->status == SCSI_STATUS_GOOD;
    if (task) scsi_free_scsi_task(task);
    if (!ok) {
      ++failed_;
      {
        std::lock_guard lock(mutex_);
        if (first_error_.empty()) first_error_ = iscsi_get_error(context_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a broken context must not spin
      continue;
    }
    std::lock_guard lock(mutex_);
    ++completed_;
    if (last_ns_ != 0 && done - last_ns_ > window_max_ns_) window_max_ns_ = done - last_ns_;
    last_ns_ = done;
  }
}

}  // namespace isens::bench
