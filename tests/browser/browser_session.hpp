// A headless chromium driven by browser_driver.py (python3-selenium with
// chromium-driver), one JSON command per line over a pipe. The test keeps the
// scenario (tgtd, isensd, faults) in C++ and asks the browser what the page
// shows, always by waiting for a condition in the page with a deadline.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>

#include <sys/types.h>

namespace isens::test {

/// The answer to a `wait`: whether the condition held, its value, and how long it took.
struct wait_result {
  bool ok = false;
  nlohmann::json value;
  double elapsed_ms = 0;
  std::string error;
};

class browser_session {
 public:
  /// Starts the driver and chromium; throws with the driver's log if it cannot.
  explicit browser_session(const std::filesystem::path& log);
  /// Quits chromium and reaps the driver (killed if it does not go).
  ~browser_session();
  browser_session(const browser_session&) = delete;
  browser_session& operator=(const browser_session&) = delete;

  /// Navigates to `url`.
  void open(const std::string& url);
  /// Polls the JavaScript expression `js` in the page until it is truthy or `timeout` passes.
  wait_result wait(const std::string& js, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Evaluates `js` once and returns its value.
  nlohmann::json eval(const std::string& js);
  /// Saves a PNG of the whole page (the window grows to its height for the shot).
  void screenshot(const std::filesystem::path& png);
  /// Every console entry so far: [{"level", "message"}].
  nlohmann::json console();

 private:
  nlohmann::json command(const nlohmann::json& request, std::chrono::milliseconds timeout);
  std::string read_line(std::chrono::milliseconds timeout);

  std::filesystem::path log_;
  pid_t pid_ = -1;
  int to_driver_ = -1;
  int from_driver_ = -1;
  std::string buffer_;
};

}  // namespace isens::test
