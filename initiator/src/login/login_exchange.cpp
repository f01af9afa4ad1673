#include "login/login_exchange.hpp"

#include "protocol/chap.hpp"
#include "protocol/login_status.hpp"
#include "protocol/pdu.hpp"
#include "protocol/text_keys.hpp"
#include "transport/pdu_stream.hpp"

#include <charconv>

namespace isens::initiator::detail {
namespace {

namespace asio = boost::asio;
using protocol::login_stage;
using protocol::opcode;

// Login responses are small; a target that announces more is misbehaving.
constexpr std::uint32_t login_max_recv_data_segment_length = 65536;
// The ITT of every PDU of a login task (only one login runs per connection).
constexpr std::uint32_t login_itt = 0x10000000;

class login_conversation {
 public:
  login_conversation(asio::ip::tcp::socket& socket, const login_request& request)
      : socket_(socket), request_(request) {}

  // Sends one login request with `text` (key=value pairs, see request_text)
  // and collects the whole response text (following C-bit continuations,
  // within the bounds of check_continued_text).
  // Sets `last_` to the final response PDU. The pairs are views of the
  // response, valid until the next exchange.
  asio::awaitable<result<protocol::key_value_views>> exchange(login_stage csg, bool transit, login_stage nsg,
                                                              protocol::byte_buffer text) {
    collected_.clear();
    for (int continuations = 0;;) {
      auto sent = co_await transport::write_bytes(socket_, request_bytes(csg, transit, nsg, std::move(text)));
      if (!sent) co_return sent.error();
      auto response = co_await transport::read_pdu(socket_, {}, login_max_recv_data_segment_length);
      if (!response) co_return response.error();
      if (response->op() != opcode::login_response)
        co_return make_error(errc::unexpected_pdu, "expected a login response, got " +
                                                       std::string(protocol::to_string(response->op())));
      exp_stat_sn_ = response->stat_sn() + 1;
      if (auto status = protocol::check_login_status(response->status_class(), response->status_detail()); !status) {
        redirected_ = response->status_class() == 0x01;
        last_ = std::move(*response);
        if (redirected_) co_return parse_keys(last_->data);
        co_return status.error();
      }
      const bool more = response->continue_flag();
      last_ = std::move(*response);
      if (!more && collected_.empty()) co_return parse_keys(last_->data);  // the usual case: one response PDU
      if (more) ++continuations;
      if (auto bounded = protocol::check_continued_text("the login response text", continuations,
                                                        collected_.size() + last_->data.size());
          !bounded)
        co_return bounded.error();
      collected_.insert(collected_.end(), last_->data.begin(), last_->data.end());
      if (!more) break;
      text.clear();  // an empty request asks for the rest of the text (RFC 7143 §6.2)
      transit = false;
    }
    co_return parse_keys(collected_);
  }

  const protocol::pdu& last() const { return *last_; }
  bool redirected() const noexcept { return redirected_; }
  std::uint32_t exp_stat_sn() const noexcept { return exp_stat_sn_; }

 private:
  static result<protocol::key_value_views> parse_keys(const protocol::byte_buffer& text) {
    auto keys = protocol::parse_text_views(text);
    if (!keys) return make_error(errc::malformed_text, "malformed login response text: " + keys.error().what());
    return keys;
  }

  // The encoded Login request carrying `text`.
  protocol::byte_buffer request_bytes(login_stage csg, bool transit, login_stage nsg, protocol::byte_buffer text) const {
    protocol::pdu p(opcode::login_request);
    p.set_transit(transit);
    p.set_csg(csg);
    p.set_nsg(transit ? nsg : login_stage::security);
    p.set_version_max(0);
    p.set_version_min(0);
    p.set_isid(request_.isid);
    p.set_tsih(request_.tsih);
    p.set_itt(login_itt);
    p.set_cid(request_.cid);
    p.set_cmd_sn(request_.cmd_sn);
    p.set_exp_stat_sn(exp_stat_sn_);
    p.data = std::move(text);
    return protocol::encode(p, {});
  }

  asio::ip::tcp::socket& socket_;
  const login_request& request_;
  std::optional<protocol::pdu> last_;
  protocol::byte_buffer collected_;  // the text of a response sent in several PDUs
  std::uint32_t exp_stat_sn_ = 0;
  bool redirected_ = false;
};

// `keys` as login request text.
protocol::byte_buffer request_text(const protocol::key_values& keys) {
  protocol::byte_buffer text;
  protocol::append_text(text, keys);
  return text;
}

// The text of the keys that name who logs in where, to which the first
// request of a stage adds its own keys; AuthMethod only when the security
// stage is used. Written straight into the text: the values are the
// request's own strings, not worth copying into a key_values first.
protocol::byte_buffer identity_text(const login_request& request, std::string_view auth_method) {
  protocol::byte_buffer text;
  text.reserve(512);  // the whole first request of a login, usually
  protocol::append_text(text, "InitiatorName", request.initiator_name);
  if (!request.initiator_alias.empty()) protocol::append_text(text, "InitiatorAlias", request.initiator_alias);
  if (request.type == protocol::session_type::discovery) {
    protocol::append_text(text, "SessionType", "Discovery");
  } else {
    protocol::append_text(text, "SessionType", "Normal");
    protocol::append_text(text, "TargetName", request.target_name);
  }
  if (!auth_method.empty()) protocol::append_text(text, "AuthMethod", auth_method);
  return text;
}

std::string value_or_empty(const protocol::key_value_views& keys, std::string_view key) {
  const auto* v = protocol::find_value(keys, key);
  return v ? std::string(*v) : std::string{};
}

result<login_result> redirect_result(const protocol::key_value_views& keys) {
  const auto* address = protocol::find_value(keys, "TargetAddress");
  if (!address) return make_error(errc::redirect_failed, "the target redirected the login without a TargetAddress");
  auto where = parse_target_address(*address);
  if (!where)
    return make_error(errc::redirect_failed, "the target redirected to an invalid address: " + std::string(*address));
  login_result out;
  out.redirect = where->address;
  return out;
}


// The CHAP exchange of the security stage (RFC 7143 §12.1.3): CHAP_A, then
// our response, then (mutual) the target's. Returns the auth type to show.
asio::awaitable<result<std::string>> run_chap(login_conversation& conversation, const login_request& request) {
  std::optional<protocol::chap_credentials> target_side;
  if (request.mutual_chap) target_side = protocol::chap_credentials{request.mutual_chap->user, request.mutual_chap->secret};
  protocol::chap_initiator chap({request.chap->user, request.chap->secret}, target_side);

  protocol::key_values answer;
  {  // the challenge is views of the response: it must not outlive the next exchange
    auto challenge =
        co_await conversation.exchange(login_stage::security, false, login_stage::security, request_text(chap.start()));
    if (!challenge) co_return challenge.error();
    auto response = chap.respond(protocol::to_key_values(*challenge));
    if (!response) co_return response.error();
    answer = std::move(*response);
  }

  auto verdict =
      co_await conversation.exchange(login_stage::security, true, login_stage::operational, request_text(answer));
  if (!verdict) {
    if (verdict.error().code == make_error_code(errc::login_auth_failed))
      co_return make_error(errc::login_auth_failed,
                           "authentication failed: the target rejected CHAP user \"" + request.chap->user + "\"");
    co_return verdict.error();
  }
  if (chap.mutual()) {
    if (auto checked = chap.verify_target(protocol::to_key_values(*verdict)); !checked)
      co_return make_error(errc::target_auth_failed, "mutual CHAP failed: the target's response does not match its secret");
  }
  co_return std::string(chap.mutual() ? "Mutual CHAP" : "CHAP");
}

// A portal group tag: a number up to 65535.
std::optional<std::uint16_t> portal_group_tag_of(std::string_view text) {
  unsigned tpgt = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), tpgt);
  if (ec != std::errc{} || end != text.data() + text.size() || tpgt > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(tpgt);
}

error with_chap_hint(const error& e) {
  if (e.code != make_error_code(errc::login_auth_failed)) return e;
  return make_error(errc::login_auth_failed, e.what() + "; the target may require CHAP credentials");
}

}  // namespace

result<target_portal> parse_target_address(std::string_view value) {
  target_portal out;
  auto address = value;
  if (const auto comma = value.rfind(','); comma != std::string_view::npos) {
    const auto tpgt = portal_group_tag_of(value.substr(comma + 1));
    if (!tpgt)
      return make_error(errc::malformed_text, "bad portal group tag in TargetAddress \"" + std::string(value) + "\"");
    out.portal_group_tag = *tpgt;
    address = value.substr(0, comma);
  }
  auto where = portal::parse(address);
  if (!where) return make_error(errc::malformed_text, "bad TargetAddress \"" + std::string(value) + "\"");
  out.address = std::move(*where);
  return out;
}


asio::awaitable<result<login_result>> run_login(asio::ip::tcp::socket& socket, const login_request& request) {
  login_conversation conversation(socket, request);
  login_result out;
  out.auth_type = "None";

  // --- security stage -------------------------------------------------------
  // Without CHAP there is nothing to negotiate there: RFC 7143 §6.3 lets the
  // login start in the operational stage, which saves a round trip.
  const bool use_chap = request.chap.has_value();
  const bool security_stage = use_chap || !request.skip_security_stage_without_chap;
  // TargetPortalGroupTag comes in the target's first response (RFC 7143
  // §13.9); the negotiator sees it only when that is an operational one.
  std::optional<std::uint16_t> first_portal_group_tag;
  if (security_stage) {
    std::string auth_answer;
    const std::string_view offer = !use_chap ? "None" : request.chap_optional ? "CHAP,None" : "CHAP";
    {  // the keys are views of the response: they must not outlive the next exchange
      auto keys = co_await conversation.exchange(login_stage::security, !use_chap, login_stage::operational,
                                                 identity_text(request, offer));
      if (!keys) co_return use_chap ? keys.error() : with_chap_hint(keys.error());
      if (conversation.redirected()) co_return redirect_result(*keys);
      auth_answer = value_or_empty(*keys, "AuthMethod");
      if (const auto* tag = protocol::find_value(*keys, "TargetPortalGroupTag")) {
        first_portal_group_tag = portal_group_tag_of(*tag);
        if (!first_portal_group_tag)
          co_return make_error(errc::negotiation_failed, "bad TargetPortalGroupTag \"" + std::string(*tag) + "\"");
      }
    }
    if (!use_chap && !auth_answer.empty() && auth_answer != "None")
      co_return make_error(errc::login_auth_failed,
                           "the target requires authentication (AuthMethod=" + auth_answer + "); give CHAP credentials");
    // Offered CHAP,None and the target asks for none: nothing to authenticate.
    const bool chap_waived = use_chap && request.chap_optional && auth_answer == "None";
    if (use_chap && !chap_waived) {
      if (auth_answer != "CHAP")
        co_return make_error(errc::login_auth_failed, "the target does not accept CHAP (AuthMethod=" + auth_answer + ")");
      auto authenticated = co_await run_chap(conversation, request);
      if (!authenticated) co_return authenticated.error();
      out.auth_type = *authenticated;
    }
    // The target may stay in the security stage one more round before moving on.
    for (int round = 0; conversation.last().csg() == login_stage::security && !conversation.last().transit(); ++round) {
      if (round == 4) co_return make_error(errc::negotiation_failed, "the target did not leave the security stage");
      auto more = co_await conversation.exchange(login_stage::security, true, login_stage::operational, {});
      if (!more) co_return more.error();
    }
  }

  // --- operational stage ----------------------------------------------------
  protocol::negotiator negotiator(request.preferences);
  auto text = security_stage ? protocol::byte_buffer{} : identity_text(request, "");
  negotiator.append_offer(text, request.type, request.tsih == 0);
  for (int round = 0;; ++round) {
    if (round == 8) co_return make_error(errc::negotiation_failed, "the target did not finish negotiating in 8 rounds");
    auto answer =
        co_await conversation.exchange(login_stage::operational, true, login_stage::full_feature, std::move(text));
    if (!answer) co_return security_stage ? answer.error() : with_chap_hint(answer.error());
    if (conversation.redirected()) co_return redirect_result(*answer);
    if (auto applied = negotiator.apply_response_views(*answer); !applied) co_return applied.error();
    const auto answers = negotiator.answers_to_target_offers();
    const auto& last = conversation.last();
    if (last.transit() && last.nsg() == login_stage::full_feature && answers.empty()) break;
    text = request_text(answers);
  }
  if (auto finished = negotiator.finish(); !finished) co_return finished.error();

  const auto& final_response = conversation.last();
  out.tsih = final_response.tsih();
  out.exp_stat_sn = conversation.exp_stat_sn();
  out.exp_cmd_sn = final_response.exp_cmd_sn();
  out.max_cmd_sn = final_response.max_cmd_sn();
  out.parameters = negotiator.parameters();
  if (!out.parameters.target_portal_group_tag) out.parameters.target_portal_group_tag = first_portal_group_tag;
  co_return out;
}

}  // namespace isens::initiator::detail
