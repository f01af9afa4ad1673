#pragma once
// The login phase of one connection (RFC 7143 §6): the security stage
// (AuthMethod None or CHAP, one-way or mutual), then operational
// negotiation, up to full-feature phase. Runs on a connected socket before
// the connection's reader loop exists, so it reads its own responses.

#include "isens/initiator/error.hpp"
#include "isens/initiator/types.hpp"
#include "protocol/negotiation.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>

namespace isens::initiator::detail {

// What one login asks for.
struct login_request {
  protocol::session_type type = protocol::session_type::normal;
  std::string initiator_name;
  std::string initiator_alias;
  std::string target_name;  // empty for discovery
  std::uint64_t isid = 0;
  std::uint16_t tsih = 0;   // 0: a new session (or reinstatement); else: add a connection
  std::uint16_t cid = 0;
  std::uint32_t cmd_sn = 0;
  std::optional<chap_credentials> chap;
  std::optional<chap_credentials> mutual_chap;
  // With chap: offer AuthMethod "CHAP,None" and let the target choose (a
  // discovery with a session's credentials, where the target may ask none).
  // A target that chooses None is then not authenticated, mutual CHAP or not.
  bool chap_optional = false;
  protocol::initiator_preferences preferences;
  // Start in the operational stage when there is no CHAP (one round trip
  // less). Only for a brand-new session: targets such as tgt match an added
  // connection or a reinstated ISID to its session when the security stage ends.
  bool skip_security_stage_without_chap = true;
};

// What a finished login established.
struct login_result {
  std::uint16_t tsih = 0;
  std::uint32_t exp_stat_sn = 0;  // StatSN of the final response + 1
  std::uint32_t exp_cmd_sn = 0;
  std::uint32_t max_cmd_sn = 0;
  protocol::operational_parameters parameters;
  std::string auth_type;            // "None", "CHAP", "Mutual CHAP"
  std::optional<portal> redirect;   // set when the target redirected: log in there instead
};

// Runs the whole login exchange on `socket`. Errors name the failing step
// (login status, negotiation, CHAP) and never contain a secret.
boost::asio::awaitable<result<login_result>> run_login(boost::asio::ip::tcp::socket& socket,
                                                       const login_request& request);

// Parses a TargetAddress value: "host[:port][,tpgt]".
result<target_portal> parse_target_address(std::string_view value);

}  // namespace isens::initiator::detail
