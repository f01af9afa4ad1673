#include "session/scsi_commands.hpp"

#include "protocol/scsi_sense.hpp"
#include "protocol/scsi_vpd.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

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

namespace {

// READ CAPACITY(16), or (10) from a device that does not know (16).
asio::awaitable<result<protocol::capacity>> read_capacity(session& s, std::uint64_t lun) {
  auto long_form = co_await run_checked(s, lun, protocol::read_capacity16_cdb(32), 32, "READ CAPACITY(16)");
  if (long_form) co_return protocol::parse_read_capacity16(*long_form);
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
  co_return parsed;
}

// The Block Limits and Logical Block Provisioning pages, where the device
// lists them. Optional: a device without them keeps the defaults.
asio::awaitable<void> read_block_pages(session& s, std::uint64_t lun, const protocol::capacity& capacity,
                                       device_info& device) {
  constexpr std::uint16_t allocation = 255;
  const auto fetch = [&](std::uint8_t page, std::string_view what) {
    return run_checked(s, lun, protocol::inquiry_vpd_cdb(page, allocation), allocation, what);
  };
  const auto listed = co_await fetch(protocol::vpd_supported_pages, "INQUIRY VPD 0x00");
  if (!listed) co_return;
  const auto pages = protocol::parse_supported_vpd_pages(*listed);
  if (!pages) co_return;
  const auto has = [&](std::uint8_t page) { return std::find(pages->begin(), pages->end(), page) != pages->end(); };
  const auto malformed = [&](const error& e) { spdlog::warn("session {}: LUN {}: {}", s.id(), lun, e.what()); };
  if (has(protocol::vpd_block_limits)) {
    if (const auto data = co_await fetch(protocol::vpd_block_limits, "INQUIRY VPD 0xB0")) {
      if (const auto page = protocol::parse_block_limits(*data))
        device.limits = block_limits{page->max_transfer_length, page->optimal_transfer_length,
                                     page->max_unmap_lba_count, page->max_write_same_length};
      else malformed(page.error());
    }
  }
  if (has(protocol::vpd_logical_block_provisioning)) {
    if (const auto data = co_await fetch(protocol::vpd_logical_block_provisioning, "INQUIRY VPD 0xB2")) {
      // The page speaks only for a thin device (LBPME); a fully provisioned
      // one deallocates nothing whatever its bits say.
      if (const auto page = protocol::parse_logical_block_provisioning(*data)) {
        const bool thin = capacity.thin_provisioned;
        device.provisioning = thin_provisioning{thin, thin && page->lbpu, thin && page->lbpws,
                                                thin && (page->lbprz || capacity.zeroes_after_unmap)};
      } else {
        malformed(page.error());
      }
    }
  }
}

}  // namespace

asio::awaitable<result<capacity_data>> scsi_read_capacity(session& s, std::uint64_t lun) {
  auto parsed = co_await read_capacity(s, lun);
  if (!parsed) co_return parsed.error();
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
      if (const auto capacity = co_await read_capacity(*this, lun)) {
        device.capacity = capacity_data{capacity->last_lba + 1, capacity->block_size};
        co_await read_block_pages(*this, lun, *capacity, device);
      }
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
