// isensctl: the isens command line. `discover` and `probe` run an initiator
// in this process; the daemon commands talk to isensd.
#include "standalone_commands.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

namespace {

void add_common(CLI::App& command, isensctl::standalone_options& common) {
  command.add_option("--portal", common.portal, "Target portal, HOST[:PORT] (default port 3260)")->required();
  command.add_flag("--json", common.json, "Print JSON instead of a table");
  command.add_option("--initiator-name", common.initiator_name, "Initiator IQN")->capture_default_str();
  command.add_option("--timeout-ms", common.timeout_ms, "Connect, login and command timeout")
      ->capture_default_str()
      ->check(CLI::Range(100u, 600000u));
  command.add_option("--chap-user", common.chap_user, "CHAP user name (one-way CHAP)");
  command.add_option("--chap-secret", common.chap_secret, "CHAP secret");
  command.add_option("--chap-target-user", common.chap_target_user, "The target's CHAP name (mutual CHAP)");
  command.add_option("--chap-target-secret", common.chap_target_secret, "The target's CHAP secret (mutual CHAP)");
}

bool check_chap(const isensctl::standalone_options& o) {
  if (o.chap_user.empty() != o.chap_secret.empty()) {
    std::cerr << "isensctl: --chap-user and --chap-secret go together\n";
    return false;
  }
  if (o.chap_target_user.empty() != o.chap_target_secret.empty()) {
    std::cerr << "isensctl: --chap-target-user and --chap-target-secret go together\n";
    return false;
  }
  if (!o.chap_target_user.empty() && o.chap_user.empty()) {
    std::cerr << "isensctl: mutual CHAP (--chap-target-*) needs --chap-user and --chap-secret too\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"isensctl: iSCSI sessions and their SENS-style events"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  isensctl::standalone_options common;
  auto* discover = app.add_subcommand("discover", "List the targets a portal offers (SendTargets)");
  add_common(*discover, common);

  isensctl::probe_options probe;
  auto* probe_cmd = app.add_subcommand("probe", "Log in, report every LUN and the events seen, log out");
  add_common(*probe_cmd, common);
  probe_cmd->add_option("--target", probe.target, "Target IQN")->required();
  probe_cmd->add_option("--connections", probe.connections, "Grow the session to N connections")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  probe_cmd->add_option("--header-digest", probe.header_digest, "none or crc32c")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "crc32c"}));
  probe_cmd->add_option("--data-digest", probe.data_digest, "none or crc32c")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "crc32c"}));
  probe_cmd->add_flag("--events", probe.events, "Print the events the session raised");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "isensctl: " << e.what() << " (see --help)\n";
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("isensctl"));  // stdout is for results
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (!check_chap(common)) return 2;
  if (*discover) return isensctl::run_discover(common);
  if (*probe_cmd) return isensctl::run_probe(common, probe);
  return 2;
}
