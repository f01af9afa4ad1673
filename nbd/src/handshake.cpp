#include "handshake.hpp"

#include "wire.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <vector>

namespace isens::nbd::detail {

namespace asio = boost::asio;
using socket_type = asio::generic::stream_protocol::socket;

namespace {

// Names are at most 4096 bytes (proto.md); option data beyond this is garbage.
constexpr std::uint32_t max_option_data = 64 * 1024;

// Everything an option reply can carry, built and sent in one write.
class option_reply {
 public:
  option_reply(std::uint32_t option, std::uint32_t type) {
    bytes_.resize(wire::option_reply_header_size);
    wire::store_be(&bytes_[0], 8, wire::option_reply_magic);
    wire::store_be(&bytes_[8], 4, option);
    wire::store_be(&bytes_[12], 4, type);
  }
  option_reply& u16(std::uint16_t v) { return put(2, v); }
  option_reply& u32(std::uint32_t v) { return put(4, v); }
  option_reply& u64(std::uint64_t v) { return put(8, v); }
  option_reply& text(std::string_view s) {
    for (char c : s) bytes_.push_back(static_cast<std::byte>(c));
    return *this;
  }
  asio::awaitable<void> send(socket_type& socket) {
    wire::store_be(&bytes_[16], 4, bytes_.size() - wire::option_reply_header_size);
    co_await asio::async_write(socket, asio::buffer(bytes_), asio::use_awaitable);
  }

 private:
  option_reply& put(std::size_t n, std::uint64_t v) {
    bytes_.resize(bytes_.size() + n);
    wire::store_be(&bytes_[bytes_.size() - n], n, v);
    return *this;
  }
  std::vector<std::byte> bytes_;
};

asio::awaitable<void> reply(socket_type& socket, std::uint32_t option, std::uint32_t type, std::string_view message = {}) {
  co_await option_reply(option, type).text(message).send(socket);
}

std::string description_of(const export_info& e) {
  return "LUN " + std::to_string(e.lun) + " of " + e.target + " (isens session " + std::to_string(e.session_id) + ")";
}

std::uint16_t flags_for(const export_state& e, bool structured) {
  return e.info.transmission_flags | (structured ? wire::tf_send_df : 0);
}

// NBD_OPT_INFO and NBD_OPT_GO data: name, then the information requests.
struct info_request {
  std::string name;
  std::vector<std::uint16_t> wanted;
};

std::optional<info_request> parse_info_request(const std::vector<std::byte>& data) {
  if (data.size() < 6) return std::nullopt;
  const auto name_length = wire::load_be(&data[0], 4);
  if (name_length > data.size() - 6) return std::nullopt;
  info_request r;
  r.name.assign(reinterpret_cast<const char*>(&data[4]), name_length);
  const std::size_t at = 4 + name_length;
  const auto count = wire::load_be(&data[at], 2);
  if (data.size() != at + 2 + 2 * count) return std::nullopt;
  for (std::size_t i = 0; i < count; ++i) r.wanted.push_back(static_cast<std::uint16_t>(wire::load_be(&data[at + 2 + 2 * i], 2)));
  return r;
}

asio::awaitable<void> send_info(socket_type& socket, std::uint32_t option, const export_state& e,
                                const info_request& request, bool structured) {
  const auto& info = e.info;
  co_await option_reply(option, wire::rep_info).u16(wire::info_export).u64(info.size_bytes).u16(flags_for(e, structured)).send(socket);
  // Block sizes always: clients that did not ask may still use them, and
  // libnbd asks by default.
  co_await option_reply(option, wire::rep_info)
      .u16(wire::info_block_size)
      .u32(info.block_size)
      .u32(info.preferred_block_size)
      .u32(info.max_block_size)
      .send(socket);
  for (const auto type : request.wanted) {
    if (type == wire::info_name) co_await option_reply(option, wire::rep_info).u16(wire::info_name).text(info.name).send(socket);
    if (type == wire::info_description)
      co_await option_reply(option, wire::rep_info).u16(wire::info_description).text(description_of(info)).send(socket);
  }
  co_await reply(socket, option, wire::rep_ack);
}

}  // namespace

asio::awaitable<std::optional<negotiated>> negotiate(socket_type& socket, const export_table& exports, std::string& why) {
  std::array<std::byte, 18> greeting{};
  wire::store_be(&greeting[0], 8, wire::nbd_magic);
  wire::store_be(&greeting[8], 8, wire::ihaveopt);
  wire::store_be(&greeting[16], 2, wire::flag_fixed_newstyle | wire::flag_no_zeroes);
  co_await asio::async_write(socket, asio::buffer(greeting), asio::use_awaitable);

  std::array<std::byte, 4> client_flags{};
  co_await asio::async_read(socket, asio::buffer(client_flags), asio::use_awaitable);
  const auto flags = static_cast<std::uint32_t>(wire::load_be(client_flags.data(), 4));
  // An unknown flag means a client we cannot talk to: the protocol says to hang up.
  if ((flags & ~(wire::client_fixed_newstyle | wire::client_no_zeroes)) != 0) {
    why = "unknown client flags " + std::to_string(flags) + " (garbage instead of an NBD handshake?)";
    co_return std::nullopt;
  }
  const bool no_zeroes = (flags & wire::client_no_zeroes) != 0;
  negotiated result;

  std::vector<std::byte> data;
  for (;;) {
    std::array<std::byte, wire::option_header_size> header{};
    co_await asio::async_read(socket, asio::buffer(header), asio::use_awaitable);
    if (wire::load_be(&header[0], 8) != wire::ihaveopt) {
      why = "an option without the IHAVEOPT magic";
      co_return std::nullopt;
    }
    const auto option = static_cast<std::uint32_t>(wire::load_be(&header[8], 4));
    const auto length = static_cast<std::uint32_t>(wire::load_be(&header[12], 4));
    if (length > max_option_data) {
      why = std::string(wire::option_name(option)) + " with " + std::to_string(length) + " bytes of data";
      co_return std::nullopt;
    }
    data.resize(length);
    co_await asio::async_read(socket, asio::buffer(data), asio::use_awaitable);

    switch (option) {
      case wire::opt_export_name: {
        const std::string name(reinterpret_cast<const char*>(data.data()), data.size());
        auto e = exports.find(name);
        if (!e || e->closed) {  // no error reply exists for this option: hang up
          why = "NBD_OPT_EXPORT_NAME of unknown export '" + name + "'";
          co_return std::nullopt;
        }
        std::array<std::byte, 10 + 124> answer{};
        wire::store_be(&answer[0], 8, e->info.size_bytes);
        wire::store_be(&answer[8], 2, flags_for(*e, result.structured_replies));
        co_await asio::async_write(socket, asio::buffer(answer, no_zeroes ? 10 : answer.size()), asio::use_awaitable);
        result.chosen = std::move(e);
        result.transmission_flags = flags_for(*result.chosen, result.structured_replies);
        co_return result;
      }
      case wire::opt_abort:
        co_await reply(socket, option, wire::rep_ack);
        why = "the client aborted the handshake";
        co_return std::nullopt;
      case wire::opt_list:
        if (length != 0) {
          co_await reply(socket, option, wire::rep_err_invalid, "NBD_OPT_LIST takes no data");
          break;
        }
        for (const auto& e : exports.list()) {
          co_await option_reply(option, wire::rep_server)
              .u32(static_cast<std::uint32_t>(e->info.name.size()))
              .text(e->info.name)
              .text(description_of(e->info))
              .send(socket);
        }
        co_await reply(socket, option, wire::rep_ack);
        break;
      case wire::opt_structured_reply:
        if (length != 0) {
          co_await reply(socket, option, wire::rep_err_invalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
          break;
        }
        result.structured_replies = true;
        co_await reply(socket, option, wire::rep_ack);
        break;
      case wire::opt_info:
      case wire::opt_go: {
        const auto request = parse_info_request(data);
        if (!request) {
          co_await reply(socket, option, wire::rep_err_invalid, "malformed export name or information requests");
          break;
        }
        auto e = exports.find(request->name);
        if (!e || e->closed) {
          co_await reply(socket, option, wire::rep_err_unknown,
                         "no export named '" + request->name + "' ('isensctl exports' lists them)");
          break;
        }
        co_await send_info(socket, option, *e, *request, result.structured_replies);
        if (option == wire::opt_go) {
          result.chosen = std::move(e);
          result.transmission_flags = flags_for(*result.chosen, result.structured_replies);
          co_return result;
        }
        break;
      }
      case wire::opt_starttls:
        co_await reply(socket, option, wire::rep_err_unsup, "TLS is not offered (use the Unix socket)");
        break;
      default:
        co_await reply(socket, option, wire::rep_err_unsup,
                       std::string(wire::option_name(option)) + " (" + std::to_string(option) + ") is not supported");
        break;
    }
  }
}

}  // namespace isens::nbd::detail
