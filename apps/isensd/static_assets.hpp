#pragma once
// The dashboard's files (apps/isensd/www), built into isensd by
// cmake/embed_files.cmake: nothing is read from disk or fetched from the
// internet at run time.

#include "http_server.hpp"

#include <string_view>
#include <vector>

namespace isens::daemon {

/// One file built into the binary.
struct embedded_file {
  std::string_view path;  ///< "/index.html", relative to the www folder
  std::string_view bytes;
};

/// Every file of the www folder (generated code).
const std::vector<embedded_file>& embedded_files();

/// The Content-Type for a file name, from its extension.
std::string_view content_type_for(std::string_view path);

/// Routes every embedded file at its path, and "/" to index.html.
void add_static_routes(http_server& server);

}  // namespace isens::daemon
