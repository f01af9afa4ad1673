#pragma once
// The LUN's backing file, in /dev/shm (RAM: the disk is never what is
// measured), filled with generation 0 of the pattern before tgtd sees it,
// checked against the pattern at the end, removed on destruction.

#include "lun_pattern.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::bench {

class shm_lun {
 public:
  /// Creates /dev/shm/isens-io-bench-<pid>.img with generation 0 of `pattern` everywhere.
  explicit shm_lun(const lun_pattern& pattern)
      : path_("/dev/shm/isens-io-bench-" + std::to_string(::getpid()) + ".img"), bytes_(pattern.bytes()) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path_.string() + ": " + std::strerror(errno));
    std::vector<std::byte> chunk(1u << 20);
    bool ok = true;
    for (std::uint64_t at = 0; ok && at < bytes_; at += chunk.size()) {
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk.size(), bytes_ - at));
      pattern.fill(chunk.data(), at, n, 0);
      ok = ::pwrite(fd, chunk.data(), n, static_cast<off_t>(at)) == static_cast<ssize_t>(n);
    }
    const int err = errno;
    ::close(fd);
    if (!ok) {
      std::error_code ignored;
      std::filesystem::remove(path_, ignored);
      throw std::runtime_error("cannot fill " + path_.string() + ": " + std::strerror(err));
    }
  }
  ~shm_lun() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  shm_lun(const shm_lun&) = delete;
  shm_lun& operator=(const shm_lun&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

  /// Reads the whole file and checks every byte against the pattern: the
  /// target's view of what both sides wrote. Returns "" or what differs.
  std::string verify(const lun_pattern& pattern) const {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open " + path_.string() + ": " + std::strerror(errno);
    std::vector<std::byte> chunk(1u << 20);
    std::string wrong;
    for (std::uint64_t at = 0; wrong.empty() && at < bytes_; at += chunk.size()) {
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk.size(), bytes_ - at));
      if (::pread(fd, chunk.data(), n, static_cast<off_t>(at)) != static_cast<ssize_t>(n)) wrong = "short read";
      else wrong = pattern.check(chunk.data(), at, n, true);
    }
    ::close(fd);
    return wrong;
  }

 private:
  std::filesystem::path path_;
  std::uint64_t bytes_;
};

}  // namespace isens::bench
