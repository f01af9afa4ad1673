#pragma once
/// A subscriber told where each run of deliveries ends, so that it can keep
/// what on_event hands it and write it out in one go (the journal's
/// subscriber: one lock and one write() per run instead of per event).

#include "isens/events/subscriber.hpp"

namespace isens::events {

/// Derive from this instead of `subscriber` to be told when a run ends.
/// A class of its own, so `subscriber`'s layout (the plugin ABI) is unchanged.
class batching_subscriber : public subscriber {
 public:
  /// The bus has delivered a run of events: what was queued for this
  /// subscriber when the run began, at most 512. Called after the run's last
  /// on_event, on the subscriber's strand like every other callback; an
  /// on_gap inside a run comes between two events as usual, so a subscriber
  /// that keeps events must write them out before acting on the gap.
  virtual void on_batch_end() = 0;
};

}  // namespace isens::events
