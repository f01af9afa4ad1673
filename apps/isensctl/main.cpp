// isensctl: the isens command line. `probe` and `discover` run an initiator
// inside isensctl itself; every other command talks to isensd.
#include "chap_secrets.hpp"
#include "daemon_commands.hpp"
#include "export_commands.hpp"
#include "fleet_watch.hpp"
#include "default_paths.hpp"
#include "standalone_commands.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

namespace {

void add_portal_options(CLI::App& command, isensctl::standalone_options& common) {
  command.add_option("--portal", common.portal, "Target portal, HOST[:PORT] (default port 3260)")->required();
  command.add_flag("--json", common.json, "Print JSON instead of a table");
  command.add_option("--initiator-name", common.initiator_name, "Initiator IQN")->capture_default_str();
  command.add_option("--timeout-ms", common.timeout_ms, "Connect, login and command timeout")
      ->capture_default_str()
      ->check(CLI::Range(100u, 600000u));
  command.add_option("--chap-user", common.chap_user, "CHAP user name (one-way CHAP)");
  command.add_option("--chap-secret", common.chap_secret,
                     "CHAP secret; visible to other users: prefer --chap-secret-file, $ISENS_CHAP_SECRET or the prompt");
  command.add_option("--chap-secret-file", common.chap_secret_file, "Read the CHAP secret from FILE (mode 0600 or stricter)");
  command.add_option("--chap-target-user", common.chap_target_user, "The target's CHAP name (mutual CHAP)");
  command.add_option("--chap-target-secret", common.chap_target_secret,
                     "The target's CHAP secret (mutual CHAP); prefer --chap-target-secret-file or $ISENS_CHAP_TARGET_SECRET");
  command.add_option("--chap-target-secret-file", common.chap_target_secret_file,
                     "Read the target's CHAP secret from FILE (mode 0600 or stricter)");
}

// Secrets first (file, environment, prompt), then the pairs are checked.
// none, crc32c (demanded) or crc32c,none / none,crc32c (preferred: the
// first the target accepts), in any case, as open-iscsi writes CRC32C,None.
const CLI::Validator digest_choice(
    [](std::string& value) -> std::string {
      const auto d = isens::initiator::parse_digest(value);
      if (!d) return "'" + value + "' is not none, crc32c, crc32c,none or none,crc32c";
      value = std::string(isens::initiator::to_string(*d));
      return {};
    },
    "none|crc32c|crc32c,none|none,crc32c");

bool check_chap(isensctl::standalone_options& o) {
  if (isensctl::resolve_chap_secrets(o) != 0) return false;
  const char* problem = nullptr;
  if (o.chap_user.empty() != o.chap_secret.empty()) problem = "--chap-user and --chap-secret go together";
  else if (o.chap_target_user.empty() != o.chap_target_secret.empty())
    problem = "--chap-target-user and --chap-target-secret go together";
  else if (!o.chap_target_user.empty() && o.chap_user.empty())
    problem = "mutual CHAP (--chap-target-*) needs --chap-user and --chap-secret too";
  if (problem) std::cerr << "isensctl: " << problem << '\n';
  return problem == nullptr;
}

isensctl::login_request login_from(const isensctl::standalone_options& c) {
  isensctl::login_request r;
  r.portal = c.portal;
  r.chap_user = c.chap_user;
  r.chap_secret = c.chap_secret;
  r.chap_target_user = c.chap_target_user;
  r.chap_target_secret = c.chap_target_secret;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"isensctl: iSCSI sessions and their SENS-style events"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (standalone commands)")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  isensctl::daemon_options daemon;
  daemon.socket = isens::apps::default_socket_path();
  app.add_option("--socket", daemon.socket, "isensd's control socket")->capture_default_str();

  // --- standalone ---
  isensctl::standalone_options common;
  bool via_daemon = false;
  auto* discover = app.add_subcommand("discover", "List the targets a portal offers (SendTargets)");
  add_portal_options(*discover, common);
  discover->add_flag("--via-daemon", via_daemon, "Ask isensd to discover instead of doing it in this process");

  isensctl::probe_options probe;
  auto* probe_cmd = app.add_subcommand("probe", "Log in, report every LUN and the events seen, log out (no daemon)");
  add_portal_options(*probe_cmd, common);
  probe_cmd->add_option("--target", probe.target, "Target IQN")->required();
  probe_cmd->add_option("--connections", probe.connections, "Grow the session to N connections")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  probe_cmd->add_option("--header-digest", probe.header_digest, "crc32c or none demands; crc32c,none prefers (open-iscsi's CRC32C,None)")
      ->capture_default_str()
      ->transform(digest_choice);
  probe_cmd->add_option("--data-digest", probe.data_digest, "crc32c or none demands; crc32c,none prefers (open-iscsi's CRC32C,None)")
      ->capture_default_str()
      ->transform(digest_choice);
  probe_cmd->add_flag("--events", probe.events, "Print the events the session raised");

  // --- daemon ---
  isensctl::login_request login;
  auto* login_cmd = app.add_subcommand("login", "Log in to a target through isensd; prints the session id");
  add_portal_options(*login_cmd, common);
  login_cmd->add_option("--target", login.target, "Target IQN")->required();
  login_cmd->add_option("--header-digest", login.header_digest, "crc32c or none demands; crc32c,none prefers (open-iscsi's CRC32C,None)")
      ->transform(digest_choice);
  login_cmd->add_option("--data-digest", login.data_digest, "crc32c or none demands; crc32c,none prefers (open-iscsi's CRC32C,None)")
      ->transform(digest_choice);
  login_cmd->add_flag("--persistent", login.persistent, "Register the session: log it in again when isensd starts");

  std::uint64_t session_id = 0, connection_id = 0, lun = 0;
  std::optional<std::uint64_t> maybe_session;
  std::string portal;

  auto* logout_cmd = app.add_subcommand("logout", "Log a session out");
  logout_cmd->add_option("session", session_id, "Session id")->required();
  auto* sessions_cmd = app.add_subcommand("sessions", "List sessions (like Get-IscsiSession)");
  sessions_cmd->add_option("--session", maybe_session, "Only this session");
  auto* connections_cmd = app.add_subcommand("connections", "List the connections of every session");
  connections_cmd->add_option("--session", maybe_session, "Only this session");
  auto* add_conn = app.add_subcommand("add-connection", "Add a connection to a session (MC/S)");
  add_conn->add_option("session", session_id, "Session id")->required();
  add_conn->add_option("--portal", portal, "Portal for the new connection (default: the session's)");
  auto* remove_conn = app.add_subcommand("remove-connection", "Log one connection of a session out");
  remove_conn->add_option("session", session_id, "Session id")->required();
  remove_conn->add_option("connection", connection_id, "Connection id")->required();
  auto* register_cmd = app.add_subcommand("register", "Make a session persistent");
  register_cmd->add_option("session", session_id, "Session id")->required();
  std::vector<std::string> unregister_ids;
  auto* unregister_cmd = app.add_subcommand("unregister", "Forget registrations (does not log out)");
  unregister_cmd->add_option("id", unregister_ids, "Registration ids (target@portal) or session ids; several at once")
      ->required();
  auto* registrations_cmd = app.add_subcommand("registrations", "List registered sessions");
  auto* inquiry_cmd = app.add_subcommand("inquiry", "SCSI INQUIRY of a LUN");
  auto* capacity_cmd = app.add_subcommand("read-capacity", "SCSI READ CAPACITY of a LUN");
  for (auto* c : {inquiry_cmd, capacity_cmd}) {
    c->add_option("session", session_id, "Session id")->required();
    c->add_option("lun", lun, "LUN")->required();
  }
  auto* luns_cmd = app.add_subcommand("report-luns", "SCSI REPORT LUNS of a session");
  luns_cmd->add_option("session", session_id, "Session id")->required();

  auto* exports_cmd = app.add_subcommand("exports", "List the NBD exports (every disk LUN of every session)");

  isensctl::watch_request watch;
  isensctl::fleet_watch_request fleet_watch;
  auto* watch_cmd = app.add_subcommand(
      "watch", "Follow the event stream (live, or from --since SEQ); with --nats, the whole fleet's from JetStream");
  auto* since_opt = watch_cmd->add_option("--since", watch.since, "Replay events after this seq from the journal first");
  watch_cmd->add_option("--kind", watch.kinds, "Only this kind (repeatable)");
  auto* session_opt = watch_cmd->add_option("--session", watch.session_id, "Only this session");
  watch_cmd->add_option("--count", watch.count, "Exit after N events");
  auto* nats_opt = isensctl::add_fleet_watch_options(*watch_cmd, fleet_watch);
  since_opt->excludes(nats_opt);
  session_opt->excludes(nats_opt);

  for (auto* c : {logout_cmd, sessions_cmd, connections_cmd, add_conn, remove_conn, register_cmd, unregister_cmd,
                  registrations_cmd, inquiry_cmd, capacity_cmd, luns_cmd, watch_cmd, exports_cmd})
    c->add_flag("--json", daemon.json, "Print JSON (watch: one event per line)");

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
  if (common.json) daemon.json = true;

  if (*discover) {
    if (!check_chap(common)) return 2;
    return via_daemon ? isensctl::cmd_discover_via_daemon(daemon, login_from(common)) : isensctl::run_discover(common);
  }
  if (*probe_cmd) return check_chap(common) ? isensctl::run_probe(common, probe) : 2;
  if (*login_cmd) {
    if (!check_chap(common)) return 2;
    auto request = login_from(common);
    request.target = login.target;
    request.header_digest = login.header_digest;
    request.data_digest = login.data_digest;
    request.persistent = login.persistent;
    return isensctl::cmd_login(daemon, request);
  }
  if (*logout_cmd) return isensctl::cmd_logout(daemon, session_id);
  if (*sessions_cmd) return isensctl::cmd_sessions(daemon, maybe_session);
  if (*connections_cmd) return isensctl::cmd_connections(daemon, maybe_session);
  if (*add_conn) return isensctl::cmd_add_connection(daemon, session_id, portal);
  if (*remove_conn) return isensctl::cmd_remove_connection(daemon, session_id, connection_id);
  if (*register_cmd) return isensctl::cmd_register(daemon, session_id);
  if (*unregister_cmd) return isensctl::cmd_unregister(daemon, unregister_ids);
  if (*registrations_cmd) return isensctl::cmd_registrations(daemon);
  if (*inquiry_cmd) return isensctl::cmd_scsi(daemon, "scsi_inquiry", session_id, lun);
  if (*capacity_cmd) return isensctl::cmd_scsi(daemon, "scsi_read_capacity", session_id, lun);
  if (*luns_cmd) return isensctl::cmd_scsi(daemon, "scsi_report_luns", session_id, std::nullopt);
  if (*watch_cmd && *nats_opt) {
    fleet_watch.kinds = watch.kinds;
    fleet_watch.count = watch.count;
    fleet_watch.json = daemon.json;
    return isensctl::cmd_fleet_watch(fleet_watch);
  }
  if (*watch_cmd) return isensctl::cmd_watch(daemon, watch);
  if (*exports_cmd) return isensctl::cmd_exports(daemon);
  return 2;
}
