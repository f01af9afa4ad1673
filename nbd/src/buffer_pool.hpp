#pragma once
// Payload buffers of one client connection, recycled by power-of-two size
// class, so the steady state allocates nothing per request. A WRITE's
// payload is read from the socket straight into one and sent to the target
// from it; a READ's data lands in one and goes to the socket from it.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace isens::nbd::detail {

class buffer_pool {
 public:
  // A buffer of at least `size` bytes (size ≤ 2^31); contents undefined.
  struct buffer {
    std::unique_ptr<std::byte[]> data;
    std::size_t capacity = 0;
  };

  buffer take(std::size_t size) {
    const auto cls = class_of(size);
    auto& free = free_[cls];
    if (!free.empty()) {
      auto b = std::move(free.back());
      free.pop_back();
      return b;
    }
    const std::size_t capacity = std::size_t{1} << (cls + min_shift);
    return buffer{std::make_unique_for_overwrite<std::byte[]>(capacity), capacity};
  }

  // Keeps the buffer for reuse, up to kept_bytes per class.
  void give_back(buffer b) {
    if (!b.data) return;
    const auto cls = class_of(b.capacity);
    if ((free_[cls].size() + 1) * b.capacity <= kept_bytes || free_[cls].empty()) free_[cls].push_back(std::move(b));
  }

 private:
  static constexpr unsigned min_shift = 12;  // 4 KiB
  static constexpr std::size_t kept_bytes = 16u << 20;
  static std::size_t class_of(std::size_t size) {
    const auto rounded = std::bit_ceil(std::max<std::size_t>(size, std::size_t{1} << min_shift));
    return static_cast<std::size_t>(std::countr_zero(rounded)) - min_shift;
  }
  std::array<std::vector<buffer>, 32> free_;
};

}  // namespace isens::nbd::detail
