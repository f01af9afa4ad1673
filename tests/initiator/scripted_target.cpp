#include "scripted_target.hpp"

#include "protocol/scsi.hpp"
#include "protocol/scsi_vpd.hpp"
#include "protocol/text_keys.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace isens::test {

namespace asio = boost::asio;
namespace proto = initiator::protocol;
using proto::opcode;

asio::awaitable<proto::pdu> scripted_connection::receive() {
  std::array<std::uint8_t, proto::bhs_size> bhs{};
  co_await asio::async_read(socket_, asio::buffer(bhs), asio::use_awaitable);
  auto layout = proto::inspect_header(bhs, {}, proto::max_data_segment_length, proto::pdu_source::initiator);
  if (!layout) throw std::runtime_error("scripted target: bad PDU header: " + layout.error().what());
  std::vector<std::uint8_t> rest(layout->rest_length());
  if (!rest.empty()) co_await asio::async_read(socket_, asio::buffer(rest), asio::use_awaitable);
  auto p = proto::decode_body(bhs, rest, {}, *layout);
  if (!p) throw std::runtime_error("scripted target: bad PDU: " + p.error().what());
  if (!p->immediate() && p->op() != opcode::data_out) exp_cmd_sn_ = p->cmd_sn() + 1;
  else if (exp_cmd_sn_ == 0) exp_cmd_sn_ = p->cmd_sn();
  co_return std::move(*p);
}

void scripted_connection::stamp(proto::pdu& p, bool advance_stat_sn) {
  p.set_stat_sn(stat_sn_);
  if (advance_stat_sn) ++stat_sn_;
  p.set_exp_cmd_sn(exp_cmd_sn_);
  p.set_max_cmd_sn(exp_cmd_sn_ + static_cast<std::uint32_t>(window_));
  max_cmd_sn_sent_ = p.max_cmd_sn();
}

asio::awaitable<void> scripted_connection::send(proto::pdu p, bool advance_stat_sn) {
  stamp(p, advance_stat_sn);
  co_await send_raw(proto::encode(p, {}));
}

asio::awaitable<void> scripted_connection::send_in_pieces(proto::pdu p, std::size_t piece, bool advance_stat_sn) {
  stamp(p, advance_stat_sn);
  const auto bytes = proto::encode(p, {});
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    const auto n = std::min(piece, bytes.size() - at);
    co_await asio::async_write(socket_, asio::buffer(bytes.data() + at, n), asio::use_awaitable);
    co_await asio::post(socket_.get_executor(), asio::use_awaitable);
  }
}

asio::awaitable<void> scripted_connection::send_raw(std::vector<std::uint8_t> bytes) {
  co_await asio::async_write(socket_, asio::buffer(bytes), asio::use_awaitable);
}

asio::awaitable<proto::pdu> scripted_connection::next_login_request() {
  if (pending_login_) co_return *std::exchange(pending_login_, std::nullopt);
  co_return co_await receive();
}

asio::awaitable<std::string> scripted_connection::login_session_type() {
  pending_login_ = co_await receive();
  if (pending_login_->op() != opcode::login_request)
    throw std::runtime_error("scripted target: expected a login request");
  const auto keys = proto::parse_text(pending_login_->data);
  const auto* type = keys ? proto::find_value(*keys, "SessionType") : nullptr;
  co_return type ? *type : std::string("Normal");  // Normal is the default (RFC 7143 §13.21)
}

namespace {

void require(bool holds, const std::string& what) {
  if (!holds) throw std::runtime_error("scripted target: " + what);
}

bool completes_login(const proto::pdu& request) {
  return request.transit() && request.nsg() == proto::login_stage::full_feature;
}

// The keys a login request offers, echoed the way a permissive target
// answers them; `stated` replaces the echoed value of each key it names.
proto::key_values login_answer(const proto::pdu& request, const proto::key_values& stated) {
  proto::key_values answer;
  for (const auto& [key, value] : proto::parse_text(request.data).value()) {
    if (key == "InitiatorName" || key == "InitiatorAlias" || key == "TargetName" || key == "SessionType") continue;
    if (const auto* own = proto::find_value(stated, key)) {
      answer.emplace_back(key, *own);
    } else if (key == "MaxRecvDataSegmentLength") {
      answer.emplace_back(key, "8192");
    } else if (key == "HeaderDigest" || key == "DataDigest") {
      answer.emplace_back(key, value.substr(0, value.find(',')));
    } else {
      answer.emplace_back(key, value);
    }
  }
  return answer;
}

// A successful Login Response to `request`, without text; TSIH `tsih` when
// it completes the login.
proto::pdu login_response_to(const proto::pdu& request, std::uint16_t tsih) {
  proto::pdu response(opcode::login_response);
  response.set_transit(request.transit());
  response.set_csg(request.csg());
  response.set_nsg(request.nsg());
  response.set_isid(request.isid());
  response.set_tsih(completes_login(request) ? tsih : 0);
  response.set_itt(request.itt());
  return response;
}

// A final Text Response to `request`, without text.
proto::pdu text_response_to(const proto::pdu& request) {
  proto::pdu response(opcode::text_response);
  response.set_final(true);
  response.set_itt(request.itt());
  response.set_ttt(proto::reserved_tag);  // final: no continuation to ask for
  return response;
}

// `keys` as text cut into `parts` pieces of about equal size, each cut in
// the middle of a pair (never right after a NUL).
std::vector<proto::byte_buffer> split_mid_pair(const proto::key_values& keys, int parts) {
  proto::byte_buffer text;
  proto::append_text(text, keys);
  std::vector<proto::byte_buffer> pieces;
  std::size_t from = 0;
  for (int k = 1; k < parts; ++k) {
    // The pair around the even cut: from the byte after the NUL before it to its own NUL.
    const std::size_t even = text.size() * static_cast<std::size_t>(k) / static_cast<std::size_t>(parts);
    std::size_t begin = even;
    while (begin > 0 && text[begin - 1] != 0) --begin;
    std::size_t end = even;
    while (end < text.size() && text[end] != 0) ++end;
    const std::size_t cut = begin + (end - begin) / 2;
    require(cut > from && text[cut - 1] != 0, "too little text to cut in " + std::to_string(parts) + " mid-pair");
    pieces.emplace_back(text.begin() + static_cast<std::ptrdiff_t>(from),
                        text.begin() + static_cast<std::ptrdiff_t>(cut));
    from = cut;
  }
  pieces.emplace_back(text.begin() + static_cast<std::ptrdiff_t>(from), text.end());
  return pieces;
}

// A part of a text that never ends: one endless key, nothing to parse.
proto::byte_buffer filler(std::size_t size) { return proto::byte_buffer(size, 'a'); }

void require_login_follow_up(const proto::pdu& request) {
  require(request.op() == opcode::login_request, "expected a login request for the rest of the text");
  require(request.data.empty(), "the request for the rest of the login text carries text");
  require(!request.transit(), "the request for the rest of the login text has T set");
}

// The TTT of a Text Response that continues: anything but the reserved 0xffffffff.
constexpr std::uint32_t continuing_ttt = 0x5eed;

void require_text_follow_up(const proto::pdu& request) {
  require(request.op() == opcode::text_request, "expected a Text request for the rest of the answer");
  require(request.data.empty(), "the request for the rest of the answer carries text");
  require(request.ttt() == continuing_ttt, "the request for the rest of the answer does not echo the TTT");
}

}  // namespace

asio::awaitable<void> scripted_connection::accept_login(std::uint16_t tsih, proto::key_values stated) {
  for (;;) {
    auto request = co_await next_login_request();
    require(request.op() == opcode::login_request, "expected a login request");
    auto response = login_response_to(request, tsih);
    proto::append_text(response.data, login_answer(request, stated));
    co_await send(std::move(response));
    if (completes_login(request)) co_return;
  }
}

asio::awaitable<void> scripted_connection::send_continued(int parts,
                                                          std::function<proto::pdu(int part, bool last)> response_for,
                                                          void (*check_follow_up)(const proto::pdu&)) {
  for (int part = 0; part < parts; ++part) {
    if (part > 0) check_follow_up(co_await receive());
    const bool last = part == parts - 1;
    auto response = response_for(part, last);
    if (!last) {
      response.set_continue_flag(true);
      response.set_final(false);  // F of a Text, T of a Login Response: one bit, never set with C
    }
    co_await send(std::move(response));
  }
}

asio::awaitable<void> scripted_connection::accept_login_in_parts(int parts, proto::key_values stated,
                                                                 std::uint16_t tsih) {
  const auto request = co_await next_login_request();
  require(request.op() == opcode::login_request, "expected a login request");
  const auto pieces = split_mid_pair(login_answer(request, stated), parts);
  auto part_of_answer = [&](int part, bool last) {
    auto response = login_response_to(request, last ? tsih : 0);  // TSIH only in the final response
    response.data = pieces[static_cast<std::size_t>(part)];
    return response;
  };
  co_await send_continued(parts, part_of_answer, require_login_follow_up);
  if (!completes_login(request)) co_await accept_login(tsih);  // later login steps: one PDU each
}

asio::awaitable<void> scripted_connection::continue_login_forever(std::size_t part_size) {
  const auto request = co_await next_login_request();
  require(request.op() == opcode::login_request, "expected a login request");
  auto endless_part = [&](int, bool) {
    auto response = login_response_to(request, 0);
    response.data = filler(part_size);
    return response;
  };
  co_await send_continued(endless_parts, endless_part, require_login_follow_up);
}

asio::awaitable<void> scripted_connection::refuse_login(std::uint8_t status_class, std::uint8_t status_detail,
                                                        proto::key_values keys) {
  auto request = co_await next_login_request();
  proto::pdu response(opcode::login_response);
  response.set_csg(request.csg());
  response.set_isid(request.isid());
  response.set_itt(request.itt());
  response.set_status_class(status_class);
  response.set_status_detail(status_detail);
  proto::append_text(response.data, keys);
  co_await send(std::move(response));
}

asio::awaitable<proto::pdu> scripted_connection::receive_send_targets_request() {
  auto request = co_await receive();
  require(request.op() == opcode::text_request, "expected a Text request");
  const auto asked = proto::parse_text(request.data);
  require(asked && proto::find_value(*asked, "SendTargets"), "expected SendTargets in the Text request");
  co_return request;
}

asio::awaitable<void> scripted_connection::answer_send_targets(proto::key_values answer) {
  const auto request = co_await receive_send_targets_request();
  auto response = text_response_to(request);
  proto::append_text(response.data, answer);
  co_await send(std::move(response));
}

asio::awaitable<void> scripted_connection::answer_send_targets_in_parts(proto::key_values answer, int parts) {
  const auto request = co_await receive_send_targets_request();
  const auto pieces = split_mid_pair(answer, parts);
  auto part_of_answer = [&](int part, bool last) {
    auto response = text_response_to(request);
    if (!last) response.set_ttt(continuing_ttt);  // the tag the initiator asks for the rest with
    response.data = pieces[static_cast<std::size_t>(part)];
    return response;
  };
  co_await send_continued(parts, part_of_answer, require_text_follow_up);
}

asio::awaitable<void> scripted_connection::continue_send_targets_forever(std::size_t part_size) {
  const auto request = co_await receive_send_targets_request();
  auto endless_part = [&](int, bool) {
    auto response = text_response_to(request);
    response.set_ttt(continuing_ttt);
    response.data = filler(part_size);
    return response;
  };
  co_await send_continued(endless_parts, endless_part, require_text_follow_up);
}

asio::awaitable<void> scripted_connection::serve_until_logout() {
  co_await serve([this](const proto::pdu& command) { return send(scsi_response_for(command, 0)); });
}

asio::awaitable<void> scripted_connection::serve(
    const std::function<asio::awaitable<void>(const proto::pdu& command)>& on_command) {
  for (;;) {
    auto request = co_await receive();
    switch (request.op()) {
      case opcode::nop_out: co_await answer_nop(request); break;
      case opcode::scsi_command: co_await on_command(request); break;
      case opcode::logout_request: {
        proto::pdu answer(opcode::logout_response);
        answer.set_final(true);
        answer.set_itt(request.itt());
        co_await send(std::move(answer));
        co_return;
      }
      default: break;
    }
  }
}

proto::byte_buffer scripted_disk::read(std::uint64_t offset, std::size_t length) const {
  std::lock_guard lock(mutex_);
  const std::uint64_t from = std::min<std::uint64_t>(offset, bytes_.size());
  const std::uint64_t to = std::min<std::uint64_t>(from + length, bytes_.size());
  return proto::byte_buffer(bytes_.begin() + static_cast<std::ptrdiff_t>(from),
                            bytes_.begin() + static_cast<std::ptrdiff_t>(to));
}

void scripted_disk::write(std::uint64_t offset, proto::byte_span data) {
  std::lock_guard lock(mutex_);
  if (offset >= bytes_.size()) return;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), bytes_.size() - offset));
  std::copy_n(data.begin(), n, bytes_.begin() + static_cast<std::ptrdiff_t>(offset));
}

void script_gate::open() {
  std::lock_guard lock(mutex_);
  open_ = true;
  // The timer belongs to the target's thread: cancelled there. It lives
  // until the wait ends, which only this cancel brings about.
  if (const auto timer = std::exchange(waiting_, nullptr))
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
}

asio::awaitable<void> script_gate::wait() {
  asio::steady_timer timer(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  {
    std::lock_guard lock(mutex_);
    if (open_) co_return;
    waiting_ = &timer;
  }
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

proto::pdu data_in_for(const proto::pdu& command, proto::byte_span data, std::uint32_t offset,
                       std::uint32_t data_sn) {
  proto::pdu p(opcode::data_in);
  p.set_lun(command.lun());
  p.set_itt(command.itt());
  p.set_ttt(proto::reserved_tag);
  p.set_data_sn(data_sn);
  p.set_buffer_offset(offset);
  p.data.assign(data.begin(), data.end());
  return p;
}

proto::pdu scsi_response_for(const proto::pdu& command, std::uint8_t status, proto::byte_span sense) {
  proto::pdu p(opcode::scsi_response);
  p.set_final(true);
  p.set_itt(command.itt());
  p.set_status(status);
  if (!sense.empty()) {
    p.data.resize(2);
    proto::store_be(p.data.data(), 2, sense.size());
    p.data.insert(p.data.end(), sense.begin(), sense.end());
  }
  return p;
}

proto::byte_buffer fixed_sense(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq) {
  proto::byte_buffer sense(18, 0);
  sense[0] = 0x70;
  sense[2] = key;
  sense[7] = 10;  // additional sense length: bytes 8-17
  sense[12] = asc;
  sense[13] = ascq;
  return sense;
}

namespace {

// SCSI opcodes and status bytes the disk knows.
constexpr std::uint8_t op_test_unit_ready = 0x00, op_inquiry = 0x12, op_read_capacity10 = 0x25,
                       op_synchronize_cache10 = 0x35, op_read16 = 0x88, op_write16 = 0x8a,
                       op_service_action_in16 = 0x9e, op_report_luns = 0xa0;
constexpr std::uint8_t status_good = 0x00, status_check_condition = 0x02;
// The Target Transfer Tag of the disk's R2Ts.
constexpr std::uint32_t write_ttt = 0x7777;

// What a read of `what` with allocation length `allocation` returns.
proto::byte_buffer at_most(proto::byte_buffer what, std::size_t allocation) {
  if (what.size() > allocation) what.resize(allocation);
  return what;
}

// The data an enumeration command (or TEST UNIT READY) asks of `disk`;
// nothing for a command it is not.
std::optional<proto::byte_buffer> enumeration_data(std::span<const std::uint8_t, 16> cdb, const scripted_disk& disk) {
  switch (cdb[0]) {
    case op_test_unit_ready: return proto::byte_buffer{};
    case op_report_luns: {
      proto::byte_buffer d(16, 0);  // one LUN, 0
      d[3] = 8;
      return at_most(std::move(d), proto::load_be32(&cdb[6]));
    }
    case op_inquiry: {
      const std::size_t allocation = proto::load_be16(&cdb[3]);
      if ((cdb[1] & 0x01) == 0) {  // standard data: a disk
        proto::byte_buffer d(36, ' ');
        std::fill_n(d.begin(), 8, std::uint8_t{0});
        d[2] = 0x05;  // SPC-3
        d[3] = 0x02;
        d[4] = 31;
        std::memcpy(&d[8], "ISENS   SCRIPTED DISK   0001", 28);
        return at_most(std::move(d), allocation);
      }
      if (cdb[2] == proto::vpd_unit_serial_number) {
        proto::byte_buffer d{0, proto::vpd_unit_serial_number, 0, 9};
        for (const char c : std::string_view("scripted0")) d.push_back(static_cast<std::uint8_t>(c));
        return at_most(std::move(d), allocation);
      }
      if (cdb[2] == proto::vpd_device_identification)
        return at_most({0, proto::vpd_device_identification, 0, 0}, allocation);
      if (cdb[2] == proto::vpd_supported_pages)  // no Block Limits, no provisioning page
        return at_most({0, proto::vpd_supported_pages, 0, 3, proto::vpd_supported_pages, proto::vpd_unit_serial_number,
                        proto::vpd_device_identification},
                       allocation);
      return std::nullopt;
    }
    case op_service_action_in16: {
      if ((cdb[1] & 0x1f) != 0x10) return std::nullopt;  // READ CAPACITY(16) only
      proto::byte_buffer d(32, 0);
      proto::store_be(&d[0], 8, disk.blocks() - 1);
      proto::store_be(&d[8], 4, disk.block_size());
      return at_most(std::move(d), proto::load_be32(&cdb[10]));
    }
    case op_read_capacity10: {
      proto::byte_buffer d(8, 0);
      proto::store_be(&d[0], 4, std::min<std::uint64_t>(disk.blocks() - 1, 0xffffffff));
      proto::store_be(&d[4], 4, disk.block_size());
      return d;
    }
    default: return std::nullopt;
  }
}

// The last command enumeration sends a disk that lists neither page 0xB0
// nor 0xB2: INQUIRY for the supported VPD pages, after READ CAPACITY.
bool is_last_of_enumeration(std::span<const std::uint8_t, 16> cdb) {
  return cdb[0] == op_inquiry && (cdb[1] & 0x01) != 0 && cdb[2] == proto::vpd_supported_pages;
}

}  // namespace

asio::awaitable<void> scripted_connection::answer_nop(const proto::pdu& request) {
  if (request.itt() == proto::reserved_tag) co_return;  // an answer to our own ping
  proto::pdu answer(opcode::nop_in);
  answer.set_final(true);
  answer.set_itt(request.itt());
  answer.set_ttt(proto::reserved_tag);
  co_await send(std::move(answer));
}

asio::awaitable<proto::pdu> scripted_connection::receive_command() {
  for (;;) {
    auto p = co_await receive();
    if (p.op() == opcode::scsi_command) co_return p;
    require(p.op() == opcode::nop_out, "expected a SCSI command, got " + std::string(proto::to_string(p.op())));
    co_await answer_nop(p);
  }
}

asio::awaitable<void> scripted_connection::answer_with_data(const proto::pdu& command, proto::byte_span data) {
  if (data.empty()) {
    co_await send(scsi_response_for(command, status_good));
    co_return;
  }
  co_await send_read_data(command, data);
}

asio::awaitable<void> scripted_connection::answer_enumeration(const scripted_disk& disk) {
  for (;;) {
    const auto command = co_await receive_command();
    const auto data = enumeration_data(command.cdb(), disk);
    if (!data) {
      co_await send(scsi_response_for(command, status_check_condition, fixed_sense(0x05, 0x20, 0x00)));
      continue;
    }
    co_await answer_with_data(command, *data);
    if (is_last_of_enumeration(command.cdb())) co_return;
  }
}

asio::awaitable<void> scripted_connection::answer_command(const proto::pdu& command, scripted_disk& disk) {
  const auto cdb = command.cdb();
  const std::uint64_t block_size = disk.block_size();
  if (cdb[0] == op_read16) {
    co_await send_read_data(command, disk.read(proto::load_be64(&cdb[2]) * block_size,
                                               proto::load_be32(&cdb[10]) * block_size));
  } else if (cdb[0] == op_write16) {
    co_await take_write_data(command, disk, proto::load_be64(&cdb[2]) * block_size);
  } else if (cdb[0] == op_synchronize_cache10) {
    co_await send(scsi_response_for(command, status_good));
  } else if (const auto data = enumeration_data(cdb, disk)) {
    co_await answer_with_data(command, *data);
  } else {
    co_await send(scsi_response_for(command, status_check_condition, fixed_sense(0x05, 0x20, 0x00)));
  }
}

asio::awaitable<void> scripted_connection::send_read_data(const proto::pdu& command, proto::byte_span data) {
  const std::uint32_t wanted = command.expected_data_transfer_length();
  const auto length = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), wanted));
  std::uint32_t data_sn = 0;
  for (std::uint32_t at = 0; at < length;) {
    const std::uint32_t n = std::min(data_in_size_, length - at);
    auto p = data_in_for(command, data.subspan(at, n), at, data_sn++);
    at += n;
    const bool last = at == length;
    if (last) {
      p.set_final(true);
      p.set_has_status(true);
      p.set_status(status_good);
      if (length < wanted) {
        p.set_residual_underflow(true);
        p.set_residual_count(wanted - length);
      }
    }
    co_await send(std::move(p), last);
  }
}

asio::awaitable<void> scripted_connection::take_data_out(const proto::pdu& command, scripted_disk& disk,
                                                         std::uint64_t offset) {
  for (;;) {
    const auto p = co_await receive();
    require(p.op() == opcode::data_out && p.itt() == command.itt(), "expected Data-Out of the write");
    disk.write(offset + p.buffer_offset(), p.data);
    if (p.is_final()) co_return;
  }
}

asio::awaitable<void> scripted_connection::take_write_data(const proto::pdu& command, scripted_disk& disk,
                                                           std::uint64_t offset) {
  const std::uint32_t length = command.expected_data_transfer_length();
  disk.write(offset, command.data);
  if (!command.is_final()) co_await take_data_out(command, disk, offset);  // unsolicited Data-Out (InitialR2T=No)
  const auto immediate = static_cast<std::uint32_t>(command.data.size());
  if (immediate < length) {
    proto::pdu r2t(opcode::r2t);
    r2t.set_final(true);
    r2t.set_lun(command.lun());
    r2t.set_itt(command.itt());
    r2t.set_ttt(write_ttt);
    r2t.set_r2t_sn(0);
    r2t.set_buffer_offset(immediate);
    r2t.set_desired_data_transfer_length(length - immediate);
    co_await send(std::move(r2t), false);
    co_await take_data_out(command, disk, offset);
  }
  co_await send(scsi_response_for(command, status_good));
}

asio::awaitable<void> scripted_connection::serve_disk_until_logout(scripted_disk& disk) {
  co_await serve([&](const proto::pdu& command) { return answer_command(command, disk); });
}

asio::awaitable<void> scripted_connection::drain() {
  for (;;) (void)co_await receive();
}

namespace {

// Parameters by value: the coroutine frame owns the connection and script.
asio::awaitable<void> run_script(std::shared_ptr<scripted_connection> conn, scripted_target::script script) {
  try {
    co_await script(*conn);
  } catch (const std::exception&) {
    // The initiator closed the connection, or the script gave up: either ends this connection.
  }
}

}  // namespace

scripted_target::scripted_target(script per_connection)
    : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), script_(std::move(per_connection)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

scripted_target::~scripted_target() {
  io_.stop();
  thread_.join();
}

asio::awaitable<void> scripted_target::accept_loop() {
  for (;;) {
    auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
    ++accepted_;
    auto conn = std::make_shared<scripted_connection>(std::move(socket));
    asio::co_spawn(io_, run_script(conn, script_), asio::detached);
  }
}

}  // namespace isens::test
