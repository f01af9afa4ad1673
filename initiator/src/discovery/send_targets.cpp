#include "discovery/send_targets.hpp"

#include "login/login_exchange.hpp"
#include "protocol/pdu.hpp"
#include "protocol/text_keys.hpp"
#include "transport/deadline.hpp"
#include "transport/pdu_stream.hpp"
#include "transport/tcp_connect.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace isens::initiator::detail {

namespace asio = boost::asio;
using protocol::opcode;

namespace {

constexpr std::uint32_t discovery_itt = 1;
// Discovery answers can be long (many targets); accept large segments.
constexpr std::uint32_t discovery_max_recv = 262144;

struct discovery_channel {
  asio::ip::tcp::socket& socket;
  protocol::digest_settings digests;
  std::uint32_t cmd_sn;
  std::uint32_t exp_stat_sn;

  asio::awaitable<result<protocol::pdu>> request(protocol::pdu p, opcode expected) {
    p.set_itt(discovery_itt);
    p.set_cmd_sn(cmd_sn);
    p.set_exp_stat_sn(exp_stat_sn);
    if (auto sent = co_await transport::write_bytes(socket, protocol::encode(p, digests)); !sent) co_return sent.error();
    for (;;) {
      auto answer = co_await transport::read_pdu(socket, digests, discovery_max_recv);
      if (!answer) co_return answer.error();
      exp_stat_sn = answer->stat_sn() + 1;
      if (answer->op() == opcode::nop_in) continue;  // a target ping during discovery: not ours to answer here
      if (answer->op() != expected)
        co_return make_error(errc::unexpected_pdu, "expected " + std::string(protocol::to_string(expected)) + ", got " +
                                                       std::string(protocol::to_string(answer->op())));
      co_return answer;
    }
  }
};

// Logs in to a discovery session on the connected `socket`, asks SendTargets=All, logs out.
asio::awaitable<result<std::vector<discovered_target>>> discover_on(asio::ip::tcp::socket& socket,
                                                                   initiator_context& context,
                                                                   const discovery_options& options,
                                                                   discovery_auth auth) {
  login_request request;
  request.type = protocol::session_type::discovery;
  request.initiator_name = context.options.initiator_name;
  request.initiator_alias = context.options.initiator_alias;
  request.isid = make_isid(context);
  request.cmd_sn = 1;
  request.chap = options.chap;
  request.mutual_chap = options.mutual_chap;
  request.chap_optional = auth == discovery_auth::chap_if_asked;
  auto login = co_await run_login(socket, request);
  if (!login) co_return login.error();
  if (login->redirect) {
    co_return make_error(errc::redirect_failed,
                         "the discovery portal redirected to " + login->redirect->to_string() + "; discover there");
  }

  discovery_channel channel{socket,
                            {login->parameters.header_digest == protocol::digest_type::crc32c,
                             login->parameters.data_digest == protocol::digest_type::crc32c},
                            login->exp_cmd_sn,
                            login->exp_stat_sn};

  protocol::byte_buffer text;
  std::uint32_t ttt = protocol::reserved_tag;
  protocol::append_text(text, "SendTargets", "All");
  protocol::byte_buffer collected;
  for (int continuations = 0;;) {
    protocol::pdu ask(opcode::text_request);
    ask.set_final(true);
    ask.set_ttt(ttt);
    ask.data = std::move(text);
    auto answer = co_await channel.request(std::move(ask), opcode::text_response);
    if (!answer) co_return answer.error();
    ++channel.cmd_sn;
    const bool more = answer->continue_flag();
    if (more) ++continuations;
    if (auto bounded = protocol::check_continued_text("the SendTargets answer", continuations,
                                                      collected.size() + answer->data.size());
        !bounded)
      co_return bounded.error();
    collected.insert(collected.end(), answer->data.begin(), answer->data.end());
    if (!more) break;
    ttt = answer->ttt();  // more follows: ask for it with an empty request
    text.clear();
  }

  protocol::pdu bye(opcode::logout_request);
  bye.set_immediate(true);
  bye.set_final(true);
  bye.set_reason_code(0);
  (void)co_await channel.request(std::move(bye), opcode::logout_response);  // the answer is already in hand

  auto keys = protocol::parse_text(collected);
  if (!keys) co_return make_error(errc::malformed_text, "malformed SendTargets answer: " + keys.error().what());
  co_return parse_send_targets(*keys);
}

}  // namespace

result<std::vector<discovered_target>> parse_send_targets(const protocol::key_values& keys) {
  std::vector<discovered_target> targets;
  for (const auto& [key, value] : keys) {
    if (key == "TargetName") {
      targets.push_back({value, {}});
    } else if (key == "TargetAddress") {
      if (targets.empty())
        return make_error(errc::malformed_text, "SendTargets answer has a TargetAddress before any TargetName");
      auto where = parse_target_address(value);
      if (!where) return where.error();
      targets.back().portals.push_back(*where);
    }
  }
  return targets;
}

namespace {

// Runs on a serial executor, as a socket_deadline needs.
asio::awaitable<result<std::vector<discovered_target>>> discover_within_limits(initiator_context& context,
                                                                              discovery_options options,
                                                                              discovery_auth auth) {
  asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
  const auto& where = options.discovery_portal;
  // One deadline bounds the connect, then the discovery session.
  transport::socket_deadline deadline(socket, context.options.connect_timeout);
  if (auto connected = co_await transport::tcp_connect(socket, where, deadline); !connected)
    co_return connected.error();
  deadline.restart(context.options.login_timeout);
  auto found = co_await discover_on(socket, context, options, auth);
  if (found || !deadline.expired()) co_return found;
  co_return make_error(errc::login_timeout, "discovery at " + where.to_string() + " took longer than " +
                                                std::to_string(context.options.login_timeout.count()) + " ms");
}

}  // namespace

asio::awaitable<result<std::vector<discovered_target>>> send_targets(initiator_context& context,
                                                                    const discovery_options& options,
                                                                    discovery_auth auth) {
  // The caller may be on another executor: hop onto a serial one.
  const auto serial = context.options.single_threaded ? context.executor
                                                      : asio::any_io_executor(asio::make_strand(context.executor));
  co_return co_await asio::co_spawn(serial, discover_within_limits(context, options, auth), asio::use_awaitable);
}

}  // namespace isens::initiator::detail
