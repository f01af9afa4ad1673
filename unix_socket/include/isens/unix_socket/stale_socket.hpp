#pragma once
// Before a server binds a Unix socket path: a file there that nobody
// answers on was left by a process that died without removing it, and goes;
// one a live process answers on stays, so two servers never share a path.

#include <filesystem>

namespace isens::unix_socket {

/// Removes the socket file at `path` when no process accepts connections on
/// it. True when the path is free to bind (nothing was there, or the stale
/// file is gone); false when something listens there (the file is kept).
bool remove_if_stale(const std::filesystem::path& path);

}  // namespace isens::unix_socket
