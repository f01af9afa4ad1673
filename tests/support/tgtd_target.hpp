// A private, real iSCSI target for integration tests and benchmarks: one tgtd
// (Debian package tgt, 1.0.85) per object, on a free loopback port, with its
// own control port and sparse backing files in its own temp dir.
//
// Facts about tgt 1.0.85 this class relies on (verified on Debian 12):
//  * `-C N` (0..32767; larger values are rejected "out of range") selects the
//    control socket /var/run/tgtd/socket.N plus a lock file socket.N.lock,
//    taken with lockf(). A second tgtd on the same N exits at once with
//    "another tgtd is using /var/run/tgtd/socket.N.lock". tgtd never removes
//    either file; we do, once our tgtd is dead and the lock is free.
//  * If the iSCSI portal cannot be bound ("unable to bind server socket" /
//    "failed to create/bind to portal 127.0.0.1:P") tgtd does NOT exit: it
//    silently falls back to the default portal 0.0.0.0:3260. So readiness is
//    checked as "this very pid listens on 127.0.0.1:P" (/proc/net/tcp inode
//    found among /proc/PID/fd) plus an answered `tgtadm --op show --mode sys`.
//  * tgtd catches SIGTERM with a handler that does nothing. The graceful
//    stop, `tgtadm --op delete --mode system`, is refused ("invalid
//    request", exit 22) while any target exists, even with --force. So we
//    stop it with SIGKILL and reap it; the rdwr backing store uses plain
//    pwrite, so nothing is lost. The listen socket has SO_REUSEADDR: a
//    restart on the same port works at once despite TIME_WAIT connections.
//  * Start-up takes ~15 ms until the portal listens and tgtadm answers; a
//    whole construct/destroy cycle is ~20 ms. Log lines about RDMA/iser, the
//    oom-killer and nr_open are harmless noise in containers.
//  * A SIGSTOPped tgtd still completes TCP handshakes (kernel backlog), so an
//    initiator connects and then waits for a Login Response that never comes;
//    tgtadm would hang too, hence tgtadm() refuses while paused.
//  * LUN 0 of every target is tgt's own controller (Type: controller,
//    INQUIRY: STORAGE_ARRAY_CONTROLLER, vendor "IET", product "Controller",
//    backing store "None"); our LUNs start at 1. Disk LUNs: vendor "IET",
//    product "VIRTUAL-DISK", revision "0001", SCSI ID "IET     000T000L",
//    block size 512, sizes shown in decimal MB (64 MiB shows "67 MB").
//  * A target has no ACL until bound: unbound initiators cannot log in.
//  * CHAP (MD5 only): accounts are global (`--mode account --op new`);
//    creating an existing user fails (22, "this account already exists");
//    binding an unknown user fails ("can't find the account"); once an
//    incoming account is bound to a target, login without CHAP fails with
//    "Authentication failure" (status 0x0201). Only one outgoing (mutual
//    CHAP) account per target ("this target already has an outgoing
//    account"); tgt answers the initiator's challenge with it only when the
//    initiator sends one (libiscsi: LIBISCSI_CHAP_TARGET_USERNAME/PASSWORD).
//  * `--op show --mode target` lists targets (I_T nexus, LUN, account and
//    ACL sections) but NOT the negotiation parameters; those come from
//    `--op show --mode target --tid T`, one `Name=Value` per line
//    (nop_interval=0, nop_count=0, MaxRecvDataSegmentLength=8192,
//    HeaderDigest=None, ..., MaxConnections=1 by default, MaxQueueCmd=128).
//    Updating HeaderDigest to "CRC32C,None" shows as "CRC32C". Unknown names
//    and MaxConnections=0 are rejected (22, "invalid request").
//  * `--op show --mode conn --tid T` prints, per connection:
//        Session: 4
//            Connection: 0
//                Initiator: iqn.2026-11.test.isens:perf
//                IP Address: 127.0.0.1
//    and nothing (exit 0) when there is none. Session ids count up across
//    the tgtd's life (not reset per target).
//  * `--op delete --mode conn --tid T --sid S --cid C` closes the connection
//    at once (exit 0); an unknown sid gives 22 "can't find the session".
//    libiscsi's iscsi-perf reconnects by itself, with a new session id.
//  * tgtd keeps no state across a restart: every target, LUN, ACL and
//    account must be configured again; restart() replays them.
//  * `--op update --mode logicalunit --params readonly=1` acts at once on a
//    LUN in use: WRITEs end in CHECK CONDITION, DATA PROTECT, WRITE
//    PROTECTED (07/27/00), reads go on; readonly=0 undoes it.
//  * `--op delete --mode logicalunit` is refused ("this logical unit is still
//    active") while the LUN has commands in progress; once it is gone,
//    commands to it end in ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED
//    (05/25/00), and the target's other LUNs are not disturbed.
//  * A connection dropped by `--op delete --mode conn` while it has commands
//    in the backing store stops being read at once, but its socket is closed
//    only when those commands finish; those commands still write.
//  * A command whose CmdSN is ahead of the session's ExpCmdSN waits in the
//    session's pending list until the missing CmdSN arrives, on any
//    connection; a missing one is never given up on (no timeout), and the
//    pending commands of a connection that closes are freed unanswered.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace isens::test {

class child_process;

/// Bounds for starting tgtd; generous because CI machines are slow and shared.
struct tgtd_options {
  std::chrono::milliseconds start_timeout{std::chrono::seconds{10}};  ///< per attempt, until the portal answers.
  int start_attempts = 5;  ///< retries with fresh ports when a port or control port was taken meanwhile.
};

/// Where a LUN's backing file lives.
struct lun_options {
  /// A sparse file in a private directory under /dev/shm (removed with the
  /// target): no disk writeback, for tests that move hundreds of MiB.
  bool in_memory = false;
};

/// One iSCSI connection as tgtadm reports it.
struct tgt_connection {
  std::uint64_t sid = 0;  ///< tgt's session id (the I_T nexus id), as --sid takes it.
  std::uint32_t cid = 0;  ///< connection id within the session, as --cid takes it.
  std::string initiator;  ///< initiator name (IQN) given at login.
  std::string address;    ///< initiator's IP address.
};

/// A running tgtd with its own ports, temp dir and configuration; killed,
/// reaped and cleaned up on destruction. Not thread-safe: drive it from the
/// test's thread.
class tgtd_target {
 public:
  /// Starts tgtd and waits until it listens; throws with the log's tail if it cannot.
  explicit tgtd_target(tgtd_options options = {});
  /// Kills tgtd (SIGKILL: see the header comment) and removes the temp dir and control-socket files.
  ~tgtd_target();
  tgtd_target(const tgtd_target&) = delete;
  tgtd_target& operator=(const tgtd_target&) = delete;
  tgtd_target(tgtd_target&&) = delete;
  tgtd_target& operator=(tgtd_target&&) = delete;

  /// Creates target tid (>= 1) named iqn; it has only LUN 0 (controller) and no ACL yet.
  void add_target(const std::string& iqn, int tid);
  /// Adds a disk LUN (>= 1) backed by a new sparse file of size_bytes; returns the file.
  std::filesystem::path add_lun(int tid, int lun, std::uint64_t size_bytes);
  /// The same, with the backing file where `options` says.
  std::filesystem::path add_lun(int tid, int lun, std::uint64_t size_bytes, lun_options options);
  /// Sets logical-unit parameters, `--op update --mode logicalunit --params
  /// name=value[,name=value]`, e.g. "readonly=1" (writes then fail with DATA
  /// PROTECT / WRITE PROTECTED, reads still work).
  void set_lun_params(int tid, int lun, const std::string& params);
  /// Removes a LUN (`--op delete --mode logicalunit`); commands to it then end
  /// in CHECK CONDITION, LOGICAL UNIT NOT SUPPORTED. tgtd refuses ("this
  /// logical unit is still active") while the LUN has commands queued, so
  /// this retries until the queue is empty for a moment, up to `limit`.
  void delete_lun(int tid, int lun, std::chrono::milliseconds limit = std::chrono::seconds{10});
  /// Lets every initiator address log in; without an ACL nobody can.
  void bind_all_initiators(int tid);
  /// Allows MC/S with up to n connections per session (tgt's default is 1).
  void set_max_connections(int tid, int n);
  /// Sets any target parameter shown by show_params(), e.g. HeaderDigest or nop_interval.
  void set_target_param(int tid, const std::string& name, const std::string& value);
  /// Creates a global CHAP account; nothing requires it until it is bound.
  void add_account(const std::string& user, const std::string& secret);
  /// Requires initiators of tid to authenticate with CHAP as user.
  void bind_account(int tid, const std::string& user);
  /// Makes tid answer the initiator's challenge as user (mutual CHAP); one per target.
  void bind_outgoing_account(int tid, const std::string& user);

  /// The connections tgtd currently holds for tid.
  [[nodiscard]] std::vector<tgt_connection> connections(int tid) const;
  /// Makes the target drop one connection, as an admin or a failing target would.
  void delete_connection(int tid, std::uint64_t sid, std::uint32_t cid);
  /// Drops every connection tid has. A connection whose commands are still in
  /// the backing store is closed by tgtd only once they are done: until then
  /// it is just silent (tgtd no longer reads it).
  void delete_connections(int tid);

  /// Raw `--op show --mode target` text: targets, nexuses, LUNs, accounts, ACLs.
  [[nodiscard]] std::string show() const;
  /// Raw `--op show --mode target --tid T` text: the negotiation parameters.
  [[nodiscard]] std::string show_params(int tid) const;
  /// show_params() parsed into name → value.
  [[nodiscard]] std::map<std::string, std::string> params(int tid) const;
  /// Runs `tgtadm -C N --lld iscsi <args>` and returns its output (escape hatch; not replayed on restart).
  std::string tgtadm(const std::vector<std::string>& args) const;

  /// Crashes the target (SIGKILL); connections see a reset, config is gone until restart().
  void kill9();
  /// Starts tgtd again on the same ports (killing it first if needed) and replays every config call.
  void restart();
  /// Freezes the target (SIGSTOP): TCP still accepts, nothing answers, as with a hung target.
  void pause();
  /// Thaws a paused target (SIGCONT).
  void resume();
  /// True while our tgtd process exists (paused counts as running).
  [[nodiscard]] bool running() const;

  /// The iSCSI TCP port on 127.0.0.1.
  [[nodiscard]] unsigned short port() const noexcept { return port_; }
  /// "127.0.0.1:P", as iSCSI tools and SendTargets print it.
  [[nodiscard]] std::string portal() const;
  /// The tgtd -C number (control socket /var/run/tgtd/socket.N).
  [[nodiscard]] int control_port() const noexcept { return control_port_; }
  /// tgtd's pid; -1 between kill9() and restart().
  [[nodiscard]] pid_t pid() const noexcept;
  /// The private temp dir holding backing files and the log.
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
  /// tgtd's stdout/stderr, appended across restarts.
  [[nodiscard]] std::filesystem::path log_file() const { return dir_ / "tgtd.log"; }
  /// A libiscsi URL for a LUN: iscsi://[user%secret@]127.0.0.1:P/iqn/lun
  /// (libiscsi does not unescape: user and secret must not contain '%', '@' or '/').
  [[nodiscard]] std::string url(std::string_view iqn, int lun, std::string_view user = {},
                                std::string_view secret = {}) const;

 private:
  void start_fresh_ports();
  bool start_on(unsigned short port, int control_port, std::string& failure);
  void stop_process();
  void configure(std::vector<std::string> args);
  std::vector<std::string> tgtadm_command(const std::vector<std::string>& args) const;

  tgtd_options options_;
  std::filesystem::path dir_;
  std::filesystem::path shm_dir_;  ///< in-memory backing files (lun_options::in_memory), created on first use.
  unsigned short port_ = 0;
  int control_port_ = 0;
  std::unique_ptr<child_process> process_;
  std::vector<std::vector<std::string>> config_;  ///< every configuring tgtadm call, for restart().
  bool paused_ = false;
};

/// The name of the one target make_standard_target() creates.
inline constexpr std::string_view standard_iqn = "iqn.2026-11.test.isens:disk1";
/// Its target id.
inline constexpr int standard_tid = 1;
/// Size of LUN 1 (distinct from LUN 2 so tests can tell them apart).
inline constexpr std::uint64_t standard_lun1_bytes = 64ULL << 20;
/// Size of LUN 2.
inline constexpr std::uint64_t standard_lun2_bytes = 16ULL << 20;
/// Connections per session it allows (MC/S tests need more than tgt's default 1).
inline constexpr int standard_max_connections = 4;

/// A tgtd with standard_iqn (tid 1): LUN 1 of 64 MiB, LUN 2 of 16 MiB, all
/// initiators allowed, MaxConnections 4 — the target most tests log in to.
std::unique_ptr<tgtd_target> make_standard_target(tgtd_options options = {});

}  // namespace isens::test
