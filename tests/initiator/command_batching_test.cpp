// When a session holds new commands back to send them together: only with
// many in flight, and never past a quarter of the session's commands, so
// the target always keeps three quarters of the queue.
#include "session/command_batching.hpp"

#include <catch2/catch.hpp>

using isens::initiator::detail::batch_not_ready;

TEST_CASE("below the threshold every new command goes out at once") {
  CHECK_FALSE(batch_not_ready(8, 0, 1));  // queue depth 1
  CHECK_FALSE(batch_not_ready(8, 7, 1));
  CHECK_FALSE(batch_not_ready(8, 3, 100));
}

TEST_CASE("0 never batches") {
  CHECK_FALSE(batch_not_ready(0, 1000, 1));
  CHECK_FALSE(batch_not_ready(0, 0, 0));
}

TEST_CASE("many in flight: new commands wait until they are a quarter of all") {
  // Queue depth 16: 15 in flight after one completion, up to 3 wait.
  CHECK(batch_not_ready(8, 15, 1));
  CHECK(batch_not_ready(8, 13, 3));
  CHECK_FALSE(batch_not_ready(8, 12, 4));
  // Queue depth 64: batches of 16.
  CHECK(batch_not_ready(8, 49, 15));
  CHECK_FALSE(batch_not_ready(8, 48, 16));
}

TEST_CASE("the target keeps at least three quarters of the commands, at any depth") {
  for (std::size_t depth = 1; depth <= 256; ++depth) {
    for (std::size_t waiting = 0; waiting <= depth; ++waiting) {
      const std::size_t in_flight = depth - waiting;
      if (batch_not_ready(8, in_flight, waiting)) {
        CHECK(in_flight >= 8);
        CHECK(in_flight * 4 > depth * 3);
      }
    }
  }
}
