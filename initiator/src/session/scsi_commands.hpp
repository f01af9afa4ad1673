#pragma once
// The SCSI commands the facade offers, built on session::execute: INQUIRY
// (standard and VPD), READ CAPACITY and REPORT LUNS, with CHECK CONDITION
// turned into a readable error from the sense data.

#include "isens/initiator/types.hpp"
#include "session/session.hpp"

#include <boost/asio/awaitable.hpp>

namespace isens::initiator::detail {

// Standard INQUIRY, plus VPD 0x80 and 0x83 when the device has them.
boost::asio::awaitable<result<inquiry_data>> scsi_inquiry(session& s, std::uint64_t lun);
// READ CAPACITY(16), or (10) when (16) is not supported.
boost::asio::awaitable<result<capacity_data>> scsi_read_capacity(session& s, std::uint64_t lun);
// REPORT LUNS, asking again with a larger buffer if the list was truncated.
boost::asio::awaitable<result<std::vector<std::uint64_t>>> scsi_report_luns(session& s);

}  // namespace isens::initiator::detail
