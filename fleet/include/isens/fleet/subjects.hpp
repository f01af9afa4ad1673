#pragma once
/// The names of the fleet stream, shared by the bridge that publishes and the
/// consumers that follow it (docs/fleet.md).
///
///   event      isens.v1.ev.<host>.<session>.<kind>   e.g. isens.v1.ev.web-01.3.logon
///   gap        isens.v1.ev.<host>._.gap              the stream lacks seqs the journal no longer holds
///   heartbeat  isens.v1.hb.<host>                    core NATS (not stored), JSON with the head seq
///   msg id     <host>:<boot_id>:<seq>                the Nats-Msg-Id header; a resend is stored once
///
/// `<session>` is the decimal session id (0 for events without a session),
/// `<kind>` the event kind's wire name (docs/events.md). The version token
/// `v1` lets an incompatible layout live beside this one.
///
/// Host token escaping: subject tokens may only hold [A-Za-z0-9_-] here
/// (NATS forbids '.', '*', '>' and whitespace; '$' is reserved). Every byte
/// outside [A-Za-z0-9-] becomes '_' followed by two upper-case hex digits,
/// '_' itself included ("_5F"), so the escaping is reversible and two hosts
/// never share a token: "db.eu-1" -> "db_2Eeu-1", "a_b" -> "a_5Fb".

#include "isens/events/event.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isens::fleet {

/// The first tokens of every event and gap subject.
inline constexpr std::string_view event_subject_prefix = "isens.v1.ev.";
/// The first tokens of every heartbeat subject.
inline constexpr std::string_view heartbeat_subject_prefix = "isens.v1.hb.";
/// The session token of a gap message.
inline constexpr std::string_view gap_session_token = "_";
/// The kind token of a gap message.
inline constexpr std::string_view gap_kind_token = "gap";
/// The default subjects of the stream (every host's events and gaps).
inline constexpr std::string_view default_stream_subjects = "isens.v1.ev.>";

/// Headers every bridged message carries beside Nats-Msg-Id, so a consumer
/// knows the journal seq without parsing the body.
inline constexpr const char* seq_header = "Isens-Seq";
/// The boot id of the bus that published the event.
inline constexpr const char* boot_id_header = "Isens-Boot-Id";

/// Escapes a host name into one subject token (see the file comment);
/// empty input gives an empty token, which no builder accepts.
std::string escape_host_token(std::string_view host);
/// Reverses escape_host_token; empty when `token` is not a valid escaped token.
std::optional<std::string> unescape_host_token(std::string_view token);
/// True when `token` is a valid, non-empty escaped host token.
bool is_host_token(std::string_view token) noexcept;

/// The host token isensd uses when none is configured: the escaped hostname,
/// or the machine id when the hostname is empty or "localhost".
std::string default_host_token();

/// `isens.v1.ev.<host>.<session>.<kind>` (`host_token` already escaped).
std::string event_subject(std::string_view host_token, std::uint64_t session_id, events::event_kind kind);
/// The same into `out`, replacing what it held (its capacity is reused: the
/// bridge builds one per event without allocating).
void write_event_subject(std::string& out, std::string_view host_token, std::uint64_t session_id,
                         events::event_kind kind);
/// `isens.v1.ev.<host>._.gap`.
std::string gap_subject(std::string_view host_token);
/// `isens.v1.ev.<host>.>`: every event and gap of one host (js_GetLastMsg, consumers).
std::string host_filter(std::string_view host_token);
/// `isens.v1.hb.<host>`.
std::string heartbeat_subject(std::string_view host_token);
/// `<host>:<boot_id>:<seq>`, the Nats-Msg-Id of an event.
std::string event_msg_id(std::string_view host_token, std::string_view boot_id, std::uint64_t seq);
/// The same into `out`, replacing what it held.
void write_event_msg_id(std::string& out, std::string_view host_token, std::string_view boot_id, std::uint64_t seq);
/// `<host>:gap:<first>-<last>`, the Nats-Msg-Id of a gap message.
std::string gap_msg_id(std::string_view host_token, std::uint64_t first_seq, std::uint64_t last_seq);

/// What a fleet subject names.
struct parsed_subject {
  std::string host_token;  ///< escaped, as in the subject
  std::string host;        ///< unescaped
  bool is_heartbeat = false;
  bool is_gap = false;
  std::uint64_t session_id = 0;            ///< events only
  std::optional<events::event_kind> kind;  ///< events only
};

/// Parses an event, gap or heartbeat subject; empty when `subject` is none of
/// them (another version, a malformed token, an unknown kind).
std::optional<parsed_subject> parse_subject(std::string_view subject);

/// A gap message: seqs [first_seq, last_seq] of this host will never reach
/// the stream (the journal no longer holds them, or never did).
struct gap_message {
  std::string host;
  std::string boot_id;          ///< the bridge's bus at the time
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::string reason;           ///< "journal_rotated" | "journal_hole"
  std::uint64_t count() const noexcept { return last_seq - first_seq + 1; }
};

/// {"schema":1,"kind":"gap","host":…,"boot_id":…,"first_seq":a,"last_seq":b,"count":n,"reason":…}
std::string to_json_line(const gap_message& gap);
/// Parses what to_json_line(gap_message) writes; empty when it is not a gap message.
std::optional<gap_message> parse_gap_message(std::string_view json);

/// The heartbeat body: {"schema":1,"host":…,"boot_id":…,"head_seq":n,"acked_seq":m,"time":…}.
std::string heartbeat_json(std::string_view host, std::string_view boot_id, std::uint64_t head_seq,
                           std::uint64_t acked_seq);

}  // namespace isens::fleet
