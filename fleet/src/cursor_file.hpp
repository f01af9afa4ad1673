#pragma once
// The bridge's persisted cursor: the last journal seq JetStream acknowledged
// in order. Written atomically (temporary file, fsync, rename), so a crash
// leaves the old value or the new one, never a torn one.

#include <cstdint>
#include <filesystem>
#include <optional>

namespace isens::fleet {

// The stored seq; empty when the file is missing or unreadable (the bridge
// then relies on the stream's last message alone).
std::optional<std::uint64_t> load_cursor(const std::filesystem::path& file);
// Stores `seq`; false when it could not (the caller logs once).
bool store_cursor(const std::filesystem::path& file, std::uint64_t seq);

}  // namespace isens::fleet
