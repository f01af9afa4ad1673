#include "isens/initiator/json.hpp"

#include "isens/events/event.hpp"

namespace isens::initiator {

using json = nlohmann::ordered_json;

std::string device_type_name(std::uint8_t type) {
  switch (type) {
    case 0x00: return "disk";
    case 0x01: return "tape";
    case 0x05: return "cd/dvd";
    case 0x07: return "optical";
    case 0x08: return "changer";
    case 0x0c: return "controller";
    case 0x0d: return "enclosure";
    case 0x1f: return "unknown";
    default: return "type " + std::to_string(type);
  }
}

json to_json(const portal& p) { return {{"host", p.host}, {"port", p.port}, {"address", p.to_string()}}; }

json to_json(const discovered_target& t) {
  json portals = json::array();
  for (const auto& p : t.portals)
    portals.push_back({{"address", p.address.to_string()}, {"portal_group_tag", p.portal_group_tag}});
  return {{"name", t.name}, {"portals", std::move(portals)}};
}

json to_json(const inquiry_data& d) {
  return {{"device_type", device_type_name(d.device_type)},
          {"peripheral_qualifier", d.peripheral_qualifier},
          {"vendor", d.vendor},
          {"product", d.product},
          {"revision", d.revision},
          {"unit_serial", d.unit_serial},
          {"designators", d.designators}};
}

json to_json(const capacity_data& c) {
  return {{"block_count", c.block_count}, {"block_size", c.block_size}, {"bytes", c.bytes()}};
}

json to_json(const block_limits& l) {
  return {{"max_transfer_blocks", l.max_transfer_blocks},
          {"optimal_transfer_blocks", l.optimal_transfer_blocks},
          {"max_unmap_blocks", l.max_unmap_blocks},
          {"max_write_same_blocks", l.max_write_same_blocks}};
}

json to_json(const thin_provisioning& p) {
  return {{"thin", p.thin},
          {"unmap", p.unmap},
          {"write_same_unmap", p.write_same_unmap},
          {"zeroes_after_unmap", p.zeroes_after_unmap}};
}

json to_json(const device_info& d) {
  json out{{"lun", d.lun}, {"inquiry", to_json(d.inquiry)}};
  out["capacity"] = d.capacity ? to_json(*d.capacity) : json(nullptr);
  out["limits"] = d.limits ? to_json(*d.limits) : json(nullptr);
  out["provisioning"] = d.provisioning ? to_json(*d.provisioning) : json(nullptr);
  return out;
}

json to_json(const connection_info& c) {
  return {{"connection_id", c.connection_id},
          {"cid", c.cid},
          {"local_address", c.local_address},
          {"remote_address", c.remote_address},
          {"max_recv_data_segment_length", c.max_recv_data_segment_length},
          {"max_send_data_segment_length", c.max_send_data_segment_length}};
}

json to_json(const io_counters& io) {
  json buckets = json::array();
  for (std::size_t i = 0; i < io.latency_buckets.size(); ++i) {
    const json le = i < io_latency_bounds_us.size() ? json(io_latency_bounds_us[i]) : json("+Inf");
    buckets.push_back({{"le", le}, {"count", io.latency_buckets[i]}});
  }
  return {{"read_ops", io.read_ops},
          {"read_bytes", io.read_bytes},
          {"write_ops", io.write_ops},
          {"write_bytes", io.write_bytes},
          {"failed", io.failed},
          {"held", io.held},
          {"reissued", io.reissued},
          {"retried", io.retried},
          {"aborted", io.aborted},
          {"lun_resets", io.lun_resets},
          {"in_flight", io.in_flight},
          {"queued", io.queued},
          {"latency", {{"buckets_us", std::move(buckets)}, {"sum_us", io.latency_sum_us}}}};
}

namespace {

// Every operational key of the last login, under the RFC's names in snake
// case; MaxRecvDataSegmentLength once per direction.
json negotiated_json(const session_info& s) {
  return {{"header_digest", s.header_digest ? "CRC32C" : "None"},
          {"data_digest", s.data_digest ? "CRC32C" : "None"},
          {"max_connections", s.max_connections},
          {"initial_r2t", s.initial_r2t},
          {"immediate_data", s.immediate_data},
          {"max_recv_data_segment_length", s.max_recv_data_segment_length},
          {"max_send_data_segment_length", s.max_send_data_segment_length},
          {"max_burst_length", s.max_burst_length},
          {"first_burst_length", s.first_burst_length},
          {"default_time2wait", s.default_time2wait},
          {"default_time2retain", s.default_time2retain},
          {"max_outstanding_r2t", s.max_outstanding_r2t},
          {"data_pdu_in_order", s.data_pdu_in_order},
          {"data_sequence_in_order", s.data_sequence_in_order},
          {"error_recovery_level", s.error_recovery_level},
          {"target_portal_group_tag", s.portal_group_tag ? json(*s.portal_group_tag) : json(nullptr)},
          {"target_alias", s.target_alias}};
}

}  // namespace

json to_json(const session_info& s) {
  json connections = json::array();
  for (const auto& c : s.connections) connections.push_back(to_json(c));
  json devices = json::array();
  for (const auto& d : s.devices) devices.push_back(to_json(d));
  return {{"session_id", s.session_id},
          {"initiator_name", s.initiator_name},
          {"target_name", s.target_name},
          {"target_portal", s.target_portal.to_string()},
          {"isid", events::format_isid(s.isid)},
          {"tsih", s.tsih},
          {"connected", s.connected},
          {"connection_count", s.connections.size()},
          {"auth_type", s.auth_type},
          {"header_digest", s.header_digest ? "CRC32C" : "None"},
          {"data_digest", s.data_digest ? "CRC32C" : "None"},
          {"max_connections", s.max_connections},
          {"portal_group_tag", s.portal_group_tag ? json(*s.portal_group_tag) : json(nullptr)},
          {"connections_wanted", s.connections_wanted},
          {"negotiated", negotiated_json(s)},
          {"connections", std::move(connections)},
          {"devices", std::move(devices)},
          {"io", to_json(s.io)}};
}

}  // namespace isens::initiator
