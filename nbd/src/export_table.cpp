#include "export_table.hpp"

#include "wire.hpp"

#include <algorithm>

namespace isens::nbd::detail {

void live_counters::count(std::uint16_t type, std::uint64_t bytes, std::uint32_t error,
                          std::uint64_t latency_us) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  switch (type) {
    case wire::cmd_read: reads.fetch_add(1, relaxed); break;
    case wire::cmd_write: writes.fetch_add(1, relaxed); break;
    case wire::cmd_flush: flushes.fetch_add(1, relaxed); break;
    case wire::cmd_trim: trims.fetch_add(1, relaxed); break;
    case wire::cmd_write_zeroes: zeroes.fetch_add(1, relaxed); break;
    default: break;
  }
  if (error != 0) {
    errors.fetch_add(1, relaxed);
  } else if (type == wire::cmd_read) {
    read_bytes.fetch_add(bytes, relaxed);
  } else if (type == wire::cmd_write) {
    write_bytes.fetch_add(bytes, relaxed);
  }
  const auto& bounds = initiator::io_latency_bounds_us;
  // Bucket i counts latencies up to bounds[i].
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), latency_us) - bounds.begin());
  latency_buckets[std::min(bucket, bounds.size())].fetch_add(1, relaxed);
  latency_sum_us.fetch_add(latency_us, relaxed);
}

export_counters live_counters::snapshot() const noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  export_counters c;
  c.reads = reads.load(relaxed);
  c.writes = writes.load(relaxed);
  c.flushes = flushes.load(relaxed);
  c.trims = trims.load(relaxed);
  c.zeroes = zeroes.load(relaxed);
  c.read_bytes = read_bytes.load(relaxed);
  c.write_bytes = write_bytes.load(relaxed);
  c.errors = errors.load(relaxed);
  c.attaches = attaches.load(relaxed);
  for (std::size_t i = 0; i < c.latency_buckets.size(); ++i) c.latency_buckets[i] = latency_buckets[i].load(relaxed);
  c.latency_sum_us = latency_sum_us.load(relaxed);
  return c;
}

export_info export_state::snapshot() const {
  auto out = info;
  out.clients = clients.load(std::memory_order_relaxed);
  out.counters = counters.snapshot();
  return out;
}

bool export_table::add(const std::shared_ptr<export_state>& e) {
  std::lock_guard lock(mutex_);
  if (by_name_.contains(e->info.name) || by_alias_.contains(e->info.alias)) return false;
  by_name_.emplace(e->info.name, e);
  by_alias_.emplace(e->info.alias, e);
  return true;
}

std::vector<std::shared_ptr<export_state>> export_table::remove_session(std::uint64_t session_id) {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<export_state>> gone;
  std::erase_if(by_name_, [&](const auto& kv) {
    if (kv.second->info.session_id != session_id) return false;
    gone.push_back(kv.second);
    return true;
  });
  std::erase_if(by_alias_, [&](const auto& kv) { return kv.second->info.session_id == session_id; });
  return gone;
}

std::vector<std::shared_ptr<export_state>> export_table::clear() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<export_state>> gone;
  for (auto& [name, e] : by_name_) gone.push_back(e);
  by_name_.clear();
  by_alias_.clear();
  return gone;
}

std::shared_ptr<export_state> export_table::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  if (auto it = by_alias_.find(name); it != by_alias_.end()) return it->second;
  return nullptr;
}

std::vector<std::shared_ptr<export_state>> export_table::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<export_state>> out;
  for (const auto& [name, e] : by_name_) out.push_back(e);
  return out;
}

}  // namespace isens::nbd::detail
