#pragma once
// SendTargets discovery (RFC 7143 §4.3, Appendix C): a discovery session
// that asks for every target and its portals, then logs out.

#include "isens/initiator/types.hpp"
#include "protocol/text_keys.hpp"
#include "session/initiator_context.hpp"

#include <boost/asio/awaitable.hpp>

namespace isens::initiator::detail {

// How a discovery session uses the CHAP credentials it is given.
enum class discovery_auth : std::uint8_t {
  chap,           // AuthMethod=CHAP: the caller asked for CHAP
  chap_if_asked,  // AuthMethod=CHAP,None: the target decides (a session's credentials)
};

// Logs in a discovery session, sends SendTargets=All, logs out.
boost::asio::awaitable<result<std::vector<discovered_target>>> send_targets(
    initiator_context& context, const discovery_options& options, discovery_auth auth = discovery_auth::chap);

// Groups SendTargets response keys: each TargetName starts a target, each
// TargetAddress after it adds a portal.
result<std::vector<discovered_target>> parse_send_targets(const protocol::key_values& keys);

}  // namespace isens::initiator::detail
