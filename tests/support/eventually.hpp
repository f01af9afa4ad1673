#pragma once
// Bounded polling for tests whose subject runs on other threads or in other
// processes: a wait that fails is a failed test, never a hang, and no test
// sleeps a fixed time instead.

#include <chrono>
#include <thread>

namespace isens::test {

/// Polls `done` every `poll` until it holds (true) or `limit` passes (false).
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(10),
                std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace isens::test
