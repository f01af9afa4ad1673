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

asio::awaitable<void> scripted_connection::accept_login(std::uint16_t tsih) {
  for (;;) {
    auto request = co_await next_login_request();
    if (request.op() != opcode::login_request) throw std::runtime_error("scripted target: expected a login request");
    auto keys = proto::parse_text(request.data);
    proto::key_values answer;
    for (const auto& [key, value] : keys.value()) {
      if (key == "InitiatorName" || key == "InitiatorAlias" || key == "TargetName" || key == "SessionType") continue;
      if (key == "MaxRecvDataSegmentLength") {
        answer.emplace_back(key, "8192");
      } else if (key == "HeaderDigest" || key == "DataDigest") {
        answer.emplace_back(key, value.substr(0, value.find(',')));
      } else {
        answer.emplace_back(key, value);
      }
    }
    proto::pdu response(opcode::login_response);
    response.set_transit(request.transit());
    response.set_csg(request.csg());
    response.set_nsg(request.nsg());
    response.set_isid(request.isid());
    response.set_tsih(request.transit() && request.nsg() == proto::login_stage::full_feature ? tsih : 0);
    response.set_itt(request.itt());
    proto::append_text(response.data, answer);
    co_await send(std::move(response));
    if (request.transit() && request.nsg() == proto::login_stage::full_feature) co_return;
  }
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

asio::awaitable<void> scripted_connection::answer_send_targets(proto::key_values answer) {
  auto request = co_await receive();
  if (request.op() != opcode::text_request) throw std::runtime_error("scripted target: expected a Text request");
  const auto asked = proto::parse_text(request.data);
  if (!asked || !proto::find_value(*asked, "SendTargets"))
    throw std::runtime_error("scripted target: expected SendTargets in the Text request");
  proto::pdu response(opcode::text_response);
  response.set_final(true);
  response.set_itt(request.itt());
  response.set_ttt(proto::reserved_tag);  // final: no continuation to ask for
  proto::append_text(response.data, answer);
  co_await send(std::move(response));
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
