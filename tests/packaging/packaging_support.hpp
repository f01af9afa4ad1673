// What the packaging tests share: running the build's own cmake and cpack,
// and listing what an install put where.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace isens::test::packaging {

/// Runs argv (PATH lookup) and returns its output; throws naming the command and its output on failure.
std::string checked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::minutes{3});

/// `cmake --install` of this build tree into `prefix`; returns its output.
std::string install_into(const std::filesystem::path& prefix);

/// Every regular file and symlink under `root`, as paths relative to it, sorted.
std::vector<std::string> files_under(const std::filesystem::path& root);

/// The environment and arguments that configure a CMake project with this build's compiler (and ccache).
std::vector<std::string> configure_args(const std::filesystem::path& source, const std::filesystem::path& build);

}  // namespace isens::test::packaging
