#include "isens/events/subscriber.hpp"

namespace isens::events {

void dispatch(subscriber& sink, const event& e) {
  sink.on_event(e);
  switch (e.kind) {
    case event_kind::connection_made: sink.on_connection_made(e); break;
    case event_kind::connection_lost: sink.on_connection_lost(e); break;
    case event_kind::logon: sink.on_logon(e); break;
    case event_kind::logoff: sink.on_logoff(e); break;
    case event_kind::session_disconnect: sink.on_session_disconnect(e); break;
    case event_kind::session_reconnect: sink.on_session_reconnect(e); break;
    case event_kind::session_ready: sink.on_session_ready(e); break;
    // No callbacks of their own (that would change the plugin ABI): on_event sees them.
    case event_kind::nbd_attach:
    case event_kind::nbd_detach: break;
  }
}

}  // namespace isens::events
