#include "session/scsi_commands.hpp"

#include "protocol/scsi_sense.hpp"

#include <spdlog/spdlog.h>

namespace isens::initiator::detail {

namespace asio = boost::asio;

namespace {

// Runs a command and requires GOOD status; CHECK CONDITION becomes an error
// carrying the decoded sense ("NOT READY: MEDIUM NOT PRESENT (…)"). A UNIT
// ATTENTION (a target reports "power on, reset" once per new nexus) is not
// about this command: it is sent again.
asio::awaitable<result<protocol::byte_buffer>> run_checked(session& s, std::uint64_t lun, protocol::cdb cdb,
                                                           std::uint32_t read_length, std::string_view what) {
  for (int attempt = 0;; ++attempt) {
    auto reply = co_await s.execute({lun, cdb, read_length});
    if (!reply) co_return reply.error();
    const auto status = static_cast<protocol::scsi_status>(reply->status);
    if (status == protocol::scsi_status::good) co_return std::move(reply->data);
    std::string message = std::string(what) + " on LUN " + std::to_string(lun) + " failed: " +
                          std::string(protocol::to_string(status));
    if (status != protocol::scsi_status::check_condition) co_return make_error(errc::scsi_bad_status, message);
    const auto sense = protocol::parse_sense_segment(reply->sense);
    if (sense && sense->key == protocol::sense_key::unit_attention && attempt < 3) continue;
    if (sense) message += ": " + protocol::describe(*sense);
    co_return make_error(errc::scsi_check_condition, message);
  }
}

std::string readable_designator(const protocol::designation_descriptor& d) {
  switch (d.designator_type) {
    case 1: return "t10." + d.text;
    case 2: return "eui." + d.text;
    case 3: return "naa." + d.text;
    case 8: return d.text;
    default: return "type" + std::to_string(d.designator_type) + "." + d.text;
  }
}

}  // namespace

asio::awaitable<result<inquiry_data>> scsi_inquiry(session& s, std::uint64_t lun) {
  constexpr std::uint16_t allocation = 255;
  auto standard = co_await run_checked(s, lun, protocol::inquiry_cdb(allocation), allocation, "INQUIRY");
  if (!standard) co_return standard.error();
  auto parsed = protocol::parse_standard_inquiry(*standard);
  if (!parsed) co_return parsed.error();

  inquiry_data out;
  out.peripheral_qualifier = parsed->peripheral_qualifier;
  out.device_type = parsed->device_type;
  out.vendor = parsed->vendor;
  out.product = parsed->product;
  out.revision = parsed->revision;

  // VPD pages are optional: a device without them answers CHECK CONDITION.
  auto serial = co_await run_checked(s, lun, protocol::inquiry_vpd_cdb(protocol::vpd_unit_serial_number, allocation),
                                     allocation, "INQUIRY VPD 0x80");
  if (serial) {
    if (auto text = protocol::parse_unit_serial_number(*serial)) out.unit_serial = *text;
  }
  auto ids = co_await run_checked(s, lun, protocol::inquiry_vpd_cdb(protocol::vpd_device_identification, allocation),
                                  allocation, "INQUIRY VPD 0x83");
  if (ids) {
    if (auto descriptors = protocol::parse_device_identification(*ids)) {
      for (const auto& d : *descriptors) out.designators.push_back(readable_designator(d));
    }
  }
  co_return out;
}

asio::awaitable<result<capacity_data>> scsi_read_capacity(session& s, std::uint64_t lun) {
  auto long_form = co_await run_checked(s, lun, protocol::read_capacity16_cdb(32), 32, "READ CAPACITY(16)");
  if (long_form) {
    auto parsed = protocol::parse_read_capacity16(*long_form);
    if (!parsed) co_return parsed.error();
    co_return capacity_data{parsed->last_lba + 1, parsed->block_size};
  }
  // Only a device that does not know READ CAPACITY(16) gets the short form.
  if (long_form.error().code != make_error_code(errc::scsi_check_condition)) co_return long_form.error();
  auto short_form = co_await run_checked(s, lun, protocol::read_capacity10_cdb(), 8, "READ CAPACITY(10)");
  if (!short_form) co_return short_form.error();
  auto parsed = protocol::parse_read_capacity10(*short_form);
  if (!parsed) co_return parsed.error();
  if (parsed->needs_read_capacity16)
    co_return make_error(errc::scsi_bad_response, "LUN " + std::to_string(lun) +
                                                      " is larger than READ CAPACITY(10) can say, and READ CAPACITY(16) failed: " +
                                                      long_form.error().what());
  co_return capacity_data{parsed->last_lba + 1, parsed->block_size};
}

asio::awaitable<result<std::vector<std::uint64_t>>> scsi_report_luns(session& s) {
  std::uint32_t allocation = 8 + 8 * 64;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto data = co_await run_checked(s, 0, protocol::report_luns_cdb(allocation), allocation, "REPORT LUNS");
    if (!data) co_return data.error();
    auto parsed = protocol::parse_report_luns(*data);
    if (!parsed) co_return parsed.error();
    if (!parsed->truncated) co_return std::move(parsed->luns);
    allocation = 8 + parsed->list_length;
  }
  co_return make_error(errc::scsi_bad_response, "REPORT LUNS kept growing between two calls");
}

asio::awaitable<void> session::enumerate_devices() {
  auto luns = co_await scsi_report_luns(*this);
  if (!luns) {
    spdlog::warn("session {}: cannot enumerate LUNs: {}", id_, luns.error().what());
    co_return;
  }
  std::vector<device_info> found;
  for (const auto lun : *luns) {
    device_info device;
    device.lun = lun;
    auto inquiry = co_await scsi_inquiry(*this, lun);
    if (!inquiry) {
      spdlog::warn("session {}: INQUIRY of LUN {} failed: {}", id_, lun, inquiry.error().what());
      continue;
    }
    device.inquiry = std::move(*inquiry);
    if (device.inquiry.device_type == 0x00) {  // direct-access block device
      auto capacity = co_await scsi_read_capacity(*this, lun);
      if (capacity) device.capacity = *capacity;
    }
    found.push_back(std::move(device));
  }
  if (state_ != state::logged_in) co_return;
  devices_ = std::move(found);
  update_snapshot();
  publish(events::event_kind::session_ready, events::event_reason::none, nullptr,
          std::to_string(devices_.size()) + " LUNs");
}

}  // namespace isens::initiator::detail
