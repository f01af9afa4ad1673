// A free TCP port on the loopback interface, so every test brings up its own
// peer and tests can run in parallel without sharing fixed ports.
#pragma once

namespace isens::test {

/// A port on 127.0.0.1 that the kernel handed out (bind to port 0) and we
/// released again. Racy by nature: another process may take it before the
/// caller binds, so callers that start a listener must detect that and retry.
unsigned short free_loopback_port();

}  // namespace isens::test
