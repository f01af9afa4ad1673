#pragma once
// The bus's Signals2 signal and the one mutex that serialises everything
// done to it: emit (publish), connect (subscribe) and disconnect
// (unsubscribe, bus shutdown). Because that mutex already excludes all
// concurrent use, the signal itself runs with a dummy mutex, so an emit
// takes no lock per slot. It also means a slot runs for one publisher at a
// time, which is what lets each delivery queue be single-producer.

#include "isens/events/event.hpp"

#include <boost/signals2/dummy_mutex.hpp>
#include <boost/signals2/signal.hpp>
#include <boost/signals2/signal_type.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace isens::events::detail {

using event_ptr = std::shared_ptr<const event>;

class delivery_queue;
class pool_task;

struct bus_signal {
  using signal_type =
      boost::signals2::signal_type<void(const event_ptr&),
                                   boost::signals2::keywords::mutex_type<boost::signals2::dummy_mutex>>::type;

  std::mutex mutex;
  std::uint64_t seq = 0;  // guarded by mutex
  signal_type signal;     // guarded by mutex
  // Queues that were idle when the event being emitted reached them; the
  // publisher schedules their drains together once the emit is done.
  std::vector<delivery_queue*> woken;  // guarded by mutex
  std::vector<std::shared_ptr<pool_task>> to_submit;  // guarded by mutex; scratch space, kept for its capacity
};

}  // namespace isens::events::detail
