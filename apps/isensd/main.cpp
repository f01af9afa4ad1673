// isensd: the isens daemon. Configuration comes from a TOML file
// (--config) with flags on top; see docs/isensd.md.
#include "daemon.hpp"
#include "daemon_config.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

int main(int argc, char** argv) {
  using isens::daemon::daemon_config;
  CLI::App app{"isensd: iSCSI initiator service raising SENS-style session events"};
  std::string config_file, socket, state_dir, metrics, initiator_name, log_level, nats_url, nats_host;
  std::vector<std::string> plugins;
  long nop_interval_ms = -1, nop_timeout_ms = -1, login_timeout_ms = -1;
  app.add_option("--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
  app.add_option("--socket", socket, "Control socket path");
  app.add_option("--state-dir", state_dir, "Directory for the event journal and registered sessions");
  app.add_option("--metrics", metrics, "Prometheus endpoint HOST:PORT, or \"off\"");
  app.add_option("--plugin", plugins, "Subscriber plugin (.so) to load; repeatable");
  app.add_option("--nats", nats_url, "Publish events to NATS JetStream at URL[,URL…] (turns [nats] on; \"off\" turns it off)");
  app.add_option("--nats-host", nats_host, "Host name in the fleet stream's subjects (default: the hostname)");
  app.add_option("--initiator-name", initiator_name, "Initiator IQN");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off");
  app.add_option("--nop-interval-ms", nop_interval_ms, "NOP-Out ping interval (0: off)")->check(CLI::Range(0L, 3600000L));
  app.add_option("--nop-timeout-ms", nop_timeout_ms, "NOP-Out answer timeout")->check(CLI::Range(100L, 3600000L));
  app.add_option("--login-timeout-ms", login_timeout_ms, "Login timeout")->check(CLI::Range(100L, 3600000L));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "isensd: " << e.what() << " (see --help)\n";
    return 2;
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("isensd"));
  try {
    daemon_config config = isens::daemon::default_config();
    if (!config_file.empty()) isens::daemon::apply_config_file(config, config_file);
    if (!socket.empty()) config.socket_path = socket;
    if (!state_dir.empty()) config.state_dir = state_dir;
    if (!metrics.empty()) config.metrics_listen = metrics == "off" ? "" : metrics;
    if (!initiator_name.empty()) config.initiator.initiator_name = initiator_name;
    if (!log_level.empty()) config.log_level = log_level;
    if (nop_interval_ms >= 0) config.initiator.nop_interval = std::chrono::milliseconds(nop_interval_ms);
    if (nop_timeout_ms >= 0) config.initiator.nop_timeout = std::chrono::milliseconds(nop_timeout_ms);
    if (login_timeout_ms >= 0) config.initiator.login_timeout = std::chrono::milliseconds(login_timeout_ms);
    for (const auto& p : plugins) config.plugins.emplace_back(p);
    if (nats_url == "off") {
      config.nats.enabled = false;
    } else if (!nats_url.empty()) {
      config.nats.enabled = true;
      config.nats.bridge.nats.urls.clear();
      for (std::size_t start = 0; start <= nats_url.size();) {
        auto comma = std::min(nats_url.find(',', start), nats_url.size());
        if (comma > start) config.nats.bridge.nats.urls.push_back(nats_url.substr(start, comma - start));
        start = comma + 1;
      }
    }
    if (!nats_host.empty()) config.nats.bridge.host = nats_host;
    isens::daemon::validate(config);
    spdlog::set_level(spdlog::level::from_str(config.log_level));

    isens::daemon::daemon d(std::move(config));
    return d.run();
  } catch (const std::exception& ex) {
    std::cerr << "isensd: " << ex.what() << '\n';
    return 1;
  }
}
