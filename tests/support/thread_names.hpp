#pragma once
// The threads of a process, by name (/proc/PID/task/*/comm), so a test can
// see which threads a component started: the bus's delivery threads and its
// watcher are named. And what each of them blocks (SigBlk in
// /proc/PID/task/TID/status), so a test can see which thread a signal sent
// to the process may land on.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace isens::test {

/// The thread ids of process `pid` (0: this process) whose name is `name`.
std::vector<pid_t> threads_named(const std::string& name, pid_t pid = 0);
/// The name of thread `tid` of process `pid` (0: this process); "" once it is gone.
std::string thread_name(pid_t tid, pid_t pid = 0);
/// Every thread id of process `pid` (0: this process).
std::vector<pid_t> threads_of(pid_t pid = 0);

/// The signals thread `tid` of process `pid` (0: this process) blocks, as the
/// kernel shows them (bit N-1 for signal N); nullopt once the thread is gone.
std::optional<std::uint64_t> blocked_signals(pid_t tid, pid_t pid = 0);
/// True when `mask` (from blocked_signals) has every one of `signals`.
bool blocks_all(std::uint64_t mask, const std::vector<int>& signals);

}  // namespace isens::test
