#include "protocol/scsi_sense.hpp"

#include <cstdio>

namespace isens::initiator::protocol {
namespace {

struct asc_entry {
  std::uint8_t asc;
  std::uint8_t ascq;
  std::string_view text;
};

// Common pairs from SPC-4 Annex D (not all of them).
constexpr asc_entry asc_table[] = {
    {0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"},
    {0x04, 0x00, "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE"},
    {0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY"},
    {0x04, 0x02, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"},
    {0x04, 0x03, "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED"},
    {0x04, 0x0a, "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION"},
    {0x04, 0x0b, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE"},
    {0x04, 0x0c, "LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE"},
    {0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"},
    {0x0c, 0x00, "WRITE ERROR"},
    {0x11, 0x00, "UNRECOVERED READ ERROR"},
    {0x1a, 0x00, "PARAMETER LIST LENGTH ERROR"},
    {0x1d, 0x00, "MISCOMPARE DURING VERIFY OPERATION"},
    {0x20, 0x00, "INVALID COMMAND OPERATION CODE"},
    {0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE"},
    {0x24, 0x00, "INVALID FIELD IN CDB"},
    {0x25, 0x00, "LOGICAL UNIT NOT SUPPORTED"},
    {0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"},
    {0x27, 0x00, "WRITE PROTECTED"},
    {0x27, 0x07, "SPACE ALLOCATION FAILED WRITE PROTECT"},
    {0x28, 0x00, "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED"},
    {0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"},
    {0x29, 0x01, "POWER ON OCCURRED"},
    {0x29, 0x02, "SCSI BUS RESET OCCURRED"},
    {0x29, 0x03, "BUS DEVICE RESET FUNCTION OCCURRED"},
    {0x29, 0x04, "DEVICE INTERNAL RESET"},
    {0x29, 0x07, "I_T NEXUS LOSS OCCURRED"},
    {0x2a, 0x01, "MODE PARAMETERS CHANGED"},
    {0x2a, 0x03, "RESERVATIONS PREEMPTED"},
    {0x2a, 0x04, "RESERVATIONS RELEASED"},
    {0x2a, 0x05, "REGISTRATIONS PREEMPTED"},
    {0x2a, 0x06, "ASYMMETRIC ACCESS STATE CHANGED"},
    {0x2a, 0x09, "CAPACITY DATA HAS CHANGED"},
    {0x2c, 0x00, "COMMAND SEQUENCE ERROR"},
    {0x2f, 0x00, "COMMANDS CLEARED BY ANOTHER INITIATOR"},
    {0x31, 0x00, "MEDIUM FORMAT CORRUPTED"},
    {0x38, 0x07, "THIN PROVISIONING SOFT THRESHOLD REACHED"},
    {0x3a, 0x00, "MEDIUM NOT PRESENT"},
    {0x3a, 0x01, "MEDIUM NOT PRESENT - TRAY CLOSED"},
    {0x3a, 0x02, "MEDIUM NOT PRESENT - TRAY OPEN"},
    {0x3f, 0x03, "INQUIRY DATA HAS CHANGED"},
    {0x3f, 0x0e, "REPORTED LUNS DATA HAS CHANGED"},
    {0x44, 0x00, "INTERNAL TARGET FAILURE"},
    {0x47, 0x05, "PROTOCOL SERVICE CRC ERROR"},
    {0x49, 0x00, "INVALID MESSAGE ERROR"},
    {0x4b, 0x00, "DATA PHASE ERROR"},
    {0x4e, 0x00, "OVERLAPPED COMMANDS ATTEMPTED"},
    {0x55, 0x03, "INSUFFICIENT RESOURCES"},
    {0x5d, 0x00, "FAILURE PREDICTION THRESHOLD EXCEEDED"},
    {0x68, 0x00, "LOGICAL UNIT NOT CONFIGURED"},
};

error bad_sense(std::string what) { return make_error(errc::scsi_bad_response, std::move(what)); }

}  // namespace

std::string_view to_string(sense_key k) noexcept {
  switch (k) {
    case sense_key::no_sense: return "NO SENSE";
    case sense_key::recovered_error: return "RECOVERED ERROR";
    case sense_key::not_ready: return "NOT READY";
    case sense_key::medium_error: return "MEDIUM ERROR";
    case sense_key::hardware_error: return "HARDWARE ERROR";
    case sense_key::illegal_request: return "ILLEGAL REQUEST";
    case sense_key::unit_attention: return "UNIT ATTENTION";
    case sense_key::data_protect: return "DATA PROTECT";
    case sense_key::blank_check: return "BLANK CHECK";
    case sense_key::vendor_specific: return "VENDOR SPECIFIC";
    case sense_key::copy_aborted: return "COPY ABORTED";
    case sense_key::aborted_command: return "ABORTED COMMAND";
    case sense_key::reserved: return "RESERVED";
    case sense_key::volume_overflow: return "VOLUME OVERFLOW";
    case sense_key::miscompare: return "MISCOMPARE";
    case sense_key::completed: return "COMPLETED";
  }
  return "UNKNOWN";
}

std::string_view asc_ascq_text(std::uint8_t asc, std::uint8_t ascq) noexcept {
  for (const auto& e : asc_table) {
    if (e.asc == asc && e.ascq == ascq) return e.text;
  }
  return {};
}

std::string describe(const sense_data& s) {
  std::string_view text = asc_ascq_text(s.asc, s.ascq);
  char codes[40];
  std::snprintf(codes, sizeof codes, " (asc 0x%02x ascq 0x%02x)", static_cast<unsigned>(s.asc),
                static_cast<unsigned>(s.ascq));
  std::string out(to_string(s.key));
  out += ": ";
  out += text.empty() ? std::string_view("unlisted additional sense") : text;
  out += codes;
  return out;
}

result<sense_data> parse_sense(byte_span sense) {
  if (sense.size() < 8) return bad_sense("sense data of " + std::to_string(sense.size()) + " bytes (< 8)");
  sense_data s;
  s.response_code = sense[0] & 0x7f;
  switch (s.response_code) {
    case 0x70:
    case 0x71: {
      s.deferred = s.response_code == 0x71;
      s.key = static_cast<sense_key>(sense[2] & 0x0f);
      // ASC/ASCQ at 12/13 exist only when the additional length covers them.
      const std::size_t available = std::min<std::size_t>(sense.size(), 8 + std::size_t{sense[7]});
      if (available >= 14) {
        s.asc = sense[12];
        s.ascq = sense[13];
      }
      return s;
    }
    case 0x72:
    case 0x73:
      s.descriptor_format = true;
      s.deferred = s.response_code == 0x73;
      s.key = static_cast<sense_key>(sense[1] & 0x0f);
      s.asc = sense[2];
      s.ascq = sense[3];
      return s;
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned>(s.response_code));
      return bad_sense(std::string("sense data with unknown response code ") + buf);
    }
  }
}

result<sense_data> parse_sense_segment(byte_span data_segment) {
  if (data_segment.size() < 2) return bad_sense("SCSI response data segment without SenseLength");
  const std::size_t length = load_be16(data_segment.data());
  if (length > data_segment.size() - 2) return bad_sense("SenseLength beyond the data segment");
  return parse_sense(data_segment.subspan(2, length));
}

}  // namespace isens::initiator::protocol
