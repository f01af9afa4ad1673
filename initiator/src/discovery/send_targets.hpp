#pragma once
// SendTargets discovery (RFC 7143 §4.3, Appendix C): a discovery session
// that asks for every target and its portals, then logs out.

#include "isens/initiator/types.hpp"
#include "protocol/text_keys.hpp"
#include "session/initiator_context.hpp"

#include <boost/asio/awaitable.hpp>

namespace isens::initiator::detail {

// Logs in a discovery session, sends SendTargets=All, logs out.
boost::asio::awaitable<result<std::vector<discovered_target>>> send_targets(initiator_context& context,
                                                                            const discovery_options& options);

// Groups SendTargets response keys: each TargetName starts a target, each
// TargetAddress after it adds a portal.
result<std::vector<discovered_target>> parse_send_targets(const protocol::key_values& keys);

}  // namespace isens::initiator::detail
