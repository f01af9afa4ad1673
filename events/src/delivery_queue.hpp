#pragma once
// One subscriber's bounded queue and its strand. The publisher side
// (enqueue) only takes a short lock and, when the queue was idle, posts one
// drain to the strand; the strand delivers whole batches outside the lock.

#include "isens/events/event.hpp"
#include "isens/events/event_filter.hpp"
#include "isens/events/subscriber.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <boost/signals2/connection.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace isens::events::detail {

using event_ptr = std::shared_ptr<const event>;

class delivery_queue : public std::enable_shared_from_this<delivery_queue> {
 public:
  delivery_queue(std::shared_ptr<subscriber> sink, event_filter filter, std::string name, std::size_t capacity,
                 boost::asio::any_io_executor executor);

  // Publisher side: filter, queue (or count as lost), schedule a drain.
  void enqueue(const event_ptr& e);

  // Keeps the Signals2 connection so close() can disconnect it.
  void attach(boost::signals2::connection connection);
  // Stops delivery and disconnects from the bus. Idempotent.
  void close();
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  const std::string& name() const noexcept { return name_; }
  std::uint64_t delivered() const noexcept { return delivered_.load(std::memory_order_relaxed); }
  std::uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  std::size_t depth() const;

 private:
  void drain();
  template <class Callback>
  void call_guarded(Callback&& callback);

  const std::shared_ptr<subscriber> sink_;
  const event_filter filter_;
  const std::string name_;
  const std::size_t capacity_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;

  mutable std::mutex mutex_;
  std::vector<event_ptr> pending_;     // guarded by mutex_
  std::uint64_t lost_pending_ = 0;     // guarded by mutex_: lost after everything in pending_
  bool drain_scheduled_ = false;       // guarded by mutex_
  boost::signals2::connection connection_;  // guarded by mutex_

  std::vector<event_ptr> batch_;  // strand only

  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> lost_{0};
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace isens::events::detail
