#include "scripted_target.hpp"

#include "protocol/text_keys.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

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
  p.set_max_cmd_sn(exp_cmd_sn_ + 16);
}

asio::awaitable<void> scripted_connection::send(proto::pdu p, bool advance_stat_sn) {
  stamp(p, advance_stat_sn);
  co_await send_raw(proto::encode(p, {}));
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

asio::awaitable<void> scripted_connection::accept_login(std::uint16_t tsih) {
  for (;;) {
    auto request = co_await next_login_request();
    require(request.op() == opcode::login_request, "expected a login request");
    auto response = login_response_to(request, tsih);
    proto::append_text(response.data, login_answer(request, {}));
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
  for (;;) {
    auto request = co_await receive();
    switch (request.op()) {
      case opcode::nop_out: {
        if (request.itt() == proto::reserved_tag) break;  // an answer to our own ping
        proto::pdu answer(opcode::nop_in);
        answer.set_final(true);
        answer.set_itt(request.itt());
        answer.set_ttt(proto::reserved_tag);
        co_await send(std::move(answer));
        break;
      }
      case opcode::scsi_command: {
        proto::pdu answer(opcode::scsi_response);
        answer.set_final(true);
        answer.set_itt(request.itt());
        answer.set_status(0);
        co_await send(std::move(answer));
        break;
      }
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
