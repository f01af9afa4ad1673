#pragma once
// What the LUN holds, so that every read can be checked: each 512-byte
// sector carries a 16-byte stamp (its sector number and the generation that
// wrote it) followed by 496 filler bytes that depend on the generation only.
// Generations are tracked per 4 KiB page (every I/O of the bench is 4 KiB
// aligned). A write round writes one new generation everywhere it writes, so
// the order in which its writes land does not matter; the two sides never
// run at once, so one model serves both.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace isens::bench {

inline constexpr std::uint32_t sector_bytes = 512;
inline constexpr std::uint32_t page_bytes = 4096;
inline constexpr std::uint32_t sectors_per_page = page_bytes / sector_bytes;
inline constexpr std::uint32_t stamp_bytes = 16;

class lun_pattern {
 public:
  /// A LUN of `bytes` (a multiple of 4 KiB) that holds generation 0 everywhere;
  /// up to `generations` generations can be written.
  lun_pattern(std::uint64_t bytes, std::uint16_t generations) : bytes_(bytes), pages_(bytes / page_bytes, 0) {
    if (bytes % page_bytes != 0 || bytes == 0) throw std::invalid_argument("LUN size must be a multiple of 4 KiB");
    fillers_.resize(generations);
    std::mt19937_64 random(0x15e45u);
    for (auto& f : fillers_) {
      for (std::size_t i = 0; i < f.size(); i += 8) {
        const std::uint64_t v = random();
        std::memcpy(f.data() + i, &v, 8);
      }
    }
  }

  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint16_t generations() const noexcept { return static_cast<std::uint16_t>(fillers_.size()); }

  /// `length` bytes at LUN byte `offset` as generation `gen` writes them.
  void fill(std::byte* buffer, std::uint64_t offset, std::uint32_t length, std::uint16_t gen) const {
    for (std::uint32_t at = 0; at < length; at += sector_bytes) {
      std::memcpy(buffer + at, fillers_.at(gen).data(), sector_bytes);
      stamp_sector(buffer + at, (offset + at) / sector_bytes, gen);
    }
  }

  /// Rewrites only the stamps of a buffer whose filler is already generation `gen`'s.
  void restamp(std::byte* buffer, std::uint64_t offset, std::uint32_t length, std::uint16_t gen) const {
    for (std::uint32_t at = 0; at < length; at += sector_bytes) stamp_sector(buffer + at, (offset + at) / sector_bytes, gen);
  }

  /// Prepares a write buffer of generation `gen` (its filler; stamps come with restamp()).
  void prepare(std::byte* buffer, std::uint32_t length, std::uint16_t gen) const {
    for (std::uint32_t at = 0; at < length; at += sector_bytes)
      std::memcpy(buffer + at, fillers_.at(gen).data(), sector_bytes);
  }

  /// Records that `length` bytes at `offset` now hold generation `gen`.
  void written(std::uint64_t offset, std::uint32_t length, std::uint16_t gen) {
    for (std::uint64_t p = offset / page_bytes; p < (offset + length) / page_bytes; ++p) pages_[p] = gen;
  }

  /// Checks a buffer read from `offset`: every sector's stamp, and when
  /// `full`, every filler byte too. Returns an empty string or what differs.
  std::string check(const std::byte* buffer, std::uint64_t offset, std::uint32_t length, bool full) const {
    for (std::uint32_t at = 0; at < length; at += sector_bytes) {
      const std::uint64_t sector = (offset + at) / sector_bytes;
      const std::uint16_t gen = pages_[(offset + at) / page_bytes];
      std::uint64_t words[2];
      std::memcpy(words, buffer + at, sizeof words);
      if (words[0] != sector_word(sector) || words[1] != gen_word(gen))
        return "sector " + std::to_string(sector) + ": stamp differs (expected generation " + std::to_string(gen) + ")";
      if (full && std::memcmp(buffer + at + stamp_bytes, fillers_[gen].data() + stamp_bytes, sector_bytes - stamp_bytes) != 0)
        return "sector " + std::to_string(sector) + ": filler of generation " + std::to_string(gen) + " differs";
    }
    return {};
  }

 private:
  static std::uint64_t sector_word(std::uint64_t sector) noexcept { return (sector + 1) * 0x9E3779B97F4A7C15ull; }
  static std::uint64_t gen_word(std::uint16_t gen) noexcept { return 0x15E4'5B00'0000'0000ull | gen; }
  static void stamp_sector(std::byte* at, std::uint64_t sector, std::uint16_t gen) noexcept {
    const std::uint64_t words[2] = {sector_word(sector), gen_word(gen)};
    std::memcpy(at, words, sizeof words);
  }

  std::uint64_t bytes_;
  std::vector<std::uint16_t> pages_;  // generation per 4 KiB page
  std::vector<std::array<std::byte, sector_bytes>> fillers_;
};

}  // namespace isens::bench
