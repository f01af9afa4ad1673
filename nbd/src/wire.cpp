#include "wire.hpp"

namespace isens::nbd::wire {

void store_be(std::byte* at, std::size_t bytes, std::uint64_t value) noexcept {
  for (std::size_t i = 0; i < bytes; ++i) at[i] = static_cast<std::byte>(value >> (8 * (bytes - 1 - i)));
}

std::uint64_t load_be(const std::byte* at, std::size_t bytes) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | std::to_integer<std::uint64_t>(at[i]);
  return v;
}

request_header parse_request(std::span<const std::byte, request_size> b) noexcept {
  request_header h;
  h.magic = static_cast<std::uint32_t>(load_be(&b[0], 4));
  h.flags = static_cast<std::uint16_t>(load_be(&b[4], 2));
  h.type = static_cast<std::uint16_t>(load_be(&b[6], 2));
  h.cookie = load_be(&b[8], 8);
  h.offset = load_be(&b[16], 8);
  h.length = static_cast<std::uint32_t>(load_be(&b[24], 4));
  return h;
}

reply_header simple_reply(std::uint64_t cookie, std::uint32_t error) noexcept {
  reply_header r;
  store_be(&r.bytes[0], 4, simple_reply_magic);
  store_be(&r.bytes[4], 4, error);
  store_be(&r.bytes[8], 8, cookie);
  r.size = simple_reply_size;
  return r;
}

namespace {
void chunk(reply_header& r, std::uint64_t cookie, std::uint16_t type, std::uint32_t length) noexcept {
  store_be(&r.bytes[0], 4, structured_reply_magic);
  store_be(&r.bytes[4], 2, chunk_flag_done);
  store_be(&r.bytes[6], 2, type);
  store_be(&r.bytes[8], 8, cookie);
  store_be(&r.bytes[16], 4, length);
}
}  // namespace

reply_header offset_data_chunk(std::uint64_t cookie, std::uint64_t offset, std::uint32_t length) noexcept {
  reply_header r;
  chunk(r, cookie, chunk_offset_data, 8 + length);
  store_be(&r.bytes[20], 8, offset);
  r.size = chunk_header_size + 8;
  return r;
}

reply_header error_chunk(std::uint64_t cookie, std::uint32_t error) noexcept {
  reply_header r;
  chunk(r, cookie, chunk_error, 6);
  store_be(&r.bytes[20], 4, error);
  store_be(&r.bytes[24], 2, 0);  // no message
  r.size = chunk_header_size + 6;
  return r;
}

std::string_view command_name(std::uint16_t type) noexcept {
  switch (type) {
    case cmd_read: return "READ";
    case cmd_write: return "WRITE";
    case cmd_disc: return "DISC";
    case cmd_flush: return "FLUSH";
    case cmd_trim: return "TRIM";
    case cmd_cache: return "CACHE";
    case cmd_write_zeroes: return "WRITE_ZEROES";
    case cmd_block_status: return "BLOCK_STATUS";
    default: return "unknown command";
  }
}

std::string_view option_name(std::uint32_t option) noexcept {
  switch (option) {
    case opt_export_name: return "NBD_OPT_EXPORT_NAME";
    case opt_abort: return "NBD_OPT_ABORT";
    case opt_list: return "NBD_OPT_LIST";
    case opt_starttls: return "NBD_OPT_STARTTLS";
    case opt_info: return "NBD_OPT_INFO";
    case opt_go: return "NBD_OPT_GO";
    case opt_structured_reply: return "NBD_OPT_STRUCTURED_REPLY";
    case opt_list_meta_context: return "NBD_OPT_LIST_META_CONTEXT";
    case opt_set_meta_context: return "NBD_OPT_SET_META_CONTEXT";
    default: return "unknown option";
  }
}

}  // namespace isens::nbd::wire
