#pragma once
// When a session sends its new SCSI commands in batches.
//
// With many commands in flight, sending each new one the moment a
// completion frees its place costs a sendmsg per command and wakes the
// target for every one (on loopback the kernel also runs the target's
// receive path in the sender's time). While the target still holds plenty
// of work, new commands wait for the end of the next batch of answers and
// go out together once they make up a quarter of the session's commands,
// so the target always has at least three quarters of them. A held command
// waits for an answer that is sure to come: at least `from` commands are
// at the target, and a timeout or a dropped connection sends it too.
// bench/README.md (io, "Commands sent in batches") has the figures.

#include <cstddef>

namespace isens::initiator::detail {

/// True when the `waiting` new commands should wait for more: at least
/// `from` commands are in flight (0: never batch) and the waiting ones are
/// fewer than a quarter of all.
constexpr bool batch_not_ready(std::size_t from, std::size_t in_flight, std::size_t waiting) noexcept {
  return from != 0 && in_flight >= from && waiting * 4 < in_flight + waiting;
}

}  // namespace isens::initiator::detail
