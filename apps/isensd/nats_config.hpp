#pragma once
// The [nats] table of isensd's configuration: the fleet stream's servers,
// credentials (secrets only from files), TLS, stream and bridge settings.

#include "daemon_config.hpp"

#include <toml.hpp>

#include <filesystem>

namespace isens::daemon {

// Applies a [nats] table; throws config_error naming the file and key.
void apply_nats_table(nats_config& c, const toml::value& table, const std::filesystem::path& file);

// Checks what no single key can; fills in the host token and cursor file
// from the rest of the configuration.
void finish_nats_config(daemon_config& c);

}  // namespace isens::daemon
