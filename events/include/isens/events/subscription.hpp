#pragma once
/// The scoped handle a subscription is held by.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace isens::events {

namespace detail {
class delivery_queue;
}  // namespace detail

/// A live subscription; destroying it (or calling unsubscribe) ends it.
/// Move-only. After unsubscribe returns, no new callback starts; one that
/// is already running is allowed to finish.
class subscription {
 public:
  subscription() = default;
  subscription(subscription&&) noexcept;
  subscription& operator=(subscription&&) noexcept;
  ~subscription();

  /// Ends the subscription; safe to call twice, and from inside a callback.
  void unsubscribe();
  /// True until unsubscribed.
  bool active() const noexcept;

  /// Events handed to the subscriber so far.
  std::uint64_t delivered() const noexcept;
  /// Events dropped because the queue was full (each reported via on_gap).
  std::uint64_t lost() const noexcept;
  /// Callbacks that threw.
  std::uint64_t errors() const noexcept;
  /// Events waiting to be delivered right now.
  std::size_t queue_depth() const;

 private:
  friend class event_bus;
  explicit subscription(std::shared_ptr<detail::delivery_queue> queue);

  std::shared_ptr<detail::delivery_queue> queue_;
};

}  // namespace isens::events
