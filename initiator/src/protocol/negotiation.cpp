#include "protocol/negotiation.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace isens::initiator::protocol {
namespace {

enum class combine { min, max, bool_or, bool_and };

// A negotiated numerical key (RFC 7143 §13) and where it lives.
struct numeric_key {
  std::string_view name;
  std::uint32_t lo;
  std::uint32_t hi;
  combine fn;
  std::uint32_t operational_parameters::*param;
  std::uint32_t initiator_preferences::*pref;
};

// A negotiated boolean key.
struct boolean_key {
  std::string_view name;
  combine fn;
  bool operational_parameters::*param;
  bool initiator_preferences::*pref;
};

constexpr std::uint32_t max_24 = 0xFFFFFF;

constexpr std::array<numeric_key, 7> numeric_keys{{
    {"MaxConnections", 1, 65535, combine::min, &operational_parameters::max_connections,
     &initiator_preferences::max_connections},
    {"MaxBurstLength", 512, max_24, combine::min, &operational_parameters::max_burst_length,
     &initiator_preferences::max_burst_length},
    {"FirstBurstLength", 512, max_24, combine::min, &operational_parameters::first_burst_length,
     &initiator_preferences::first_burst_length},
    {"DefaultTime2Wait", 0, 3600, combine::max, &operational_parameters::default_time2wait,
     &initiator_preferences::default_time2wait},
    {"DefaultTime2Retain", 0, 3600, combine::min, &operational_parameters::default_time2retain,
     &initiator_preferences::default_time2retain},
    {"MaxOutstandingR2T", 1, 65535, combine::min, &operational_parameters::max_outstanding_r2t,
     &initiator_preferences::max_outstanding_r2t},
    {"ErrorRecoveryLevel", 0, 2, combine::min, &operational_parameters::error_recovery_level,
     &initiator_preferences::error_recovery_level},
}};

constexpr std::array<boolean_key, 4> boolean_keys{{
    {"InitialR2T", combine::bool_or, &operational_parameters::initial_r2t, &initiator_preferences::initial_r2t},
    {"ImmediateData", combine::bool_and, &operational_parameters::immediate_data,
     &initiator_preferences::immediate_data},
    {"DataPDUInOrder", combine::bool_or, &operational_parameters::data_pdu_in_order,
     &initiator_preferences::data_pdu_in_order},
    {"DataSequenceInOrder", combine::bool_or, &operational_parameters::data_sequence_in_order,
     &initiator_preferences::data_sequence_in_order},
}};

// What a key is to the negotiator.
enum class key_role : std::uint8_t {
  numeric,                       // numeric_keys[index]
  boolean,                       // boolean_keys[index]
  header_digest,
  data_digest,
  target_alias,                  // declarative, from the target
  portal_group_tag,              // declarative, from the target
  max_recv_data_segment_length,  // declarative: what the target can receive
  marker,                        // OFMarker/IFMarker (RFC 3720): never used
  marker_interval,               // OFMarkInt/IFMarkInt
  login_flow,                    // owned by the login flow (security stage, names, redirects)
  unknown,
};

// The known keys besides numeric_keys and boolean_keys.
struct named_key {
  std::string_view name;
  key_role role;
};

constexpr std::array<named_key, 20> named_keys{{
    {"HeaderDigest", key_role::header_digest},
    {"DataDigest", key_role::data_digest},
    {"TargetAlias", key_role::target_alias},
    {"TargetPortalGroupTag", key_role::portal_group_tag},
    {"MaxRecvDataSegmentLength", key_role::max_recv_data_segment_length},
    {"OFMarker", key_role::marker},
    {"IFMarker", key_role::marker},
    {"OFMarkInt", key_role::marker_interval},
    {"IFMarkInt", key_role::marker_interval},
    {"AuthMethod", key_role::login_flow},
    {"CHAP_A", key_role::login_flow},
    {"CHAP_I", key_role::login_flow},
    {"CHAP_C", key_role::login_flow},
    {"CHAP_N", key_role::login_flow},
    {"CHAP_R", key_role::login_flow},
    {"InitiatorName", key_role::login_flow},
    {"InitiatorAlias", key_role::login_flow},
    {"TargetName", key_role::login_flow},
    {"SessionType", key_role::login_flow},
    {"TargetAddress", key_role::login_flow},
}};

// Each known key's bit in negotiator::offered_ and seen_: numeric_keys
// first, then boolean_keys, then named_keys.
constexpr std::uint64_t numeric_bit(std::size_t i) { return std::uint64_t{1} << i; }
constexpr std::uint64_t boolean_bit(std::size_t i) { return numeric_bit(numeric_keys.size() + i); }
constexpr std::uint64_t named_bit(std::size_t i) { return boolean_bit(boolean_keys.size() + i); }
static_assert(numeric_keys.size() + boolean_keys.size() + named_keys.size() <= 64);
static_assert(named_keys[0].role == key_role::header_digest && named_keys[1].role == key_role::data_digest);
constexpr std::uint64_t header_digest_bit = named_bit(0);
constexpr std::uint64_t data_digest_bit = named_bit(1);

// The text of a digest list as offered: "CRC32C,None".
std::string digest_list(const std::vector<digest_type>& list) {
  std::string s;
  for (auto d : list) {
    if (!s.empty()) s += ',';
    s += to_string(d);
  }
  return s.empty() ? std::string("None") : s;
}

bool is_non_answer(std::string_view value) {
  return value == "Reject" || value == "Irrelevant" || value == "NotUnderstood";
}

std::optional<digest_type> parse_digest(std::string_view v) {
  if (v == "None") return digest_type::none;
  if (v == "CRC32C") return digest_type::crc32c;
  return std::nullopt;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

error failed(std::string_view key, std::string_view value, std::string_view why) {
  return make_error(errc::negotiation_failed,
                    std::string(key) + "=" + printable(value) + " from the target: " + std::string(why));
}

}  // namespace

std::string_view to_string(digest_type d) noexcept { return d == digest_type::crc32c ? "CRC32C" : "None"; }

negotiator::negotiator(initiator_preferences prefs) : prefs_(std::move(prefs)) {
  if (prefs_.header_digests.empty()) prefs_.header_digests.push_back(digest_type::none);
  if (prefs_.data_digests.empty()) prefs_.data_digests.push_back(digest_type::none);
}

struct negotiator::known_key {
  key_role role = key_role::unknown;
  std::uint8_t index = 0;  // into numeric_keys or boolean_keys
  std::uint64_t bit = 0;   // in offered_ and seen_; 0 for an unknown key

  bool is_digest() const noexcept { return role == key_role::header_digest || role == key_role::data_digest; }
  bool is_header_digest() const noexcept { return role == key_role::header_digest; }
};

negotiator::known_key negotiator::look_up(std::string_view key) {
  for (std::uint8_t i = 0; i < numeric_keys.size(); ++i)
    if (numeric_keys[i].name == key) return {key_role::numeric, i, numeric_bit(i)};
  for (std::uint8_t i = 0; i < boolean_keys.size(); ++i)
    if (boolean_keys[i].name == key) return {key_role::boolean, i, boolean_bit(i)};
  for (std::size_t i = 0; i < named_keys.size(); ++i)
    if (named_keys[i].name == key) return {named_keys[i].role, 0, named_bit(i)};
  return {};
}

void negotiator::append_offer(byte_buffer& text, session_type type, bool leading_connection) {
  type_ = type;
  params_ = operational_parameters{};
  offered_ = 0;
  seen_ = 0;
  seen_unknown_.clear();
  answers_.clear();

  append_text(text, "HeaderDigest", digest_list(prefs_.header_digests));
  append_text(text, "DataDigest", digest_list(prefs_.data_digests));
  offered_ |= header_digest_bit | data_digest_bit;
  if (type == session_type::normal && leading_connection) {
    for (std::size_t i = 0; i < numeric_keys.size(); ++i) {
      append_text(text, numeric_keys[i].name, std::to_string(prefs_.*numeric_keys[i].pref));
      offered_ |= numeric_bit(i);
    }
    for (std::size_t i = 0; i < boolean_keys.size(); ++i) {
      append_text(text, boolean_keys[i].name, boolean_text(prefs_.*boolean_keys[i].pref));
      offered_ |= boolean_bit(i);
    }
  }
  // Declarative: it expects no answer.
  append_text(text, "MaxRecvDataSegmentLength", std::to_string(prefs_.max_recv_data_segment_length));
  params_.initiator_max_recv_data_segment_length = prefs_.max_recv_data_segment_length;
}

result<void> negotiator::apply_response_views(const key_value_views& keys) {
  for (const auto& [key, value] : keys) {
    if (auto r = apply_one(key, value); !r) return r;
  }
  return {};
}

bool negotiator::note_seen(const known_key& k, std::string_view key) {
  if (k.bit != 0) return !(std::exchange(seen_, seen_ | k.bit) & k.bit);
  if (std::find(seen_unknown_.begin(), seen_unknown_.end(), key) != seen_unknown_.end()) return false;
  seen_unknown_.emplace_back(key);
  return true;
}

result<void> negotiator::apply_one(std::string_view key, std::string_view value) {
  const auto k = look_up(key);
  if (k.role == key_role::login_flow) return {};
  if (!note_seen(k, key)) return failed(key, value, "key sent more than once");
  if (k.role == key_role::target_alias) {
    params_.target_alias = value;
    return {};
  }
  if (k.role == key_role::portal_group_tag) {
    auto n = parse_number(value);
    if (!n || *n > 65535) return failed(key, value, "not a 16-bit number");
    params_.target_portal_group_tag = static_cast<std::uint16_t>(*n);
    return {};
  }
  if (k.role == key_role::max_recv_data_segment_length) {
    auto n = parse_number(value);
    if (!n || *n < 512 || *n > max_24) return failed(key, value, "not a number in 512..16777215");
    params_.target_max_recv_data_segment_length = static_cast<std::uint32_t>(*n);
    return {};
  }
  if (offered_ & k.bit) return apply_answer(k, key, value);
  return answer_target_offer(k, key, value);
}

result<void> negotiator::apply_answer(const known_key& k, std::string_view key, std::string_view value) {
  if (is_non_answer(value)) return check_default_acceptable(k);
  if (k.is_digest()) {
    const auto d = parse_digest(value);
    const auto& wanted = k.is_header_digest() ? prefs_.header_digests : prefs_.data_digests;
    if (!d || std::find(wanted.begin(), wanted.end(), *d) == wanted.end()) {
      return failed(key, value, "not one of the offered " + digest_list(wanted));
    }
    (k.is_header_digest() ? params_.header_digest : params_.data_digest) = *d;
    return {};
  }
  if (k.role == key_role::numeric) {
    const auto& nk = numeric_keys[k.index];
    auto n = parse_number(value);
    if (!n || *n < nk.lo || *n > nk.hi) {
      return failed(key, value, "not a number in " + std::to_string(nk.lo) + ".." + std::to_string(nk.hi));
    }
    const std::uint32_t ours = prefs_.*nk.pref;
    if (nk.fn == combine::min && *n > ours) return failed(key, value, "above the offered " + std::to_string(ours));
    if (nk.fn == combine::max && *n < ours) return failed(key, value, "below the offered " + std::to_string(ours));
    params_.*nk.param = static_cast<std::uint32_t>(*n);
    return {};
  }
  if (k.role == key_role::boolean) {
    const auto& bk = boolean_keys[k.index];
    auto b = parse_boolean(value);
    if (!b) return failed(key, value, "not Yes or No");
    const bool ours = prefs_.*bk.pref;
    if (bk.fn == combine::bool_or && ours && !*b) return failed(key, value, "OR-negotiated key offered as Yes");
    if (bk.fn == combine::bool_and && !ours && *b) return failed(key, value, "AND-negotiated key offered as No");
    params_.*bk.param = *b;
    return {};
  }
  return {};
}

result<void> negotiator::answer_target_offer(const known_key& k, std::string_view key, std::string_view value) {
  if (is_non_answer(value)) return {};  // an answer to something we never offered: nothing to say
  const auto answer = [&](std::string v) { answers_.emplace_back(key, std::move(v)); };
  if (k.is_digest()) {
    const auto& ours = k.is_header_digest() ? prefs_.header_digests : prefs_.data_digests;
    std::string_view rest = value;
    while (!rest.empty()) {  // the first value of the target's list that we accept
      const auto comma = rest.find(',');
      const auto d = parse_digest(rest.substr(0, comma));
      if (d && std::find(ours.begin(), ours.end(), *d) != ours.end()) {
        (k.is_header_digest() ? params_.header_digest : params_.data_digest) = *d;
        answer(std::string(to_string(*d)));
        return {};
      }
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    answer("Reject");
    return check_default_acceptable(k);
  }
  if (k.role == key_role::numeric) {
    const auto& nk = numeric_keys[k.index];
    auto n = parse_number(value);
    if (!n || *n < nk.lo || *n > nk.hi) {
      answer("Reject");
      return {};
    }
    const std::uint32_t ours = prefs_.*nk.pref;
    const auto theirs = static_cast<std::uint32_t>(*n);
    const std::uint32_t v = nk.fn == combine::min ? std::min(ours, theirs) : std::max(ours, theirs);
    params_.*nk.param = v;
    answer(std::to_string(v));
    return {};
  }
  if (k.role == key_role::boolean) {
    const auto& bk = boolean_keys[k.index];
    auto b = parse_boolean(value);
    if (!b) {
      answer("Reject");
      return {};
    }
    const bool ours = prefs_.*bk.pref;
    const bool v = bk.fn == combine::bool_or ? (ours || *b) : (ours && *b);
    params_.*bk.param = v;
    answer(std::string(boolean_text(v)));
    return {};
  }
  if (k.role == key_role::marker) {  // RFC 3720 markers: we never use them
    answer("No");
    return {};
  }
  if (k.role == key_role::marker_interval) {
    answer("Irrelevant");
    return {};
  }
  answer("NotUnderstood");
  return {};
}

result<void> negotiator::check_default_acceptable(const known_key& k) {
  if (!k.is_digest()) return {};
  const auto& ours = k.is_header_digest() ? prefs_.header_digests : prefs_.data_digests;
  if (std::find(ours.begin(), ours.end(), digest_type::none) == ours.end()) {
    return make_error(errc::negotiation_failed, std::string(k.is_header_digest() ? "HeaderDigest" : "DataDigest") +
                                                    " was not agreed and its default None was not offered");
  }
  (k.is_header_digest() ? params_.header_digest : params_.data_digest) = digest_type::none;
  return {};
}

key_values negotiator::answers_to_target_offers() { return std::exchange(answers_, {}); }

bool negotiator::all_answered() const noexcept { return (offered_ & ~seen_) == 0; }

result<void> negotiator::finish() {
  // Of the offered keys, only the digests have defaults that may be unacceptable.
  const known_key digests[] = {{key_role::header_digest, 0, header_digest_bit}, {key_role::data_digest, 0, data_digest_bit}};
  for (const auto& k : digests) {
    if ((offered_ & ~seen_ & k.bit) == 0) continue;
    if (auto r = check_default_acceptable(k); !r) return r;
  }
  params_.first_burst_length = std::min(params_.first_burst_length, params_.max_burst_length);
  return {};
}

}  // namespace isens::initiator::protocol
