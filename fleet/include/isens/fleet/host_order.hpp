#pragma once
/// Per-host order of the fleet stream, as a consumer sees it: each host's
/// journal seq goes up by one per event (also across isensd restarts), so a
/// consumer can tell an event in order from a resend it already has and from
/// a hole the stream should not have (docs/fleet.md, Message ids, order).

#include <cstdint>
#include <deque>
#include <utility>
#include <string>
#include <unordered_map>

namespace isens::fleet {

/// What a message means for its host's order.
enum class order_verdict {
  first,          ///< the first message of this host seen here: nothing to compare with
  in_order,       ///< the next seq (or, under a kind filter, a later one)
  duplicate,      ///< a seq already seen from this bus: skip it
  late,           ///< a seq reported missing earlier, arriving after later ones (the bridge
                  ///< resent one publish the broker had refused while it stored the next)
  after_missing,  ///< seqs before it never arrived (order_check::missing of them)
  journal_reset,  ///< a new bus starting below the last seq: the host's journal was wiped
};

/// The verdict, and for after_missing how many seqs are missing.
struct order_check {
  order_verdict verdict = order_verdict::first;
  std::uint64_t missing = 0;        ///< after_missing: seqs (expected_seq .. seq-1) not seen
  std::uint64_t expected_seq = 0;   ///< the seq that should have come (0 for first)
};

/// The last seq seen per host. Not thread-safe.
class host_order {
 public:
  /// `every_seq`: the consumer sees every event of a host (no kind filter),
  /// so a seq jump is a hole; false: only duplicates and resets are found.
  explicit host_order(bool every_seq) : every_seq_(every_seq) {}

  /// Judges an event and, unless it is a duplicate, remembers it.
  order_check see_event(const std::string& host, const std::string& boot_id, std::uint64_t seq);
  /// A gap message accounts for seqs first..last: they are not missing.
  order_check see_gap(const std::string& host, const std::string& boot_id, std::uint64_t first_seq,
                      std::uint64_t last_seq);

 private:
  struct position {
    std::string boot_id;
    std::uint64_t seq = 0;
    /// Seqs jumped over (first, last), oldest first, so a late one is told
    /// from a duplicate; bounded (max_missing_ranges).
    std::deque<std::pair<std::uint64_t, std::uint64_t>> missing;
  };
  static constexpr std::size_t max_missing_ranges = 64;
  static bool take_missing(position& p, std::uint64_t seq);
  bool every_seq_;
  std::unordered_map<std::string, position> hosts_;
};

}  // namespace isens::fleet
