#pragma once
/// The subscriber that feeds the event journal: every event the bus delivers
/// is appended, and every queue overflow is recorded as a hole, so a reader
/// resuming across it is told to resync.

#include "isens/events/event_journal.hpp"
#include "isens/events/subscriber.hpp"

#include <cstdint>
#include <memory>

namespace isens::events {

/// Appends every event to a journal. Subscribe it without a filter: the
/// journal treats every seq it does not receive as missing, so a filter would
/// only make readers resync needlessly. Append failures are logged and
/// counted by the journal; nothing is thrown back into the bus.
class journal_subscriber : public subscriber {
 public:
  /// Shares the journal: a callback already running when the subscription
  /// ends may still use it.
  explicit journal_subscriber(std::shared_ptr<event_journal> journal);

  /// Appends the event.
  void on_event(const event& e) override;
  /// Records that the `lost` seqs after the last event appended never arrived.
  void on_gap(std::uint64_t lost) override;

  /// The journal written to.
  const std::shared_ptr<event_journal>& journal() const noexcept { return journal_; }

 private:
  std::shared_ptr<event_journal> journal_;
};

}  // namespace isens::events
