#include "bare_side.hpp"

#include "protocol/text_keys.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace isens::bench {

namespace protocol = initiator::protocol;

namespace {

constexpr std::size_t bhs_bytes = 48;
constexpr std::uint32_t offered_max_recv_data_segment = 262144;
constexpr std::size_t recv_buffer_bytes = 1 << 20;  // above the largest PDU tgtd may send us (48 + 256 KiB)
// A Data-In payload above this that has not all arrived is received
// straight into the caller's buffer rather than through recv_ and a copy.
constexpr std::size_t direct_payload = 16 * 1024;

// RFC 7143 opcodes and flags this loop uses.
constexpr std::uint8_t op_scsi_command = 0x01, op_login_request = 0x03, op_scsi_response = 0x21,
                       op_login_response = 0x23, op_data_in = 0x25;
constexpr std::uint8_t immediate_bit = 0x40;

std::uint32_t get_be(const std::byte* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | std::to_integer<std::uint32_t>(p[i]);
  return v;
}
void put_be(std::byte* p, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<std::byte>(v & 0xff);
}
std::uint8_t byte_at(const std::byte* p, std::size_t i) { return std::to_integer<std::uint8_t>(p[i]); }

std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }
std::string hex(unsigned v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%02x", v);
  return text;
}
std::string system_error(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Reads exactly `n` bytes (the login only; the read loop takes what comes).
void recv_exactly(int fd, std::byte* into, std::size_t n) {
  for (std::size_t got = 0; got < n;) {
    const ssize_t r = ::recv(fd, into + got, n - got, 0);
    if (r <= 0) throw std::runtime_error(r == 0 ? "bare loop: tgtd closed the connection during login"
                                                : system_error("bare loop: recv during login"));
    got += static_cast<std::size_t>(r);
  }
}

}  // namespace

bare_side::bare_side(bare_options options) : options_(std::move(options)), recv_(recv_buffer_bytes) {
  const auto colon = options_.portal.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("bare loop: portal is not host:port: " + options_.portal);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(options_.portal.substr(colon + 1))));
  if (::inet_pton(AF_INET, options_.portal.substr(0, colon).c_str(), &address.sin_addr) != 1)
    throw std::invalid_argument("bare loop: not an IPv4 address: " + options_.portal);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(system_error("bare loop: socket"));
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // A target that stops answering ends the round with an error, not a hang.
  const timeval patience{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  try {
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error(system_error(("bare loop: connect to " + options_.portal).c_str()));
    login();
    clear_unit_attention();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

bare_side::~bare_side() {
  thread_.stop();
  ::close(fd_);
}

// Login Requests straight to the operational stage and on to full feature
// phase, as tgtd allows without authentication: the first with the keys,
// then empty ones until tgtd moves on (its first answer only names its
// portal group). Everything not offered keeps its RFC default, which is all
// this loop needs for reads.
void bare_side::login() {
  std::string keys;
  const std::vector<std::string> offered{"InitiatorName=" + options_.initiator_name,
                                         "TargetName=" + options_.target_iqn,
                                         "SessionType=Normal",
                                         "HeaderDigest=None",
                                         "DataDigest=None",
                                         "MaxRecvDataSegmentLength=" +
                                             std::to_string(offered_max_recv_data_segment)};
  for (const auto& kv : offered) {
    keys.append(kv);
    keys.push_back('\0');
  }
  std::uint32_t target_mrdsl = 8192, first_burst = 65536;  // the RFC's defaults, unless tgtd says otherwise
  for (int step = 0;; ++step) {
    if (step == 4) throw std::runtime_error("bare loop: tgtd did not finish the login in 4 steps");
    std::vector<std::byte> pdu(bhs_bytes + padded(keys.size()));
    pdu[0] = std::byte{op_login_request | immediate_bit};
    pdu[1] = std::byte{0x80 | 1 << 2 | 3};  // Transit, CSG operational, NSG full feature
    put_be(&pdu[5], keys.size(), 3);
    const std::byte isid[6]{std::byte{0x80}, std::byte{0x15}, std::byte{0xe0}, std::byte{0x5b}, std::byte{0xa2},
                            std::byte{0x01}};
    std::memcpy(&pdu[8], isid, sizeof isid);
    put_be(&pdu[16], 0x4c4f4749, 4);  // Initiator Task Tag
    put_be(&pdu[24], 1, 4);           // CmdSN
    put_be(&pdu[28], exp_stat_sn_, 4);
    std::memcpy(&pdu[bhs_bytes], keys.data(), keys.size());
    keys.clear();
    send_.assign(pdu.begin(), pdu.end());
    if (auto e = flush(); !e.empty()) throw std::runtime_error("bare loop: login: " + e);

    std::byte response[bhs_bytes];
    recv_exactly(fd_, response, bhs_bytes);
    const std::size_t text_bytes = get_be(&response[5], 3);
    std::vector<std::byte> data(padded(text_bytes));
    recv_exactly(fd_, data.data(), data.size());
    const unsigned opcode = byte_at(response, 0) & 0x3f, flags = byte_at(response, 1);
    const unsigned status_class = byte_at(response, 36), status_detail = byte_at(response, 37);
    if (opcode != op_login_response)
      throw std::runtime_error("bare loop: login answered with opcode " + hex(opcode));
    if (status_class != 0)
      throw std::runtime_error("bare loop: login refused, status class " + std::to_string(status_class) +
                               " detail " + std::to_string(status_detail));
    exp_stat_sn_ = get_be(&response[24], 4) + 1;
    cmd_sn_ = get_be(&response[28], 4);
    max_cmd_sn_ = get_be(&response[32], 4);
    // Immediate data (ImmediateData=Yes, the default both sides keep) may be
    // as long as the target takes in one PDU and the first burst allows.
    const auto answer =
        protocol::parse_text_views(protocol::byte_span(reinterpret_cast<const std::uint8_t*>(data.data()), text_bytes));
    if (!answer) throw std::runtime_error("bare loop: login answer: " + answer.error().what());
    const auto note = [&](std::string_view key, std::uint32_t& value) {
      if (const auto* text = protocol::find_value(*answer, key))
        if (const auto number = protocol::parse_number(*text)) value = static_cast<std::uint32_t>(*number);
    };
    note("MaxRecvDataSegmentLength", target_mrdsl);
    note("FirstBurstLength", first_burst);
    immediate_limit_ = std::min(target_mrdsl, first_burst);
    if ((flags & 0x80) != 0 && (flags & 0x03) == 3) return;
  }
}

// A new nexus starts with a UNIT ATTENTION (power on or reset) that fails
// the first command; TEST UNIT READY until GOOD takes it, as libiscsi's
// full connect does.
void bare_side::clear_unit_attention() {
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::byte pdu[bhs_bytes]{};
    pdu[0] = std::byte{op_scsi_command};
    pdu[1] = std::byte{0x80 | 0x01};  // Final, SIMPLE, no data
    put_be(&pdu[8], static_cast<std::uint64_t>(options_.lun) << 48, 8);
    put_be(&pdu[16], 0xffff0000u | static_cast<std::uint32_t>(attempt), 4);
    put_be(&pdu[24], cmd_sn_++, 4);
    put_be(&pdu[28], exp_stat_sn_, 4);  // CDB: TEST UNIT READY, all zero
    send_.assign(pdu, pdu + bhs_bytes);
    if (auto e = flush(); !e.empty()) throw std::runtime_error("bare loop: TEST UNIT READY: " + e);
    std::byte response[bhs_bytes];
    recv_exactly(fd_, response, bhs_bytes);
    std::vector<std::byte> sense(padded(get_be(&response[5], 3)));
    recv_exactly(fd_, sense.data(), sense.size());
    if ((byte_at(response, 0) & 0x3f) != op_scsi_response)
      throw std::runtime_error("bare loop: TEST UNIT READY answered with opcode " + hex(byte_at(response, 0) & 0x3f));
    exp_stat_sn_ = get_be(&response[24], 4) + 1;
    max_cmd_sn_ = get_be(&response[32], 4);
    if (byte_at(response, 2) == 0 && byte_at(response, 3) == 0) return;
  }
  throw std::runtime_error("bare loop: the LUN is not ready after 4 TEST UNIT READY");
}

void bare_side::run(round_state& state) {
  auto& slots = state.slots();
  in_flight_.assign(slots.size(), false);
  ++round_tag_;
  send_.clear();
  state.start();
  std::string error = broken_;
  if (error.empty() && state.plan().row.op != io_op::read && state.plan().row.io_bytes > immediate_limit_)
    error = "the bare loop writes only what fits one PDU of immediate data (" + std::to_string(immediate_limit_) +
            " bytes here)";
  for (auto& s : slots) {
    if (!state.next(s)) continue;
    in_flight_[s.index] = true;
    if (error.empty() && !append_command(s)) error = "the CmdSN window is closed";
  }
  if (error.empty()) error = flush();
  std::size_t have = 0;
  // After a large Data-In received straight into place, the next header
  // alone, so that its payload can go the same way (isens's reader does so).
  bool header_first = false;
  while (error.empty() && state.in_flight() > 0) {
    const std::size_t room = header_first && have < bhs_bytes ? bhs_bytes - have : recv_.size() - have;
    const ssize_t n = ::recv(fd_, recv_.data() + have, room, 0);
    if (n <= 0) {
      error = n == 0 ? "tgtd closed the connection"
                     : errno == EAGAIN ? "no answer from tgtd in 10 s" : system_error("recv");
      break;
    }
    have += static_cast<std::size_t>(n);
    std::size_t at = 0;
    while (error.empty() && have - at >= bhs_bytes) {
      const std::size_t data_bytes = get_be(&recv_[at + 5], 3);
      const std::size_t whole = bhs_bytes + padded(data_bytes);
      if (whole > recv_.size()) error = "a PDU of " + std::to_string(whole) + " bytes, above what was offered";
      const bool all_here = have - at >= whole;
      const bool large_data_in = (byte_at(&recv_[at], 0) & 0x3f) == op_data_in && data_bytes > direct_payload &&
                                 padded(data_bytes) == data_bytes;
      if (!error.empty() || (!all_here && !large_data_in)) break;
      error = take_pdu(&recv_[at], data_bytes, std::min(data_bytes, have - at - bhs_bytes), state);
      header_first = !all_here;
      at = all_here ? at + whole : have;  // a large Data-In took the rest of its data from the socket
    }
    std::memmove(recv_.data(), recv_.data() + at, have - at);
    have -= at;
    if (error.empty() && !send_.empty()) error = flush();
  }
  if (!error.empty()) {
    broken_ = error;  // the stream is out of step: later rounds fail at once
    for (auto& s : slots)
      if (in_flight_[s.index]) in_flight_[s.index] = false, state.done(s, "bare loop: " + error);
  }
  state.finish();
}

bool bare_side::append_command(io_slot& s) {
  if (static_cast<std::int32_t>(cmd_sn_ - max_cmd_sn_) > 0) return false;  // serial arithmetic (RFC 1982)
  std::byte pdu[bhs_bytes]{};
  pdu[0] = std::byte{op_scsi_command};
  pdu[1] = static_cast<std::byte>(0x80 | (s.is_write ? 0x20 : 0x40) | 0x01);  // Final, Write or Read, SIMPLE
  if (s.is_write) put_be(&pdu[5], s.length, 3);                   // all of it as immediate data
  put_be(&pdu[8], static_cast<std::uint64_t>(options_.lun) << 48, 8);  // peripheral addressing, LUN < 256
  put_be(&pdu[16], std::uint64_t{round_tag_} << 16 | s.index, 4);
  put_be(&pdu[20], s.length, 4);  // Expected Data Transfer Length
  put_be(&pdu[24], cmd_sn_++, 4);
  put_be(&pdu[28], exp_stat_sn_, 4);
  pdu[32] = std::byte{s.is_write ? std::uint8_t{0x8a} : std::uint8_t{0x88}};  // WRITE(16) / READ(16)
  put_be(&pdu[34], s.offset / options_.block_size, 8);
  put_be(&pdu[42], s.length / options_.block_size, 4);
  send_.insert(send_.end(), pdu, pdu + bhs_bytes);
  if (s.is_write) {
    send_.insert(send_.end(), s.write_buffer, s.write_buffer + s.length);
    send_.resize(send_.size() + padded(s.length) - s.length);
  }
  return true;
}

std::string bare_side::take_pdu(const std::byte* pdu, std::size_t data_bytes, std::size_t buffered,
                                round_state& state) {
  const unsigned opcode = byte_at(pdu, 0) & 0x3f, flags = byte_at(pdu, 1);
  if (opcode != op_data_in && opcode != op_scsi_response)
    return "an unexpected PDU, opcode " + hex(opcode);
  const std::uint32_t tag = get_be(&pdu[16], 4);
  const std::uint32_t index = tag & 0xffff;
  auto& slots = state.slots();
  if (tag >> 16 != (round_tag_ & 0xffff) || index >= slots.size() || !in_flight_[index])
    return "an answer for a task tag not in flight: " + std::to_string(tag);
  io_slot& s = slots[index];
  max_cmd_sn_ = get_be(&pdu[32], 4);
  const bool status_here = opcode == op_scsi_response || (flags & 0x01) != 0;
  if (opcode == op_data_in) {
    if (s.is_write) return "a Data-In for a write";
    const std::uint32_t offset = get_be(&pdu[40], 4);
    if (offset > s.length || data_bytes > s.length - offset)
      return "Data-In beyond the read's length (offset " + std::to_string(offset) + ")";
    std::byte* to = s.read_buffer + offset;
    std::memcpy(to, pdu + bhs_bytes, buffered);
    for (std::size_t got = buffered; got < data_bytes;) {
      const ssize_t n = ::recv(fd_, to + got, data_bytes - got, MSG_WAITALL);
      if (n <= 0) return n == 0 ? "tgtd closed the connection" : system_error("recv of Data-In");
      got += static_cast<std::size_t>(n);
    }
  }
  if (!status_here) return {};
  exp_stat_sn_ = get_be(&pdu[24], 4) + 1;
  in_flight_[index] = false;
  const auto status = byte_at(pdu, 3);
  const bool response_ok = opcode != op_scsi_response || byte_at(pdu, 2) == 0;
  if (status != 0 || !response_ok)
    state.done(s, "SCSI status " + std::to_string(status) + ", response " + std::to_string(byte_at(pdu, 2)));
  else if ((flags & 0x06) != 0)
    state.done(s, "a residual: the read moved fewer or more bytes than asked");
  else
    state.done(s, {});
  if (state.next(s)) {
    in_flight_[index] = true;
    if (!append_command(s)) return "the CmdSN window is closed";
  }
  return {};
}

std::string bare_side::flush() {
  for (std::size_t sent = 0; sent < send_.size();) {
    const ssize_t n = ::send(fd_, send_.data() + sent, send_.size() - sent, MSG_NOSIGNAL);
    if (n < 0) return system_error("send");
    sent += static_cast<std::size_t>(n);
  }
  send_.clear();
  return {};
}

}  // namespace isens::bench
