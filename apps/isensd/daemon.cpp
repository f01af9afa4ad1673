#include "daemon.hpp"

#include "control_server.hpp"
#include "registration_store.hpp"
#include "rpc_methods.hpp"

#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

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

}  // namespace

struct daemon::parts {
  explicit parts(daemon_config c)
      : config(std::move(c)),
        registrations(prepared_state_dir(config.state_dir)),
        bus(2),
        initiator(io.get_executor(), bus, config.initiator),
        methods(initiator, registrations),
        control(io.get_executor(), {config.socket_path, config.socket_mode, config.socket_group}, methods, bus) {}

  daemon_config config;
  asio::io_context io;
  registration_store registrations;
  events::event_bus bus;
  initiator::initiator initiator;
  rpc_methods methods;
  control_server control;
};

daemon::daemon(daemon_config config) : parts_(std::make_unique<parts>(std::move(config))) {}

daemon::~daemon() = default;

namespace {

// Logs in every registered session; a failure is logged and the rest go on.
asio::awaitable<void> restore_registered(rpc_methods& methods, registration_store& registrations) {
  for (const auto& r : registrations.list()) {
    try {
      const auto id = co_await methods.login(r.login);
      spdlog::info("registered session {} logged in again as session {}", r.id, id);
    } catch (const std::exception& ex) {
      spdlog::error("registered session {} could not log in: {}", r.id, ex.what());
    }
  }
}

asio::awaitable<void> stop_on_signal(asio::signal_set& signals, initiator::initiator& initiator,
                                     control_server& control, asio::io_context& io) {
  auto [ec, signal] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  spdlog::info("signal {} received: logging out every session", signal);
  control.stop();
  co_await initiator.shutdown();
  io.stop();
}

}  // namespace

int daemon::run() {
  auto& p = *parts_;
  p.control.start();
  asio::signal_set signals(p.io, SIGTERM, SIGINT);
  asio::co_spawn(p.io, stop_on_signal(signals, p.initiator, p.control, p.io), asio::detached);
  asio::co_spawn(p.io, restore_registered(p.methods, p.registrations), asio::detached);
  spdlog::info("isensd running as {} (state in {})", p.config.initiator.initiator_name, p.config.state_dir.string());
  p.io.run();
  spdlog::info("isensd stopped");
  return 0;
}

}  // namespace isens::daemon
