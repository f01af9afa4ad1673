#pragma once
// `isensctl exports`: the NBD exports isensd serves.

#include "daemon_commands.hpp"

namespace isensctl {

// Lists every export with its URI, size, block sizes and clients attached.
int cmd_exports(const daemon_options& o);

}  // namespace isensctl
