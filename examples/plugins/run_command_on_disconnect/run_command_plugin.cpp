// run_command_on_disconnect: an isens subscriber plugin that runs a shell
// command for chosen events — by default session_disconnect — and writes the
// event's JSON line to the command's stdin. Example uses: page someone,
// unmount a filesystem, ask a cluster manager to fence a node.
//
// The bus's delivery thread only queues the event: commands run one at a
// time on this plugin's own thread, each bounded by a timeout, so a hung
// command never stalls the bus or other subscribers.
#include "command_runner.hpp"

#include <isens/events/event_json.hpp>
#include <isens/events/plugin_api.hpp>
#include <isens/events/thread_signals.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace isens::plugins {

namespace {

namespace ev = isens::events;

// The daemon's log is stderr; a plugin that links only isens::events says
// who it is itself.
void log_line(const std::string& text) { std::fprintf(stderr, "isens_plugin_run_command: %s\n", text.c_str()); }

struct settings {
  std::string command;  // empty: do nothing
  std::array<bool, ev::event_kind_count> kinds{};
  std::chrono::milliseconds timeout{10'000};
  std::size_t max_pending = 16;
};

// nlohmann would turn -1 into a huge unsigned number without a word.
std::uint64_t whole_number(const nlohmann::json& value) {
  if (!value.is_number_unsigned()) throw std::invalid_argument("must be a whole number >= 0");
  return value.get<std::uint64_t>();
}

// Unknown keys are errors, as in isensd's own configuration: a misspelt
// "comand" must not quietly turn the plugin off.
void apply_setting(settings& s, const std::string& key, const nlohmann::json& value) {
  if (key == "command") {
    s.command = value.get<std::string>();
  } else if (key == "kinds") {
    if (!value.is_array()) throw std::invalid_argument("\"kinds\" must be an array of event kinds");
    s.kinds = {};
    for (const auto& name : value) {
      const auto kind = ev::parse_event_kind(name.get<std::string>());
      if (!kind) throw std::invalid_argument("unknown event kind '" + name.get<std::string>() + "'");
      s.kinds[static_cast<std::size_t>(*kind)] = true;
    }
  } else if (key == "timeout_ms") {
    s.timeout = std::chrono::milliseconds(whole_number(value));
  } else if (key == "max_pending") {
    s.max_pending = std::max<std::size_t>(1, whole_number(value));
  } else {
    throw std::invalid_argument("unknown key '" + key + "' (known: command, kinds, timeout_ms, max_pending)");
  }
}

settings parse_settings(const char* config_json) {
  const auto config = nlohmann::json::parse(config_json ? config_json : "{}");
  if (!config.is_object()) throw std::invalid_argument("the configuration must be a JSON object");
  settings s;
  s.kinds[static_cast<std::size_t>(ev::event_kind::session_disconnect)] = true;
  for (const auto& [key, value] : config.items()) {
    try {
      apply_setting(s, key, value);
    } catch (const std::exception& ex) {
      // nlohmann's "type must be string" does not say where.
      throw std::invalid_argument("\"" + key + "\": " + ex.what());
    }
  }
  // A plugin that would do nothing refuses to load: the operator learns at
  // start that the configuration lacks the one thing it needs.
  if (s.command.empty()) throw std::invalid_argument("no \"command\" configured: set it in the [plugins.config] table");
  return s;
}

struct job {
  std::string input;                  // the event's JSON line, newline-terminated
  std::vector<std::string> env;       // ISENS_EVENT_KIND=… for commands that do not parse JSON
  std::string what;                   // for the log
};

class run_command_subscriber final : public ev::subscriber {
 public:
  explicit run_command_subscriber(settings s) : settings_(std::move(s)) {
    // Every signal blocked: SIGTERM is isensd's, and a SIGPIPE from a
    // command that exits unread cannot kill the daemon (run_command takes it).
    worker_ = ev::start_thread_with_signals_blocked([this] { work(); });
  }

  // Joins the worker: isensd unloads this library right after the
  // subscriber is destroyed, so no thread of ours may outlive it. Commands
  // still queued are dropped; the one running gets at most its timeout.
  ~run_command_subscriber() override {
    if (!worker_.joinable()) return;
    std::size_t dropped = 0;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      dropped = pending_.size();
      pending_.clear();
    }
    wake_.notify_one();
    worker_.join();
    if (dropped != 0) log_line("stopping: " + std::to_string(dropped) + " queued command(s) not run");
  }

  void on_event(const ev::event& e) override {
    if (!settings_.kinds[static_cast<std::size_t>(e.kind)]) return;
    job j{ev::to_json_line(e) + '\n',
          {"ISENS_EVENT_KIND=" + std::string(ev::to_string(e.kind)),
           "ISENS_EVENT_REASON=" + std::string(ev::to_string(e.reason)),
           "ISENS_SESSION_ID=" + std::to_string(e.session_id), "ISENS_TARGET=" + e.target},
          std::string(ev::to_string(e.kind)) + " of session " + std::to_string(e.session_id)};
    {
      std::lock_guard lock(mutex_);
      // Bounded, so a disconnect storm cannot queue commands without limit.
      if (pending_.size() >= settings_.max_pending) {
        log_line("too many commands waiting; not running one for " + j.what);
        return;
      }
      pending_.push_back(std::move(j));
    }
    wake_.notify_one();
  }

  void on_gap(std::uint64_t lost) override {
    log_line(std::to_string(lost) + " event(s) were lost before reaching this plugin; commands may be missing");
  }

 private:
  void work() {
    for (;;) {
      job j;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
        if (stopping_) return;
        j = std::move(pending_.front());
        pending_.pop_front();
      }
      const auto result = run_command(settings_.command, j.input, settings_.timeout, j.env);
      if (!result.started || result.timed_out || result.signal != 0 || result.exit_code != 0) {
        log_line("command for " + j.what + ": " + describe(result));
      }
    }
  }

  const settings settings_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> pending_;  // guarded by mutex_
  bool stopping_ = false;    // guarded by mutex_
  std::thread worker_;       // last: started once everything it uses exists
};

std::shared_ptr<ev::subscriber> create(const char* config_json) {
  return std::make_shared<run_command_subscriber>(parse_settings(config_json));
}

}  // namespace

}  // namespace isens::plugins

ISENS_PLUGIN({isens::events::plugin_abi_version, "run_command_on_disconnect", "1.0.0", &isens::plugins::create});
