#include "daemon.hpp"

#include "control_server.hpp"
#include "dashboard.hpp"
#include "http_server.hpp"
#include "nats_bridge.hpp"
#include "nbd_exports.hpp"
#include "plugin_loader.hpp"
#include "registration_store.hpp"
#include "rpc_methods.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/events/event_journal.hpp>
#include <isens/events/journal_subscriber.hpp>
#include <isens/events/thread_signals.hpp>
#include <isens/initiator/initiator.hpp>
#include <isens/nbd/server.hpp>
#include <isens/subscribers/failover_subscriber.hpp>
#include <isens/subscribers/logger_subscriber.hpp>
#include <isens/subscribers/metrics_registry.hpp>
#include <isens/subscribers/metrics_subscriber.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <grp.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

namespace isens::daemon {

namespace asio = boost::asio;

namespace {

std::filesystem::path prepared_state_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create state directory " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // it holds CHAP secrets
  return dir;
}

// Every configured plugin, or an exception naming the first that cannot be
// loaded: isensd never starts with a plugin silently missing.
// A plugin that refuses its configuration (create() throws) stops isensd
// with the plugin's own message.
std::vector<loaded_plugin> load_plugins(const std::vector<plugin_config>& configured) {
  std::vector<loaded_plugin> plugins;
  for (const auto& entry : configured) {
    if (!entry.enabled) {
      spdlog::info("plugin {} is disabled in the configuration: not loaded", entry.path.string());
      continue;
    }
    auto plugin = load_plugin(entry.path, entry.config_json);
    for (const auto& other : plugins) {
      // Names key logs and metrics, so two plugins may not share one.
      if (other.name == plugin.name) {
        throw std::runtime_error("plugin " + plugin.path.string() + ": name '" + plugin.name +
                                 "' is already taken by " + other.path.string());
      }
    }
    spdlog::info("plugin '{}' {} loaded from {}", plugin.name, plugin.version, plugin.path.string());
    plugins.push_back(std::move(plugin));
  }
  return plugins;
}

// Named after the plugin, so the bus's log line for a throwing callback
// says which plugin threw (the bus catches and counts it; others go on).
std::vector<events::subscription> subscribe_plugins(events::event_bus& bus, const std::vector<loaded_plugin>& plugins) {
  std::vector<events::subscription> subscriptions;
  for (const auto& plugin : plugins) {
    events::subscription_options options;
    options.name = plugin.name;
    subscriptions.push_back(bus.subscribe(plugin.subscriber, {}, std::move(options)));
  }
  return subscriptions;
}

std::shared_ptr<events::event_journal> open_journal(const daemon_config& config) {
  events::journal_options options;
  options.directory = config.state_dir / "journal";
  options.max_events = config.journal_max_events;
  // Ten segments: rotating drops the oldest tenth, not the whole history.
  options.segment_events = std::max<std::size_t>(config.journal_max_events / 10, 10);
  return std::make_shared<events::event_journal>(options);
}

subscribers::logger_options logger_settings(const daemon_config& config) {
  subscribers::logger_options o;
  o.format = config.logging.format == "json" ? subscribers::log_format::json : subscribers::log_format::text;
  o.sink = config.logging.sink == "file"     ? subscribers::log_sink::file
           : config.logging.sink == "syslog" ? subscribers::log_sink::syslog
                                             : subscribers::log_sink::standard_error;
  o.path = config.logging.path.string();
  o.max_size = config.logging.max_size_mb * 1024 * 1024;
  o.max_files = config.logging.max_files;
  const auto& level = config.log_level;
  o.level = level == "trace" || level == "debug" ? subscribers::log_level::debug
            : level == "warn"                    ? subscribers::log_level::warn
            : level == "error"                   ? subscribers::log_level::error
            : level == "off"                     ? subscribers::log_level::off
                                                 : subscribers::log_level::info;
  return o;
}

// With failover on, SCSI commands of a dropped session wait as long as
// recovery may take, so callers see an error only when it is given up.
initiator::initiator_options initiator_settings(const daemon_config& config) {
  auto o = config.initiator;
  if (config.failover.enabled) o.recovery_hold = config.failover.give_up_after;
  o.single_threaded = true;  // daemon::run() is the only thread that runs the io_context
  return o;
}

subscribers::failover_policy failover_settings(const failover_config& config) {
  subscribers::failover_policy p;
  p.recover_all_sessions = config.recover_all_sessions;
  p.first_retry_delay = config.first_retry_delay;
  p.max_retry_delay = config.max_retry_delay;
  p.give_up_after = config.give_up_after;
  p.max_concurrent_per_target = config.max_concurrent_per_target;
  p.replace_lost_connections = config.replace_lost_connections;
  return p;
}

// The exports' socket sits beside the control socket, with its mode and group.
nbd::server_options nbd_settings(const daemon_config& config) {
  nbd::server_options o;
  o.unix_socket = config.nbd.socket.empty() ? config.socket_path.parent_path() / "nbd.sock" : config.nbd.socket;
  o.socket_mode = config.socket_mode;
  if (config.socket_group) {
    const group* g = ::getgrnam(config.socket_group->c_str());
    if (!g) throw std::runtime_error("socket group \"" + *config.socket_group + "\" does not exist");
    o.socket_gid = g->gr_gid;
  }
  o.tcp_listen = config.nbd.listen;
  return o;
}

events::subscription subscribe_named(events::event_bus& bus, std::shared_ptr<events::subscriber> sink,
                                     const std::string& name, std::size_t capacity = 4096) {
  events::subscription_options options;
  options.name = name;
  options.queue_capacity = capacity;
  return bus.subscribe(std::move(sink), {}, std::move(options));
}

}  // namespace

struct daemon::parts {
  explicit parts(daemon_config c)
      : config(std::move(c)),
        plugins(load_plugins(config.plugins)),
        registrations(prepared_state_dir(config.state_dir)),
        journal(open_journal(config)),
        metrics(std::make_shared<subscribers::metrics_registry>()),
        bus(config.bus),
        initiator(io.get_executor(), bus, initiator_settings(config)),
        methods(initiator, registrations,
                rpc_observer{[m = metrics](bool ok, auto took) { m->record_login(ok, took); }}),
        control(io.get_executor(), {config.socket_path, config.socket_mode, config.socket_group}, methods, bus,
                journal_reader{[j = journal](std::uint64_t after, std::size_t max,
                                             const events::journal_read_position& from) {
                                 auto batch = j->read_since(after, max, from);
                                 return replay_batch{std::move(batch.events), batch.gap, batch.oldest_available,
                                                     batch.position};
                               },
                               [j = journal] { return j->last_seq(); }}),
        http(http_io.get_executor()),
        dashboard(http_io.get_executor(), bus, journal, initiator,
                  [this](const std::vector<initiator::session_info>& s) { return methods.sessions_json(s); },
                  config.initiator.initiator_name, config.dashboard) {
    if (config.nbd.enabled) {
      nbd = std::make_unique<nbd::server>(io.get_executor(), initiator, bus, nbd_settings(config));
      methods.add_method("exports", false, [this](const json&) -> asio::awaitable<json> { co_return exports_to_json(*nbd); });
      methods.set_sessions_decorator([this](json& sessions) { add_export_uris(sessions, *nbd); });
    }
    http.route("/metrics", [this](const http_request& request) {
      subscribers::metrics_snapshot(*metrics, initiator.sessions(), bus.stats());
      if (nbd) nbd_metrics_snapshot(*metrics, nbd->exports());
      if (nats_bridge) nats_metrics_snapshot(*metrics, nats_bridge->stats());
      return make_response(request, boost::beast::http::status::ok,
                           std::string(subscribers::prometheus_content_type), metrics->render());
    });
    dashboard.add_routes(http);
    // seq goes on from the journal, so `watch --since` works across restarts.
    bus.continue_after(journal->last_seq());
    // The journal must not miss events: it gets a deep queue. With [nats]
    // on, its subscriber also wakes the bridge, which reads the journal.
    if (config.nats.enabled) {
      nats_bridge = make_nats_bridge(config, journal, bus.boot_id());
      subscriptions.push_back(subscribe_named(bus, std::make_shared<journal_then_bridge>(journal, nats_bridge), "journal", 1 << 16));
    } else {
      subscriptions.push_back(subscribe_named(bus, std::make_shared<events::journal_subscriber>(journal), "journal", 1 << 16));
    }
    if (config.metrics_enabled)
      subscriptions.push_back(subscribe_named(bus, std::make_shared<subscribers::metrics_subscriber>(metrics), "metrics"));
    if (config.logger_enabled)
      subscriptions.push_back(subscribe_named(bus, subscribers::make_logger_subscriber(logger_settings(config)), "logger"));
    if (config.failover.enabled) {
      // should_recover runs on the io_context only, so `methods` is alive
      // whenever it is asked (nothing runs there once run() returned).
      auto failover = std::make_shared<subscribers::failover_subscriber>(
          initiator, io.get_executor(), failover_settings(config.failover),
          [this](std::uint64_t id) { return methods.is_registered(id); });
      subscriptions.push_back(subscribe_named(bus, std::move(failover), "failover"));
    }
    for (auto& s : subscribe_plugins(bus, plugins)) subscriptions.push_back(std::move(s));
    dashboard.start();
  }

  daemon_config config;
  asio::io_context io;
  // The HTTP listener's own thread: writing events to a hundred browsers,
  // or waiting on one that does not read, never delays the initiator's I/O.
  asio::io_context http_io{1};
  std::thread http_thread;
  // Before the bus, so destroyed after it: the bus joins its delivery
  // threads first, and the libraries unload here, on the daemon's thread,
  // once no callback can be running. (The subscriber's deleter keeps each
  // library loaded until its last reference goes in any case.)
  std::vector<loaded_plugin> plugins;
  registration_store registrations;
  // Before the bus too: every queued event reaches the journal before it closes.
  std::shared_ptr<events::event_journal> journal;
  std::shared_ptr<subscribers::metrics_registry> metrics;
  // Publishes the journal to NATS on its own thread ([nats]); stopped by
  // run() once the last events are in the journal.
  std::shared_ptr<fleet::bridge> nats_bridge;
  // Before the bus, so they end after it: the bus's destructor delivers what
  // is still queued (the logoffs of a shutdown) before they unsubscribe.
  std::vector<events::subscription> subscriptions;
  events::event_bus bus;
  initiator::initiator initiator;
  // After the initiator, so it is gone before the initiator is.
  std::unique_ptr<nbd::server> nbd;
  rpc_methods methods;
  control_server control;
  http_server http;  // /metrics and the dashboard
  class dashboard dashboard;
};

// Built with every signal blocked, so every thread its parts start inherits
// the mask, a plugin's too even if its code does not ask for it: SIGTERM and
// SIGINT go to run()'s thread only (thread_signals.hpp says why).
daemon::daemon(daemon_config config) {
  const events::signal_blocker blocked;
  parts_ = std::make_unique<parts>(std::move(config));
}

daemon::~daemon() {
  // run() joins the HTTP thread; this covers a run() left by an exception.
  if (parts_ && parts_->http_thread.joinable()) {
    parts_->http_io.stop();
    parts_->http_thread.join();
  }
}

namespace {

// Logs in every configured ([[sessions]]) and registered session; a failure
// is logged and the rest go on.
asio::awaitable<void> restore_sessions(rpc_methods& methods, registration_store& registrations,
                                       const std::vector<initiator::login_options>& configured) {
  for (const auto& login : configured) {
    try {
      const auto id = co_await methods.login(login);
      methods.mark_configured(id);
      spdlog::info("configured session {}@{} logged in as session {}", login.target_name,
                   login.target_portal.to_string(), id);
    } catch (const std::exception& ex) {
      spdlog::error("configured session {}@{} could not log in: {}", login.target_name,
                    login.target_portal.to_string(), ex.what());
    }
  }
  for (const auto& r : registrations.list()) {
    try {
      const auto id = co_await methods.login(r.login);
      methods.hold_registration(id, r.id);
      spdlog::info("registered session {} logged in again as session {}", r.id, id);
    } catch (const std::exception& ex) {
      spdlog::error("registered session {} could not log in: {}", r.id, ex.what());
    }
  }
}

// A journal syncs by itself while events flow; this covers quiet periods.
asio::awaitable<void> flush_journal_periodically(events::event_journal& journal) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    journal.flush();
  }
}

}  // namespace

// Logs every session out, then lets the events that raises reach every
// subscriber, control clients included, before the io_context stops.
asio::awaitable<void> daemon::shut_down(parts& p) {
  co_await p.initiator.shutdown();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  asio::steady_timer pause(p.io);
  for (;;) {
    const auto stats = p.bus.stats();
    const bool drained = std::all_of(stats.begin(), stats.end(), [](const auto& s) { return s.queue_depth == 0; });
    if (drained || std::chrono::steady_clock::now() > deadline) break;
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  // Control clients write what they were handed on this io_context.
  pause.expires_after(std::chrono::milliseconds(50));
  co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
}

int daemon::run() {
  auto& p = *parts_;
  // Signals first: once the socket exists a client (or systemd) may send
  // SIGTERM, and it must mean a clean shutdown, never the default death.
  // This thread takes them; every other thread blocks them.
  events::take_signals_here({SIGTERM, SIGINT});
  asio::signal_set signals(p.io, SIGTERM, SIGINT);
  signals.async_wait([&p](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received: logging out every session", signal);
    p.control.stop();
    asio::post(p.http_io, [&p] {
      p.http.stop();
      p.dashboard.stop();
    });
    if (p.nbd) p.nbd->stop();
    asio::co_spawn(p.io, shut_down(p), [&p](std::exception_ptr) { p.io.stop(); });
  });
  // The control socket answering is isensd's "ready" (tests and scripts wait
  // for it), so every other listener is open before it.
  p.control.refuse_if_taken();  // a second isensd names the control socket, not whichever listener came first
  if (!p.config.metrics_listen.empty()) p.http.start(p.config.metrics_listen);
  if (p.nbd) p.nbd->start();
  // Started before the control socket answers: this thread blocks every
  // signal while it creates one, and a SIGTERM sent once isensd is ready
  // must find it unblocked (daemon_signal_test).
  auto http_work = asio::make_work_guard(p.http_io);
  p.http_thread = events::start_thread_with_signals_blocked([&p] { p.http_io.run(); });
  p.control.start();
  asio::co_spawn(p.io, restore_sessions(p.methods, p.registrations, p.config.sessions), asio::detached);
  asio::co_spawn(p.io, flush_journal_periodically(*p.journal), asio::detached);
  if (p.nats_bridge) p.nats_bridge->start();
  spdlog::info("isensd running as {} (state in {}, events continue after seq {})", p.config.initiator.initiator_name,
               p.config.state_dir.string(), p.bus.last_seq());
  p.io.run();
  http_work.reset();
  p.http_io.stop();
  p.http_thread.join();
  p.journal->flush();
  if (p.nats_bridge) p.nats_bridge->stop();  // publishes the shutdown's events, waits for their acks (bounded)
  spdlog::info("isensd stopped");
  return 0;
}

}  // namespace isens::daemon
