#pragma once
// The NBD wire format (NetworkBlockDevice doc/proto.md), in one place:
// magics, option and command numbers, flags, errors, and the encoders and
// decoders of every fixed-size header. Everything is big-endian.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace isens::nbd::wire {

inline constexpr std::uint64_t nbd_magic = 0x4e42444d41474943;     // "NBDMAGIC"
inline constexpr std::uint64_t ihaveopt = 0x49484156454F5054;      // "IHAVEOPT"
inline constexpr std::uint64_t option_reply_magic = 0x3e889045565a9;
inline constexpr std::uint32_t request_magic = 0x25609513;
inline constexpr std::uint32_t simple_reply_magic = 0x67446698;
inline constexpr std::uint32_t structured_reply_magic = 0x668e33ef;

// Handshake flags (server) and client flags.
inline constexpr std::uint16_t flag_fixed_newstyle = 0x1;
inline constexpr std::uint16_t flag_no_zeroes = 0x2;
inline constexpr std::uint32_t client_fixed_newstyle = 0x1;
inline constexpr std::uint32_t client_no_zeroes = 0x2;

// Options.
enum option : std::uint32_t {
  opt_export_name = 1,
  opt_abort = 2,
  opt_list = 3,
  opt_starttls = 5,
  opt_info = 6,
  opt_go = 7,
  opt_structured_reply = 8,
  opt_list_meta_context = 9,
  opt_set_meta_context = 10,
};

// Option reply types; errors have bit 31 set.
enum reply_type : std::uint32_t {
  rep_ack = 1,
  rep_server = 2,
  rep_info = 3,
  rep_err_unsup = 0x80000001,
  rep_err_policy = 0x80000002,
  rep_err_invalid = 0x80000003,
  rep_err_platform = 0x80000004,
  rep_err_tls_reqd = 0x80000005,
  rep_err_unknown = 0x80000006,
  rep_err_shutdown = 0x80000007,
  rep_err_block_size_reqd = 0x80000008,
  rep_err_too_big = 0x80000009,
};

// Information types of NBD_REP_INFO.
enum info_type : std::uint16_t { info_export = 0, info_name = 1, info_description = 2, info_block_size = 3 };

// Transmission flags.
inline constexpr std::uint16_t tf_has_flags = 0x1;
inline constexpr std::uint16_t tf_read_only = 0x2;
inline constexpr std::uint16_t tf_send_flush = 0x4;
inline constexpr std::uint16_t tf_send_fua = 0x8;
inline constexpr std::uint16_t tf_send_trim = 0x20;
inline constexpr std::uint16_t tf_send_write_zeroes = 0x40;
inline constexpr std::uint16_t tf_send_df = 0x80;
inline constexpr std::uint16_t tf_can_multi_conn = 0x100;

// Commands and command flags.
enum command : std::uint16_t {
  cmd_read = 0,
  cmd_write = 1,
  cmd_disc = 2,
  cmd_flush = 3,
  cmd_trim = 4,
  cmd_cache = 5,
  cmd_write_zeroes = 6,
  cmd_block_status = 7,
};
inline constexpr std::uint16_t cf_fua = 0x1;
inline constexpr std::uint16_t cf_no_hole = 0x2;
inline constexpr std::uint16_t cf_df = 0x4;

// Structured reply chunk types and flags.
inline constexpr std::uint16_t chunk_flag_done = 0x1;
inline constexpr std::uint16_t chunk_offset_data = 1;
inline constexpr std::uint16_t chunk_error = 0x8001;

// Errors (errno values as the protocol fixes them).
inline constexpr std::uint32_t err_perm = 1;
inline constexpr std::uint32_t err_io = 5;
inline constexpr std::uint32_t err_nomem = 12;
inline constexpr std::uint32_t err_inval = 22;
inline constexpr std::uint32_t err_nospc = 28;
inline constexpr std::uint32_t err_overflow = 75;
inline constexpr std::uint32_t err_notsup = 95;
inline constexpr std::uint32_t err_shutdown = 108;

// Sizes of the fixed headers.
inline constexpr std::size_t request_size = 28;
inline constexpr std::size_t option_header_size = 16;
inline constexpr std::size_t option_reply_header_size = 20;
inline constexpr std::size_t simple_reply_size = 16;
inline constexpr std::size_t chunk_header_size = 20;

// Big-endian stores and loads.
void store_be(std::byte* at, std::size_t bytes, std::uint64_t value) noexcept;
std::uint64_t load_be(const std::byte* at, std::size_t bytes) noexcept;

// A transmission request as it arrived.
struct request_header {
  std::uint32_t magic = 0;
  std::uint16_t flags = 0;
  std::uint16_t type = 0;
  std::uint64_t cookie = 0;
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
};
request_header parse_request(std::span<const std::byte, request_size> bytes) noexcept;

// A reply header: at most a chunk header plus an offset or an error body.
struct reply_header {
  std::array<std::byte, 32> bytes{};
  std::size_t size = 0;
};
// Simple reply: magic, error, cookie.
reply_header simple_reply(std::uint64_t cookie, std::uint32_t error) noexcept;
// Structured OFFSET_DATA chunk (DONE) header for `length` bytes of data at `offset`.
reply_header offset_data_chunk(std::uint64_t cookie, std::uint64_t offset, std::uint32_t length) noexcept;
// Structured ERROR chunk (DONE) with no message.
reply_header error_chunk(std::uint64_t cookie, std::uint32_t error) noexcept;

// "READ", "WRITE", … for logs and messages.
std::string_view command_name(std::uint16_t type) noexcept;
// "NBD_OPT_GO", … for logs and messages.
std::string_view option_name(std::uint32_t option) noexcept;

}  // namespace isens::nbd::wire
