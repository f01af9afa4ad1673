#pragma once
// A hint to the CPU that this thread is spinning on memory another thread
// will write: it saves power and lets a sibling hyper-thread run.

namespace isens::events::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace isens::events::detail
