#pragma once
/// The two JetStream questions the bridge asks at every (re)connect: is the
/// stream there as configured, and what did this host store last.

#include "isens/fleet/bridge_options.hpp"

#include <nats/nats.h>

#include <cstdint>
#include <string>

namespace isens::fleet {

/// Creates the stream, or checks that the existing one has exactly the
/// configured subjects (and updates its limits if only they differ). Throws
/// nats_error with one line, e.g. "stream ISENS_EVENTS exists with subjects
/// [a.>] but [nats] stream_subjects is [isens.v1.ev.>]".
/// Returns what it did: "created", "updated" or "checked".
std::string ensure_stream(jsCtx* js, const stream_options& stream);

/// What a host stored last.
struct last_stored {
  bool any = false;         ///< false: the stream holds nothing of this host
  std::uint64_t seq = 0;    ///< the journal seq it accounts for (Isens-Seq; a gap's last seq)
  std::uint64_t stream_seq = 0;  ///< its sequence in the stream
  std::string boot_id;
};

/// The newest message under `isens.v1.ev.<host>.>` (js_GetLastMsg with a
/// wildcard filter, which nats-server 2.9 answers). Throws nats_error.
last_stored find_last_stored(jsCtx* js, const std::string& stream, const std::string& host_token);

}  // namespace isens::fleet
