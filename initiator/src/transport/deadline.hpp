#pragma once
// Bounding the work done on one socket in time. When the limit passes, the
// socket is closed, so whatever is pending on it (connect, read, write) ends
// with an error and `expired()` tells the caller why. One timer and no extra
// coroutine: the awaitable `||` operator it replaces co_spawns both of its
// sides, which the login benchmark showed to cost more than the login itself.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>

namespace isens::initiator::transport {

// The socket's executor must be serial (a strand, or an io_context run by one
// thread) so that the expiry and the socket's user never run at once.
class socket_deadline {
 public:
  using clock = std::chrono::steady_clock;

  socket_deadline(boost::asio::ip::tcp::socket& socket, clock::duration limit)
      : state_(std::make_shared<state>(socket, clock::now() + limit)), limit_(limit) {
    wait(state_);
  }
  ~socket_deadline() { disarm(); }
  socket_deadline(const socket_deadline&) = delete;
  socket_deadline& operator=(const socket_deadline&) = delete;

  // Gives the socket `limit` from now instead (the next step of the same
  // work: connect, then login). A later limit leaves the timer alone, since
  // re-arming it is a syscall each time (Asio updates its timerfd): if it
  // fires at the old limit, it waits again for the rest.
  void restart(clock::duration limit) {
    limit_ = limit;
    state_->limit = clock::now() + limit;
    if (state_->limit < state_->timer.expiry()) {
      state_->timer.expires_at(state_->limit);  // cancels the pending wait
      wait(state_);
    }
  }

  // Stops the clock; the socket is left as it is.
  void disarm() noexcept {
    state_->socket = nullptr;  // the pending handler may still run: it must not touch the socket
    state_->timer.cancel();
  }

  // True when the limit passed (and the socket was closed for it).
  bool expired() const noexcept { return state_->expired; }

  // The limit it was given last (constructor or restart), for messages.
  clock::duration limit() const noexcept { return limit_; }

 private:
  // Shared with the timer's handler, which may run after this object is gone.
  struct state {
    state(boost::asio::ip::tcp::socket& s, clock::time_point at) : timer(s.get_executor(), at), socket(&s), limit(at) {}
    boost::asio::steady_timer timer;
    boost::asio::ip::tcp::socket* socket;
    clock::time_point limit;
    bool expired = false;
  };

  static void wait(const std::shared_ptr<state>& s) {
    s->timer.async_wait([s](const boost::system::error_code& ec) {
      if (ec || s->socket == nullptr) return;  // disarmed or restarted, or the socket's owner left
      if (clock::now() < s->limit) {           // restarted with a later limit
        s->timer.expires_at(s->limit);
        wait(s);
        return;
      }
      s->expired = true;
      boost::system::error_code ignored;
      s->socket->close(ignored);
    });
  }

  std::shared_ptr<state> state_;
  clock::duration limit_;
};

}  // namespace isens::initiator::transport
