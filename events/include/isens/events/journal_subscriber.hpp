#pragma once
/// The subscriber that feeds the event journal: every event the bus delivers
/// is appended, and every queue overflow is recorded as a hole, so a reader
/// resuming across it is told to resync.

#include "isens/events/batching_subscriber.hpp"
#include "isens/events/event_journal.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace isens::events {

/// Appends every event to a journal. Subscribe it without a filter: the
/// journal treats every seq it does not receive as missing, so a filter would
/// only make readers resync needlessly. Append failures are logged and
/// counted by the journal; nothing is thrown back into the bus.
///
/// Each event is serialised as it arrives and the run the bus delivers at
/// once (what was queued, at most 512) is appended with one lock and one
/// write(): the events of a run wait in this subscriber instead of in the
/// bus's queue, both in memory, so a crash loses nothing more than before.
class journal_subscriber : public batching_subscriber {
 public:
  /// Shares the journal: a callback already running when the subscription
  /// ends may still use it.
  explicit journal_subscriber(std::shared_ptr<event_journal> journal);
  /// Appends what is still kept (a subscription closed mid-run).
  ~journal_subscriber() override;

  /// Serialises the event and keeps it for the end of the run.
  void on_event(const event& e) override;
  /// Appends the events kept, then hands them to journaled().
  void on_batch_end() override;
  /// Appends the events kept, then records that the `lost` seqs after them
  /// never arrived.
  void on_gap(std::uint64_t lost) override;

  /// The journal written to.
  const std::shared_ptr<event_journal>& journal() const noexcept { return journal_; }

 protected:
  /// Called with each run once appended (`stored` says which made it):
  /// a subclass takes what it needs, moving from them if it likes.
  virtual void journaled(std::vector<journal_record>& records) { (void)records; }

 private:
  void append_kept();

  std::shared_ptr<event_journal> journal_;
  std::vector<journal_record> kept_;
};

}  // namespace isens::events
