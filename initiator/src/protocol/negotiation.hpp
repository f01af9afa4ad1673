#pragma once
/// Operational parameter negotiation (RFC 7143 §6.2, §13): what the
/// initiator offers at login, and how the target's answers combine with it.
///
/// Each negotiated key has a result function (§13): MaxConnections,
/// MaxBurstLength, FirstBurstLength, MaxOutstandingR2T, DefaultTime2Retain
/// and ErrorRecoveryLevel take the minimum; DefaultTime2Wait the maximum;
/// InitialR2T, DataPDUInOrder and DataSequenceInOrder are OR; ImmediateData
/// is AND; HeaderDigest/DataDigest pick one value from the offerer's list.
/// MaxRecvDataSegmentLength is declarative: each side states what it can
/// receive, so the two directions are kept apart.
///
/// Reject, Irrelevant and NotUnderstood answers leave the key at its RFC
/// default — which must still be acceptable (e.g. a Reject of
/// HeaderDigest=CRC32C is a failure when None was not offered).
///
/// Security keys (AuthMethod, CHAP_*) and the declarative names handled by
/// the login flow (InitiatorName, TargetName, SessionType, TargetAddress,
/// ...) are ignored here.

#include "isens/initiator/error.hpp"
#include "protocol/text_keys.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isens::initiator::protocol {

/// SessionType (RFC 7143 §13.21).
enum class session_type : std::uint8_t { normal, discovery };

/// HeaderDigest/DataDigest values.
enum class digest_type : std::uint8_t { none, crc32c };

/// The negotiated parameters of a session and connection; RFC 7143 defaults.
struct operational_parameters {
  digest_type header_digest = digest_type::none;            ///< HeaderDigest
  digest_type data_digest = digest_type::none;              ///< DataDigest
  std::uint32_t max_connections = 1;                        ///< MaxConnections
  bool initial_r2t = true;                                  ///< InitialR2T
  bool immediate_data = true;                               ///< ImmediateData
  std::uint32_t initiator_max_recv_data_segment_length = 8192;  ///< what we declared: the target sends at most this
  std::uint32_t target_max_recv_data_segment_length = 8192;     ///< what the target declared: we send at most this
  std::uint32_t max_burst_length = 262144;                  ///< MaxBurstLength
  std::uint32_t first_burst_length = 65536;                 ///< FirstBurstLength
  std::uint32_t default_time2wait = 2;                      ///< DefaultTime2Wait
  std::uint32_t default_time2retain = 20;                   ///< DefaultTime2Retain
  std::uint32_t max_outstanding_r2t = 1;                    ///< MaxOutstandingR2T
  bool data_pdu_in_order = true;                            ///< DataPDUInOrder
  bool data_sequence_in_order = true;                       ///< DataSequenceInOrder
  std::uint32_t error_recovery_level = 0;                   ///< ErrorRecoveryLevel
  std::optional<std::uint16_t> target_portal_group_tag;     ///< TargetPortalGroupTag, as received
  std::string target_alias;                                 ///< TargetAlias, as received
};

/// What the initiator would like; the offer is built from this.
struct initiator_preferences {
  std::vector<digest_type> header_digests{digest_type::none};  ///< in order of preference
  std::vector<digest_type> data_digests{digest_type::none};    ///< in order of preference
  std::uint32_t max_connections = 1;                 ///< 1..65535
  // The defaults offer what goes fastest; the target's answer decides
  // (InitialR2T is an OR, ImmediateData an AND, the lengths a minimum).
  bool initial_r2t = false;                          ///< InitialR2T offered: No lets writes start unsolicited
  bool immediate_data = true;                        ///< ImmediateData offered
  std::uint32_t max_recv_data_segment_length = 262144;  ///< 512..2^24-1, what we can receive
  std::uint32_t max_burst_length = 1048576;          ///< 512..2^24-1
  std::uint32_t first_burst_length = 262144;         ///< 512..2^24-1, <= max_burst_length
  std::uint32_t default_time2wait = 2;               ///< 0..3600
  std::uint32_t default_time2retain = 20;            ///< 0..3600
  std::uint32_t max_outstanding_r2t = 8;             ///< 1..65535: R2Ts a write may have open at once
  bool data_pdu_in_order = true;                     ///< DataPDUInOrder offered
  bool data_sequence_in_order = true;                ///< DataSequenceInOrder offered
  std::uint32_t error_recovery_level = 0;            ///< 0..2
};

/// The text value of a digest ("None" or "CRC32C").
std::string_view to_string(digest_type d) noexcept;

/// Negotiates the operational keys of one login (one connection).
class negotiator {
 public:
  /// A negotiator that will offer `prefs`.
  explicit negotiator(initiator_preferences prefs);

  /// Appends to `text`, as login text, the keys to send in the first
  /// operational-stage request: session-wide keys only on the leading
  /// connection of a normal session, connection keys (digests,
  /// MaxRecvDataSegmentLength) always. Resets earlier state.
  void append_offer(byte_buffer& text, session_type type, bool leading_connection);

  /// Applies the keys of a login/text response, parsed as views
  /// (parse_text_views): answers to our offer are combined with it, keys the
  /// target offers itself are answered (see `answers_to_target_offers`).
  /// negotiation_failed names the key and value on an answer outside what
  /// was offered, a bad number or boolean, or a key sent twice.
  result<void> apply_response_views(const key_value_views& keys);

  /// Answers owed to keys the target proposed; sending them clears the list.
  key_values answers_to_target_offers();

  /// True when every key we offered has been answered.
  bool all_answered() const noexcept;

  /// Checks the combined result once the target has moved on: FirstBurstLength
  /// is clamped to MaxBurstLength (RFC 7143 §13.14) and unanswered keys keep
  /// their defaults, which must be acceptable.
  result<void> finish();

  /// The parameters negotiated so far.
  const operational_parameters& parameters() const noexcept { return params_; }

 private:
  struct known_key;  // a key name looked up once (negotiation.cpp)
  static known_key look_up(std::string_view key);

  result<void> apply_one(std::string_view key, std::string_view value);
  result<void> apply_answer(const known_key& k, std::string_view key, std::string_view value);
  result<void> answer_target_offer(const known_key& k, std::string_view key, std::string_view value);
  result<void> check_default_acceptable(const known_key& k);
  // Records that the target sent `key`; false when it had sent it before.
  bool note_seen(const known_key& k, std::string_view key);

  initiator_preferences prefs_;
  operational_parameters params_;
  session_type type_ = session_type::normal;
  // A login has about fifteen keys, so the keys the negotiator knows are
  // one bit each (see known_key::bit): no strings kept, no lists searched.
  std::uint64_t offered_ = 0;  // keys sent that await an answer
  std::uint64_t seen_ = 0;     // known keys the target has sent
  std::vector<std::string> seen_unknown_;  // keys the target has sent that the negotiator does not know
  key_values answers_;
};

}  // namespace isens::initiator::protocol
