#pragma once
// Where isensd keeps its socket and state by default, shared with isensctl
// so both agree without configuration: /run and /var/lib for root, the XDG
// runtime and state directories otherwise.

#include <filesystem>

namespace isens::apps {

// The control socket isensd listens on and isensctl talks to.
std::filesystem::path default_socket_path();
// The directory for the journal and registered sessions.
std::filesystem::path default_state_dir();

}  // namespace isens::apps
