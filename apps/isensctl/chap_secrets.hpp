#pragma once
// Where isensctl's CHAP secrets come from. On the command line
// (--chap-secret) a secret is visible to every user of the host (ps,
// /proc/PID/cmdline) and lands in shell history, so isensctl warns and
// offers three other ways: --chap-secret-file (mode 0600 or stricter, owned
// by the caller or root), the environment (ISENS_CHAP_SECRET,
// ISENS_CHAP_TARGET_SECRET), or a prompt on the terminal.

#include "standalone_commands.hpp"

namespace isensctl {

/// The variable read for the initiator's CHAP secret.
inline constexpr const char* chap_secret_variable = "ISENS_CHAP_SECRET";
/// The variable read for the target's CHAP secret (mutual CHAP).
inline constexpr const char* chap_target_secret_variable = "ISENS_CHAP_TARGET_SECRET";

/// Fills o.chap_secret and o.chap_target_secret for each user name given:
/// from the command line (with a warning), a secret file, the environment,
/// or a prompt, in that order; more than one of the first two is refused.
/// Returns 0, or the exit code after one line on stderr (2: the secret
/// cannot be had, or its file is refused).
int resolve_chap_secrets(standalone_options& o);

}  // namespace isensctl
