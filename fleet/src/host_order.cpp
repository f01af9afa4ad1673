// Per-host seq bookkeeping for consumers of the fleet stream.
#include "isens/fleet/host_order.hpp"

#include <iterator>

namespace isens::fleet {

// Removes `seq` from the ranges reported missing; false when it was in none.
bool host_order::take_missing(position& p, std::uint64_t seq) {
  for (auto it = p.missing.begin(); it != p.missing.end(); ++it) {
    const auto [first, last] = *it;
    if (seq < first || seq > last) continue;
    if (first == last) {
      p.missing.erase(it);
    } else if (seq == first) {
      it->first = seq + 1;
    } else if (seq == last) {
      it->second = seq - 1;
    } else {
      it->second = seq - 1;
      p.missing.insert(std::next(it), {seq + 1, last});
    }
    return true;
  }
  return false;
}

order_check host_order::see_event(const std::string& host, const std::string& boot_id, std::uint64_t seq) {
  auto [it, inserted] = hosts_.try_emplace(host, position{boot_id, seq, {}});
  if (inserted) return {order_verdict::first, 0, 0};
  auto& last = it->second;
  order_check check{order_verdict::in_order, 0, last.seq + 1};
  if (seq <= last.seq && boot_id == last.boot_id && take_missing(last, seq))
    return {order_verdict::late, 0, last.seq + 1};
  if (seq <= last.seq) {
    // The journal continues seq across restarts, so only a wiped state
    // directory makes a new bus start below it; the same bus repeating a seq
    // is a resend the stream did not deduplicate (older than its window).
    if (boot_id == last.boot_id) return {order_verdict::duplicate, 0, last.seq + 1};
    check.verdict = order_verdict::journal_reset;
  } else if (every_seq_ && seq > last.seq + 1) {
    check.verdict = order_verdict::after_missing;
    check.missing = seq - last.seq - 1;
    last.missing.emplace_back(last.seq + 1, seq - 1);
    if (last.missing.size() > max_missing_ranges) last.missing.pop_front();
  }
  if (check.verdict == order_verdict::journal_reset) last.missing.clear();
  last.boot_id = boot_id;
  last.seq = seq;
  return check;
}

order_check host_order::see_gap(const std::string& host, const std::string& boot_id, std::uint64_t first_seq,
                                 std::uint64_t last_seq) {
  auto [it, inserted] = hosts_.try_emplace(host, position{boot_id, last_seq, {}});
  if (inserted) return {order_verdict::first, 0, 0};
  auto& last = it->second;
  order_check check{order_verdict::in_order, 0, last.seq + 1};
  if (last_seq <= last.seq) return {order_verdict::duplicate, 0, last.seq + 1};
  if (every_seq_ && first_seq > last.seq + 1) {
    check.verdict = order_verdict::after_missing;
    check.missing = first_seq - last.seq - 1;
    last.missing.emplace_back(last.seq + 1, first_seq - 1);
    if (last.missing.size() > max_missing_ranges) last.missing.pop_front();
  }
  last.boot_id = boot_id;
  last.seq = last_seq;
  return check;
}

}  // namespace isens::fleet
