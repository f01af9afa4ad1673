#pragma once
// Login options for the standard tgtd target of tests/support.

#include "tgtd_target.hpp"

#include <isens/initiator/types.hpp>

namespace isens::test {

// Logs in to the standard target; `enumerate` asks for LUN enumeration
// (session_ready), which most tests do not need.
inline initiator::login_options standard_login(const tgtd_target& target, bool enumerate = true) {
  initiator::login_options o;
  o.target_portal = {"127.0.0.1", target.port()};
  o.target_name = std::string(standard_iqn);
  o.enumerate_luns = enumerate;
  return o;
}

// The same, without LUN enumeration.
inline initiator::login_options quick_login(const tgtd_target& target) { return standard_login(target, false); }

}  // namespace isens::test
