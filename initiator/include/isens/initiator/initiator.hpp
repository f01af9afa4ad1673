#pragma once
/// The initiator facade, mirroring MSiSCSI_Operations: discovery, login and
/// logout, connections of a session, a few SCSI commands, and a snapshot of
/// every session. Every state change is published on the event bus.
///
/// All operations are C++20 coroutines on the initiator's executor and
/// complete exactly once with a `result`: a value, or an `error` whose
/// message says what failed (never a secret). They never throw for network
/// or target failures.

#include "isens/events/event_bus.hpp"
#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace isens::initiator {

namespace detail {
class registry;
}

/// The iSCSI initiator. Sessions live until logged out or until the
/// initiator is destroyed. Thread-safe.
class initiator {
 public:
  /// Runs network I/O on `executor` (one strand per session unless
  /// options.single_threaded) and publishes on `bus`.
  initiator(boost::asio::any_io_executor executor, events::event_bus& bus, initiator_options options = {});
  /// Closes every connection without logging out (call shutdown() first for a clean stop).
  ~initiator();

  initiator(const initiator&) = delete;
  initiator& operator=(const initiator&) = delete;

  /// SendTargets=All on a discovery session: every target and its portals.
  boost::asio::awaitable<result<std::vector<discovered_target>>> discover(discovery_options options);

  /// SendTargets=All at `where` with the CHAP credentials (one-way and
  /// mutual) that session `session_id` logs in with, which the caller never
  /// sees: how the failover subscriber learns a target's other portals. It
  /// offers AuthMethod CHAP,None, so a target that asks no CHAP for
  /// discovery (while its logins need it) answers too. errc::no_such_session
  /// when there is no such session.
  boost::asio::awaitable<result<std::vector<discovered_target>>> discover_for_session(std::uint64_t session_id,
                                                                                     portal where);

  /// Logs in a new session (connection_made, logon, then session_ready once
  /// LUNs are enumerated). Returns its UniqueSessionId.
  boost::asio::awaitable<result<std::uint64_t>> login_to_target(login_options options);

  /// Logs the session out (connection_lost for each connection, then logoff
  /// with reason admin_logout) and forgets it. A disconnected session is
  /// just forgotten (logoff).
  boost::asio::awaitable<result<void>> logout_from_target(std::uint64_t session_id);

  /// Adds a connection to a logged-in session (same ISID and TSIH, a new
  /// CID), at `where` or the session's portal. Returns its UniqueConnectionId.
  boost::asio::awaitable<result<std::uint64_t>> add_connection_to_session(std::uint64_t session_id,
                                                                           std::optional<portal> where = {});

  /// Logs one connection out (reason: close the connection). Removing the
  /// last connection fails with errc::last_connection: log out instead.
  boost::asio::awaitable<result<void>> remove_connection_from_session(std::uint64_t session_id,
                                                                      std::uint64_t connection_id);

  /// Logs a disconnected session in again by reinstatement (same ISID,
  /// TSIH 0, so the target drops the old nexus): connection_made and
  /// session_reconnect (reason recovery, with the attempt number). A failed
  /// attempt publishes session_disconnect again with its reason and attempt
  /// number, and leaves the session disconnected.
  boost::asio::awaitable<result<void>> reconnect_session(std::uint64_t session_id, reconnect_options options = {});

  /// Gives a disconnected session up: logoff with reason recovery_failed
  /// (and `why` as detail); commands held for it fail. The session is forgotten.
  boost::asio::awaitable<result<void>> abandon_session(std::uint64_t session_id, std::string why,
                                                       std::uint32_t attempts = 0);

  /// Standard INQUIRY plus VPD pages 0x80 and 0x83 of a LUN.
  boost::asio::awaitable<result<inquiry_data>> scsi_inquiry(std::uint64_t session_id, std::uint64_t lun);
  /// READ CAPACITY(16), falling back to READ CAPACITY(10).
  boost::asio::awaitable<result<capacity_data>> scsi_read_capacity(std::uint64_t session_id, std::uint64_t lun);
  /// MODE SENSE(6) header of a block device: write protection and FUA support.
  boost::asio::awaitable<result<mode_flags>> scsi_mode_sense(std::uint64_t session_id, std::uint64_t lun);
  /// REPORT LUNS: the LUNs of the session's target.
  boost::asio::awaitable<result<std::vector<std::uint64_t>>> scsi_report_luns(std::uint64_t session_id);

  // ---- The data path ----
  // Each call completes exactly once, through any Asio completion token
  // (use_awaitable, use_future, a callback), with `result<void>`. It may be
  // started from any thread; the handler runs on its associated executor
  // (for a plain callback: the session's thread). The buffer must stay
  // valid and untouched until then: isens reads into it and writes from it
  // in place. Lengths are whole logical blocks of the LUN (its block size is
  // in the session snapshot's devices). A command that loses its connection
  // or session is held and sent again (recovery_hold); the caller sees an
  // error only when it finally fails. A write completes only after the
  // target's GOOD status.

  /// Reads buffer.size() bytes from `lun` starting at logical block `lba`.
  template <class CompletionToken>
  auto async_read(std::uint64_t session_id, std::uint64_t lun, std::uint64_t lba, std::span<std::byte> buffer,
                  CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(result<void>)>(
        [this, session_id, lun, lba, buffer](io_handler handler) {
          start_io(io_request{session_id, lun, lba, io_direction::read, buffer.data(), buffer.size(), {}},
                   std::move(handler));
        },
        token);
  }

  /// Writes `data` to `lun` starting at logical block `lba`.
  template <class CompletionToken>
  auto async_write(std::uint64_t session_id, std::uint64_t lun, std::uint64_t lba, std::span<const std::byte> data,
                   write_options options, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(result<void>)>(
        [this, session_id, lun, lba, data, options](io_handler handler) {
          start_io(io_request{session_id, lun, lba, io_direction::write, const_cast<std::byte*>(data.data()),
                              data.size(), options},
                   std::move(handler));
        },
        token);
  }

  /// SYNCHRONIZE CACHE of the whole LUN: every write completed before it is durable.
  template <class CompletionToken>
  auto async_flush(std::uint64_t session_id, std::uint64_t lun, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(result<void>)>(
        [this, session_id, lun](io_handler handler) {
          start_io(io_request{session_id, lun, 0, io_direction::flush, nullptr, 0, {}}, std::move(handler));
        },
        token);
  }

  /// WRITE SAME(16): writes the one logical block `block` to `blocks` blocks
  /// from `lba` (WRITE_ZEROES passes a block of zeros). With `unmap` the
  /// target may deallocate the blocks instead, if it then reads them back
  /// as that block; the UNMAP bit is sent only where the LUN's provisioning
  /// page has LBPWS (or the LUN has no such page). Split by the LUN's
  /// MAXIMUM WRITE SAME LENGTH.
  template <class CompletionToken>
  auto async_write_same(std::uint64_t session_id, std::uint64_t lun, std::uint64_t lba, std::uint64_t blocks,
                        std::span<const std::byte> block, bool unmap, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(result<void>)>(
        [this, session_id, lun, lba, blocks, block, unmap](io_handler handler) {
          io_request r{session_id, lun, lba, io_direction::write_same, const_cast<std::byte*>(block.data()),
                       block.size(), {}};
          r.blocks = blocks;
          r.unmap = unmap;
          start_io(r, std::move(handler));
        },
        token);
  }

  /// UNMAP: the `blocks` blocks from `lba` hold nothing the caller needs;
  /// a thin-provisioned LUN frees them (what they read back as afterwards
  /// is the LUN's business). Split by the LUN's MAXIMUM UNMAP LBA COUNT. A
  /// LUN whose provisioning page says it does not unmap fails at once with
  /// errc::invalid_argument; one without that page answers for itself
  /// (errc::scsi_check_condition, ILLEGAL REQUEST, when it cannot).
  template <class CompletionToken>
  auto async_unmap(std::uint64_t session_id, std::uint64_t lun, std::uint64_t lba, std::uint64_t blocks,
                   CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(result<void>)>(
        [this, session_id, lun, lba, blocks](io_handler handler) {
          io_request r{session_id, lun, lba, io_direction::unmap, nullptr, 0, {}};
          r.blocks = blocks;
          start_io(r, std::move(handler));
        },
        token);
  }

  /// A snapshot of every session, ordered by session id.
  std::vector<session_info> sessions() const;
  /// One session's snapshot; errc::no_such_session when unknown.
  result<session_info> session(std::uint64_t session_id) const;

  /// Logs out every session (reason shutdown) and refuses new work.
  boost::asio::awaitable<void> shutdown();

  /// The service-wide settings this initiator runs with.
  const initiator_options& options() const noexcept;

 private:
  enum class io_direction : std::uint8_t { read, write, flush, write_same, unmap };
  // One facade I/O, as the templates above hand it over.
  struct io_request {
    std::uint64_t session_id;
    std::uint64_t lun;
    std::uint64_t lba;
    io_direction direction;
    std::byte* buffer;  // written into for reads, read from for writes
    std::size_t length;
    write_options options;
    std::uint64_t blocks = 0;  // write_same, unmap: blocks affected
    bool unmap = false;        // write_same: the target may deallocate
  };
  using io_handler = boost::asio::any_completion_handler<void(result<void>)>;
  // Hands the request to its session (from any thread); `handler` runs once.
  void start_io(io_request request, io_handler handler);

  std::shared_ptr<detail::registry> registry_;
};

}  // namespace isens::initiator
