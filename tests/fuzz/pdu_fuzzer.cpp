// libFuzzer target: untrusted bytes through the PDU reader path (BHS, then
// body) under each digest setting, and through the SCSI response parsers
// that read PDU data segments.
#include "protocol/pdu.hpp"
#include "protocol/scsi.hpp"
#include "protocol/scsi_sense.hpp"
#include "protocol/scsi_vpd.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace isens::initiator::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_span input(data, size);
  if (size >= bhs_size) {
    const auto bhs = input.first<bhs_size>();
    const byte_span rest = input.subspan(bhs_size);
    for (digest_settings d : {digest_settings{}, digest_settings{true, true}}) {
      auto layout = inspect_header(bhs, d, 1u << 20);
      if (!layout) continue;
      const std::size_t want = layout->rest_length();
      auto p = decode_body(bhs, rest.first(std::min(want, rest.size())), d, *layout);
      if (p && rest.size() >= want) {
        // A decoded PDU re-encodes to exactly the bytes it came from,
        // except padding bytes, which we write as zeros.
        const byte_buffer again = encode(*p, d);
        if (again.size() != bhs_size + want) std::abort();
        auto back = decode(again, d, 1u << 20);
        if (!back || back->data != p->data || back->ahs != p->ahs || back->bhs != p->bhs) std::abort();
      }
    }
  }
  (void)parse_sense_segment(input);
  (void)parse_sense(input);
  (void)parse_standard_inquiry(input);
  (void)parse_unit_serial_number(input);
  (void)parse_device_identification(input);
  (void)parse_read_capacity10(input);
  (void)parse_read_capacity16(input);
  (void)parse_report_luns(input);
  (void)parse_supported_vpd_pages(input);
  (void)parse_block_limits(input);
  (void)parse_logical_block_provisioning(input);
  if (size >= 8) (void)decode_lun(load_be64(data));
  return 0;
}
