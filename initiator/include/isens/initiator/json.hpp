#pragma once
/// JSON forms of the initiator's value types, for `--json` output and the
/// daemon's control API. CHAP secrets have no JSON form: they never leave
/// the process.

#include "isens/initiator/types.hpp"

#include <nlohmann/json.hpp>

namespace isens::initiator {

/// {"host":…, "port":…, "address":"host:port"}
nlohmann::ordered_json to_json(const portal& p);
/// {"name":…, "portals":[{"address":…, "portal_group_tag":…}]}
nlohmann::ordered_json to_json(const discovered_target& t);
/// Vendor, product, revision, device type, serial and designators.
nlohmann::ordered_json to_json(const inquiry_data& d);
/// {"block_count":…, "block_size":…, "bytes":…}
nlohmann::ordered_json to_json(const capacity_data& c);
/// {"max_transfer_blocks":…, "optimal_transfer_blocks":…, "max_unmap_blocks":…, "max_write_same_blocks":…}
nlohmann::ordered_json to_json(const block_limits& l);
/// {"thin":…, "unmap":…, "write_same_unmap":…, "zeroes_after_unmap":…}
nlohmann::ordered_json to_json(const thin_provisioning& p);
/// A LUN with its inquiry data, capacity, limits and provisioning (null
/// where the device has no such page).
nlohmann::ordered_json to_json(const device_info& d);
/// A connection's ids, addresses and MaxRecvDataSegmentLength both ways.
nlohmann::ordered_json to_json(const connection_info& c);
/// A session's data-path counters; the latency histogram as
/// {"buckets_us":[{"le":50,"count":n}, …, {"le":"+Inf","count":n}], "sum_us":…}
/// (per bucket, not cumulative; "le" in µs).
nlohmann::ordered_json to_json(const io_counters& io);
/// A session as Get-IscsiSession shows it, with its negotiated parameters
/// ("negotiated"), connections, devices and io counters.
nlohmann::ordered_json to_json(const session_info& s);

/// A short name for a SCSI peripheral device type ("disk", "controller", …).
std::string device_type_name(std::uint8_t type);

}  // namespace isens::initiator
