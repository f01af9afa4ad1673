#include "packaging_support.hpp"

#include "subprocess.hpp"

#include <algorithm>
#include <chrono>

namespace isens::test::packaging {

std::string checked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  run_options options;
  options.timeout = timeout;
  return run_checked(argv, options);
}

std::string install_into(const std::filesystem::path& prefix) {
  return checked({ISENS_CMAKE, "--install", ISENS_BUILD_DIR, "--prefix", prefix.string()});
}

std::vector<std::string> files_under(const std::filesystem::path& root) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() || entry.is_symlink()) files.push_back(entry.path().lexically_relative(root).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> configure_args(const std::filesystem::path& source, const std::filesystem::path& build) {
  std::vector<std::string> args{ISENS_CMAKE, "-S", source.string(), "-B", build.string(), "-G", "Ninja",
                                "-DCMAKE_CXX_COMPILER=" ISENS_CXX_COMPILER, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"};
  if (std::string(ISENS_CXX_LAUNCHER).size() != 0) args.push_back("-DCMAKE_CXX_COMPILER_LAUNCHER=" ISENS_CXX_LAUNCHER);
  return args;
}

}  // namespace isens::test::packaging
