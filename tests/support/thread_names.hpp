#pragma once
// The threads of a process, by name (/proc/PID/task/*/comm), so a test can
// see which threads a component started: the bus's delivery threads and its
// watcher are named.

#include <sys/types.h>

#include <string>
#include <vector>

namespace isens::test {

/// The thread ids of process `pid` (0: this process) whose name is `name`.
std::vector<pid_t> threads_named(const std::string& name, pid_t pid = 0);

}  // namespace isens::test
