// Holds one write inside a running tgtd, for tests of what a target does
// with a command it still executes after the initiator has given its
// session up (session reinstatement).
//
// tgtd runs SCSI commands of an rdwr LUN on 16 backing-store worker threads
// per LUN; a WRITE becomes one pwrite64() on the backing file in one of them.
// The gate traces those threads with ptrace (PTRACE_SEIZE, syscall stops; the
// main thread, which speaks iSCSI and answers tgtadm, is left alone) and
// stops the first worker that enters pwrite64() on the backing file over a
// given offset: the data has reached the target, and the target has not
// written it yet. Everything else runs on: other workers execute other
// commands, the target logs initiators in and drops connections. release()
// lets the held write go on.
//
// Facts this relies on (tgt 1.0.85, Debian 12, x86-64): bs_rdwr issues
// exactly one pwrite64 per WRITE command (usr/bs_rdwr.c); the workers exist
// from the moment the LUN is added and never exit while it exists; a
// connection the target closes keeps its commands that are already "in SCSI"
// (usr/iscsi/conn.c, conn_close) and they complete later. Needs
// CAP_SYS_PTRACE (tests run as root).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <thread>

namespace isens::test {

class write_gate {
 public:
  /// Traces tgtd `pid`'s worker threads; the first pwrite64 to `file`
  /// covering byte `offset` will be held. Throws if tracing is refused.
  write_gate(pid_t pid, std::filesystem::path file, std::uint64_t offset);
  /// Lets a held write go and detaches from every thread.
  ~write_gate();
  write_gate(const write_gate&) = delete;
  write_gate& operator=(const write_gate&) = delete;

  /// True once a write is held (false after `limit`).
  bool wait_held(std::chrono::milliseconds limit);
  /// Lets the held write continue.
  void release();
  /// True once the released write has returned from pwrite64 (false after `limit`).
  bool wait_written(std::chrono::milliseconds limit);

 private:
  enum class stage { starting, armed, held, releasing, written, failed };
  void trace();
  void set(stage s);

  const pid_t pid_;
  const std::filesystem::path file_;
  const std::uint64_t offset_;
  std::mutex mutex_;
  std::condition_variable changed_;
  stage stage_ = stage::starting;
  bool stopping_ = false;
  std::string failure_;
  std::thread tracer_;  // every ptrace call comes from this one thread, as ptrace requires
};

}  // namespace isens::test
