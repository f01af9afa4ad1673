#pragma once
/// Which thread takes a process's signals: the one that runs its io_context,
/// never a helper thread.
///
/// A daemon takes SIGTERM and SIGINT on the one thread that runs its
/// io_context (isensd waits for them there with an asio::signal_set): that
/// thread calls take_signals_here() first. The kernel hands
/// a process-directed signal to any thread that does not block it, so every
/// other thread a component starts (the bus's delivery threads and watcher,
/// a plugin's worker, a future NBD server or NATS bridge) must block every
/// signal from its first instruction: start it with
/// start_thread_with_signals_blocked(), or create it while a signal_blocker
/// lives. (A thread that blocks its signals as its first statement leaves a
/// moment in which one can land on it.) Asio does the same for its own
/// threads.
///
/// Why it matters: a signal that lands on a helper thread runs the handler
/// there, not on the io_context's thread. Under ThreadSanitizer it is worse:
/// the runtime defers a signal until the thread it landed on next enters the
/// runtime, which a thread parked in a raw futex syscall never does, so the
/// daemon never sees its SIGTERM.
///
/// A child process started from a helper thread inherits the blocked mask
/// across exec: reset it for the child (posix_spawnattr_setsigmask with an
/// empty set), as the example plugin's command runner does.

#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <initializer_list>
#include <thread>
#include <utility>

namespace isens::events {

namespace detail {
#if defined(__SANITIZE_THREAD__)
inline constexpr bool under_thread_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool under_thread_sanitizer = true;
#else
inline constexpr bool under_thread_sanitizer = false;
#endif
#else
inline constexpr bool under_thread_sanitizer = false;
#endif
}  // namespace detail

/// Blocks every signal on the calling thread while it lives, then restores
/// the thread's previous mask. Threads created meanwhile inherit the blocked
/// mask. (SIGKILL and SIGSTOP cannot be blocked; a fault such as SIGSEGV
/// still ends the process.)
class signal_blocker {
 public:
  signal_blocker() noexcept {
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &previous_);
  }
  ~signal_blocker() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  signal_blocker(const signal_blocker&) = delete;
  signal_blocker& operator=(const signal_blocker&) = delete;

 private:
  sigset_t previous_;
};

/// `Thread(f, args...)` (std::thread by default, or e.g. std::jthread) started
/// with every signal blocked on it; the caller's own mask is left as it was.
template <class Thread = std::thread, class F, class... Args>
Thread start_thread_with_signals_blocked(F&& f, Args&&... args) {
  const signal_blocker blocked;
  return Thread(std::forward<F>(f), std::forward<Args>(args)...);
}

/// Makes the calling thread, the one that runs the io_context, the one that
/// takes `signals`: unblocks them here (whoever started the process may have
/// left them blocked: a mask survives exec). Call it before installing their
/// handler (the asio::signal_set), and so before the process says it is
/// ready.
///
/// Under ThreadSanitizer it also has the runtime set up this thread's signal
/// state now: libtsan sets it up lazily, at the thread's first blocking call,
/// and a signal that arrives while it does so is lost (the handler builds a
/// second state for it, which the interrupted set-up then overwrites). A
/// daemon's first blocking call is its io_context's first epoll_wait, right
/// after it opens its socket: just when a client or systemd sends SIGTERM.
inline void take_signals_here(std::initializer_list<int> signals) noexcept {
  sigset_t ours;
  ::sigemptyset(&ours);
  for (const int signo : signals) ::sigaddset(&ours, signo);
  ::pthread_sigmask(SIG_UNBLOCK, &ours, nullptr);
  if constexpr (detail::under_thread_sanitizer) ::poll(nullptr, 0, 0);  // a blocking call that returns at once
}

}  // namespace isens::events
