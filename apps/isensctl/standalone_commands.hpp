#pragma once
// The commands that run an initiator inside isensctl itself, without a
// daemon: `discover` and `probe`.

#include <isens/initiator/types.hpp>

#include <optional>
#include <string>

namespace isensctl {

// Common options of the standalone commands.
struct standalone_options {
  std::string portal;
  bool json = false;
  std::string initiator_name = "iqn.2026-11.org.isens:isensctl";
  unsigned timeout_ms = 5000;
  std::string chap_user, chap_secret, chap_target_user, chap_target_secret;
  std::string chap_secret_file, chap_target_secret_file;  // read by resolve_chap_secrets (chap_secrets.hpp)
};

// `isensctl probe` options.
struct probe_options {
  std::string target;
  unsigned connections = 1;
  std::string header_digest = "none";
  std::string data_digest = "none";
  bool events = false;
};

// SendTargets discovery; prints the targets and their portals.
int run_discover(const standalone_options& common);
// Logs in, grows to N connections, reports every LUN, prints events, logs out.
int run_probe(const standalone_options& common, const probe_options& probe);

}  // namespace isensctl
