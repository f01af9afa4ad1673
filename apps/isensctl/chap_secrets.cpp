#include "chap_secrets.hpp"

#include "secret_source.hpp"

#include <cstdlib>
#include <iostream>

namespace isensctl {
namespace {

// One secret: the user it belongs to, where it may come from, and the flag
// names for messages.
struct secret_slot {
  const std::string& user;
  std::string& secret;
  const std::string& file;
  const char* variable;
  const char* flag;       // "--chap-secret"
  const char* user_flag;  // "--chap-user"
  const char* whose;      // for the prompt
};

void resolve(const secret_slot& s) {
  if (!s.secret.empty() && !s.file.empty())
    throw isens::apps::secret_error(std::string("give ") + s.flag + " or " + s.flag + "-file, not both");
  if (!s.secret.empty()) {
    std::cerr << "isensctl: warning: " << s.flag << " on the command line is visible to other users (ps, /proc) and "
              << "stays in shell history; use " << s.flag << "-file FILE, " << s.variable << " or the prompt\n";
    return;
  }
  if (!s.file.empty()) {
    s.secret = isens::apps::read_secret_file(s.file);
    return;
  }
  if (s.user.empty()) return;  // no CHAP of this kind: nothing to ask for
  if (const char* value = std::getenv(s.variable); value != nullptr && *value != '\0') {
    s.secret = value;
    return;
  }
  if (!isens::apps::can_prompt())
    throw isens::apps::secret_error(std::string(s.user_flag) + " " + s.user + " needs a secret: " + s.flag +
                                    "-file FILE, " + s.variable + ", or a terminal to ask on (" + s.flag + " works too, visibly)");
  s.secret = isens::apps::prompt_secret(std::string(s.whose) + " for " + s.user);
}

}  // namespace

int resolve_chap_secrets(standalone_options& o) {
  try {
    resolve({o.chap_user, o.chap_secret, o.chap_secret_file, chap_secret_variable, "--chap-secret", "--chap-user",
             "CHAP secret"});
    resolve({o.chap_target_user, o.chap_target_secret, o.chap_target_secret_file, chap_target_secret_variable,
             "--chap-target-secret", "--chap-target-user", "the target's CHAP secret"});
  } catch (const isens::apps::secret_error& e) {
    std::cerr << "isensctl: " << e.what() << '\n';
    return 2;
  }
  return 0;
}

}  // namespace isensctl
