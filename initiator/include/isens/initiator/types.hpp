#pragma once
/// Value types of the initiator facade: where to log in, with which
/// credentials, and what a session looks like (the fields Get-IscsiSession
/// shows).

#include "isens/initiator/error.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isens::initiator {

/// The default iSCSI TCP port.
inline constexpr std::uint16_t default_iscsi_port = 3260;

/// A target portal: host (name, IPv4 or IPv6 literal) and TCP port.
struct portal {
  std::string host;
  std::uint16_t port = default_iscsi_port;

  /// "host:port", with IPv6 hosts in brackets.
  std::string to_string() const;
  /// Parses "host", "host:port", "[v6]" or "[v6]:port"; invalid_argument on bad input.
  static result<portal> parse(std::string_view text);
  /// Portals are equal when host and port are.
  friend bool operator==(const portal&, const portal&) = default;
};

/// A CHAP user name and secret. The secret never appears in logs, events,
/// snapshots or error messages.
struct chap_credentials {
  std::string user;
  std::string secret;
};

/// Digest choice for a header or data digest: demanded (none, crc32c) or
/// preferred (open-iscsi's "CRC32C,None": the first the target accepts).
enum class digest : std::uint8_t {
  none,            ///< offer None only
  crc32c,          ///< offer CRC32C only: a target without digests fails the login
  crc32c_or_none,  ///< offer CRC32C,None: a digest when the target has one
  none_or_crc32c,  ///< offer None,CRC32C: no digest unless the target insists
};

/// "none", "crc32c", "crc32c,none" or "none,crc32c".
std::string_view to_string(digest d) noexcept;
/// Parses the forms to_string() gives, in any case ("CRC32C,None" as open-iscsi writes it); nullopt otherwise.
std::optional<digest> parse_digest(std::string_view text);

/// Everything needed to log in to one target.
struct login_options {
  portal target_portal;
  std::string target_name;                       ///< target IQN
  std::optional<chap_credentials> chap;          ///< the initiator's CHAP credentials (one-way CHAP)
  std::optional<chap_credentials> mutual_chap;   ///< the target's credentials, to verify it (mutual CHAP)
  digest header_digest = digest::none;
  digest data_digest = digest::none;
  std::uint32_t max_connections = 8;             ///< MaxConnections the initiator offers
  std::optional<std::uint64_t> isid;             ///< reuse an ISID (session reinstatement); default: a new one
  bool enumerate_luns = true;                    ///< REPORT LUNS/INQUIRY/READ CAPACITY after logon (session_ready)
};

/// Where a target can be reached, as SendTargets reports it.
struct target_portal {
  portal address;
  std::uint16_t portal_group_tag = 1;
};

/// One target found by discovery.
struct discovered_target {
  std::string name;
  std::vector<target_portal> portals;
};

/// Options of a SendTargets discovery session.
struct discovery_options {
  portal discovery_portal;
  std::optional<chap_credentials> chap;
  std::optional<chap_credentials> mutual_chap;
};

/// One connection of a session.
struct connection_info {
  std::uint64_t connection_id = 0;  ///< UniqueConnectionId
  std::uint16_t cid = 0;            ///< iSCSI CID
  std::string local_address;        ///< "ip:port"
  std::string remote_address;       ///< "ip:port"
  /// MaxRecvDataSegmentLength the initiator declared at this connection's
  /// login: the most data the target puts in one PDU to us.
  std::uint32_t max_recv_data_segment_length = 8192;
  /// MaxRecvDataSegmentLength the target declared: the most data we put in one PDU to it.
  std::uint32_t max_send_data_segment_length = 8192;
};

/// Standard INQUIRY data (SPC-4 §6.6.2), trimmed.
struct inquiry_data {
  std::uint8_t peripheral_qualifier = 0;
  std::uint8_t device_type = 0;  ///< 0x00 disk, 0x0c controller, 0x1f unknown
  std::string vendor;
  std::string product;
  std::string revision;
  std::string unit_serial;       ///< VPD page 0x80, when the device has one
  std::vector<std::string> designators;  ///< VPD page 0x83 designators, readable ("naa.6001…", "t10.…")
};

/// READ CAPACITY result.
struct capacity_data {
  std::uint64_t block_count = 0;  ///< number of logical blocks
  std::uint32_t block_size = 0;   ///< bytes per logical block
  /// Size in bytes.
  std::uint64_t bytes() const noexcept { return block_count * block_size; }
};

/// The device-specific parameter of a block device's MODE SENSE header (SBC-4 §6.5.2).
struct mode_flags {
  bool write_protected = false;  ///< WP: writes fail with DATA PROTECT
  bool dpo_fua = false;          ///< DPOFUA: the device honours FUA
};

/// A block device's limits (Block Limits VPD page 0xB0), in blocks; 0: none declared.
/// The data path splits a larger I/O into commands within them.
struct block_limits {
  std::uint32_t max_transfer_blocks = 0;     ///< per READ or WRITE
  std::uint32_t optimal_transfer_blocks = 0;
  std::uint32_t max_unmap_blocks = 0;        ///< per UNMAP
  std::uint64_t max_write_same_blocks = 0;   ///< per WRITE SAME
};

/// Whether a block device deallocates (READ CAPACITY(16) and the Logical
/// Block Provisioning VPD page 0xB2).
struct thin_provisioning {
  bool thin = false;                ///< LBPME: the device is thin provisioned
  bool unmap = false;               ///< LBPU: UNMAP deallocates
  bool write_same_unmap = false;    ///< LBPWS: WRITE SAME(16) with UNMAP deallocates
  bool zeroes_after_unmap = false;  ///< LBPRZ: a deallocated block reads as zeros
};

/// A LUN of a session with what enumeration found out about it.
struct device_info {
  std::uint64_t lun = 0;
  inquiry_data inquiry;
  std::optional<capacity_data> capacity;  ///< absent for non-block devices
  std::optional<block_limits> limits;     ///< absent when the device has no Block Limits page
  /// Absent when the device has no Logical Block Provisioning page: then
  /// whether it unmaps is learnt from its answer to UNMAP.
  std::optional<thin_provisioning> provisioning;
};

/// How one write is to be made durable.
struct write_options {
  bool fua = false;  ///< Force Unit Access: GOOD only once the blocks are on stable storage
};

/// Upper bounds (µs) of the I/O latency histogram buckets in io_counters;
/// a last bucket counts everything slower.
inline constexpr std::array<std::uint32_t, 12> io_latency_bounds_us{50,   100,   200,   500,    1000,   2000,
                                                                    5000, 10000, 50000, 100000, 1000000, 10000000};

/// What a session's data path has done since login. Ops, bytes, failed and
/// the latencies count the facade's reads, writes and flushes; held,
/// reissued, retried, aborted and lun_resets count every SCSI command of
/// the session, LUN enumeration included.
struct io_counters {
  std::uint64_t read_ops = 0;     ///< reads completed with GOOD
  std::uint64_t read_bytes = 0;
  std::uint64_t write_ops = 0;    ///< writes (and flushes) completed with GOOD
  std::uint64_t write_bytes = 0;
  std::uint64_t failed = 0;       ///< reads, writes and flushes that ended with an error to the caller
  std::uint64_t held = 0;         ///< commands held while the session was disconnected
  std::uint64_t reissued = 0;     ///< commands sent again after a lost connection, an abort or a LUN reset
  std::uint64_t retried = 0;      ///< commands sent again after UNIT ATTENTION, BUSY or TASK SET FULL
  std::uint64_t aborted = 0;      ///< ABORT TASK requests sent for commands that timed out
  std::uint64_t lun_resets = 0;   ///< LOGICAL UNIT RESET requests sent
  std::uint64_t in_flight = 0;    ///< commands sent and not yet answered (at snapshot time)
  std::uint64_t queued = 0;       ///< commands waiting for the CmdSN window or a recovery (at snapshot time)
  /// Completed commands by latency (submit to completion), one count per
  /// bucket of io_latency_bounds_us, the last for anything slower.
  std::array<std::uint64_t, io_latency_bounds_us.size() + 1> latency_buckets{};
  std::uint64_t latency_sum_us = 0;  ///< sum of those latencies
};

/// A session as Get-IscsiSession shows it.
struct session_info {
  std::uint64_t session_id = 0;  ///< UniqueSessionId
  std::string initiator_name;
  std::string target_name;
  portal target_portal;          ///< where the leading connection logged in
  std::uint64_t isid = 0;
  std::uint16_t tsih = 0;
  bool connected = false;        ///< at least one connection in full-feature phase
  std::string auth_type;         ///< "None", "CHAP" or "Mutual CHAP"
  bool header_digest = false;
  bool data_digest = false;
  std::uint32_t max_connections = 1;  ///< negotiated MaxConnections
  std::uint32_t default_time2wait = 2;  ///< negotiated DefaultTime2Wait (s): wait this long before reconnecting
  /// Negotiated DefaultTime2Retain (s): how long after Time2Wait the target
  /// keeps a dropped session's state before letting it go.
  std::uint32_t default_time2retain = 20;
  /// The TargetPortalGroupTag of the session's last login (RFC 7143 §13.9):
  /// the target portal group it lives in, with all its connections; only
  /// there does reinstatement end the old session. Empty when the target
  /// named none.
  std::optional<std::uint16_t> portal_group_tag;
  // The other operational keys of the last login (RFC 7143 §13), as
  // negotiated: what the data path works with.
  bool initial_r2t = true;                ///< InitialR2T: a write waits for an R2T before sending unsolicited data
  bool immediate_data = true;             ///< ImmediateData: a write may carry data in its command PDU
  std::uint32_t max_burst_length = 262144;    ///< MaxBurstLength: bytes of one solicited sequence
  std::uint32_t first_burst_length = 65536;   ///< FirstBurstLength: unsolicited bytes a write may send
  std::uint32_t max_outstanding_r2t = 1;      ///< MaxOutstandingR2T, per task
  bool data_pdu_in_order = true;          ///< DataPDUInOrder
  bool data_sequence_in_order = true;     ///< DataSequenceInOrder
  std::uint32_t error_recovery_level = 0; ///< ErrorRecoveryLevel
  /// MaxRecvDataSegmentLength both ways, as the leading connection's login
  /// declared them (each connection declares its own: connection_info).
  std::uint32_t max_recv_data_segment_length = 8192;  ///< what the initiator receives
  std::uint32_t max_send_data_segment_length = 8192;  ///< what the target receives
  std::string target_alias;               ///< TargetAlias, empty when the target sent none
  /// Set when the target announced a drop with a Time2Wait (Async Message 2
  /// or 3, also for one connection of several): no login for this session,
  /// neither a reconnect nor an added connection, before this point. Taken
  /// when the message arrived, so a late reader waits no longer; a point
  /// already past asks for no wait. Cleared by the next login that works.
  std::optional<std::chrono::steady_clock::time_point> reconnect_after;
  /// With reconnect_after: the Time2Retain the target named, how long after
  /// that point it keeps the session's state; recovery goes on at least that long.
  std::optional<std::chrono::seconds> retain_for;
  std::size_t connections_wanted = 0;  ///< connections the caller set up (login, add, remove); recovery restores them
  std::vector<connection_info> connections;
  std::vector<device_info> devices;
  io_counters io;                ///< the data path's counters
};

/// Service-wide initiator settings.
struct initiator_options {
  std::string initiator_name = "iqn.2026-11.org.isens:initiator";
  std::string initiator_alias = "isens";
  std::chrono::milliseconds connect_timeout{3000};   ///< TCP connect, per attempt
  std::chrono::milliseconds login_timeout{5000};     ///< the whole login exchange
  std::chrono::milliseconds command_timeout{10000};  ///< a SCSI command or logout
  std::chrono::milliseconds nop_interval{5000};      ///< NOP-Out ping period; 0 turns pings off
  std::chrono::milliseconds nop_timeout{5000};       ///< a ping unanswered this long drops the connection
  /// SCSI commands of a disconnected session are held this long for a
  /// recovery and then sent again; when it passes first they fail. 0 fails
  /// them at once. Failover raises it to its give-up deadline.
  std::chrono::milliseconds recovery_hold{0};
  /// Largest transfer of one SCSI command; a larger read or write is split
  /// (the LUN's Block Limits page may lower it further).
  std::uint32_t max_transfer_bytes = 8u << 20;
  /// A connection with one command in flight polls its socket this long
  /// before it sleeps on it, so a lone command's answer is taken without
  /// the sleep and wake-up (QEMU's IOThreads poll the same way:
  /// poll-max-ns). It costs up to this much CPU per command and pays only
  /// with a CPU to spare; with more commands in flight it never polls, as
  /// their answers come in batches. 0 (the default) never polls.
  std::chrono::microseconds lone_command_poll{0};
  /// With at least this many SCSI commands in flight, a session sends new
  /// ones in batches: they wait for the end of the next batch of answers
  /// and go out together once they are a quarter of its commands, so the
  /// target keeps at least three quarters. One sendmsg and one wake-up of
  /// the target then serve several commands (about 15 % less CPU per 4 KiB
  /// I/O at QD16). Below it every command goes out at once. 0 never batches.
  std::uint32_t batch_commands_from = 8;
  /// True when only one thread runs the executor (an io_context run by one
  /// thread, as in isensd): sessions then use it directly instead of a strand
  /// each, which saves a hand-off and an allocation per operation.
  bool single_threaded = false;
};

/// How to reconnect a disconnected session.
struct reconnect_options {
  std::optional<portal> where;  ///< default: the portal the session logged in at
  std::uint32_t attempt = 1;    ///< carried on the events, for monitoring
};

}  // namespace isens::initiator
