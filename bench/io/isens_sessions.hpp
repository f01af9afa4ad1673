#pragma once
// isens's sessions to the bench's target: login with 1 to 4 connections
// (MC/S), and the LUN's block size as the session enumerated it.

#include "../common/io_runner.hpp"
#include "bench_setup.hpp"
#include "tgtd_target.hpp"

#include "isens/initiator/initiator.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace isens::bench {

inline isens::initiator::login_options login_options_for(const isens::test::tgtd_target& tgtd) {
  isens::initiator::login_options o;
  o.target_portal = {"127.0.0.1", tgtd.port()};
  o.target_name = bench_iqn;
  o.enumerate_luns = true;  // the data path needs the LUN's block size
  return o;
}

inline std::uint32_t block_size_of(const isens::initiator::initiator& ini, std::uint64_t id, std::uint64_t lun_bytes) {
  const auto info = ini.session(id);
  if (!info) throw std::runtime_error("isens: no snapshot of session " + std::to_string(id));
  for (const auto& d : info->devices) {
    if (d.lun != bench_lun || !d.capacity) continue;
    if (d.capacity->bytes() != lun_bytes)
      throw std::runtime_error("isens sees LUN 1 as " + std::to_string(d.capacity->bytes()) + " bytes, not " +
                               std::to_string(lun_bytes));
    return d.capacity->block_size;
  }
  throw std::runtime_error("isens: LUN 1 was not enumerated");
}

// A session with `connections` connections (MC/S).
inline std::uint64_t login_with(io_runner& runner, isens::initiator::initiator& ini,
                                const isens::test::tgtd_target& tgtd, std::size_t connections) {
  auto id = runner.run(ini.login_to_target(login_options_for(tgtd)));
  if (!id) throw std::runtime_error("isens login failed: " + id.error().what());
  for (std::size_t c = 1; c < connections; ++c) {
    auto added = runner.run(ini.add_connection_to_session(*id));
    if (!added) throw std::runtime_error("isens add_connection_to_session failed: " + added.error().what());
  }
  const auto info = ini.session(*id);
  if (!info || info->connections.size() != connections)
    throw std::runtime_error("isens session has " + std::to_string(info ? info->connections.size() : 0) +
                             " connections, not " + std::to_string(connections));
  return *id;
}

}  // namespace isens::bench
