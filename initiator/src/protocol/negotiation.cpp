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

const std::array<numeric_key, 7> numeric_keys{{
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

const std::array<boolean_key, 4> boolean_keys{{
    {"InitialR2T", combine::bool_or, &operational_parameters::initial_r2t, &initiator_preferences::initial_r2t},
    {"ImmediateData", combine::bool_and, &operational_parameters::immediate_data,
     &initiator_preferences::immediate_data},
    {"DataPDUInOrder", combine::bool_or, &operational_parameters::data_pdu_in_order,
     &initiator_preferences::data_pdu_in_order},
    {"DataSequenceInOrder", combine::bool_or, &operational_parameters::data_sequence_in_order,
     &initiator_preferences::data_sequence_in_order},
}};

// Keys owned by the login flow (security stage, names, redirects).
constexpr std::array<std::string_view, 11> login_flow_keys{
    "AuthMethod", "CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R",
    "InitiatorName", "InitiatorAlias", "TargetName", "SessionType", "TargetAddress"};

const numeric_key* find_numeric(std::string_view key) {
  for (const auto& k : numeric_keys)
    if (k.name == key) return &k;
  return nullptr;
}

const boolean_key* find_boolean(std::string_view key) {
  for (const auto& k : boolean_keys)
    if (k.name == key) return &k;
  return nullptr;
}

bool is_digest_key(std::string_view key) { return key == "HeaderDigest" || key == "DataDigest"; }

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

key_values negotiator::offer(session_type type, bool leading_connection) {
  type_ = type;
  params_ = operational_parameters{};
  offered_.clear();
  seen_.clear();
  answers_.clear();

  key_values keys;
  keys.reserve(3 + numeric_keys.size() + boolean_keys.size());
  // `key` names a static string (a literal or a key table entry), so
  // offered_ can keep the view.
  const auto add = [&](std::string_view key, std::string value, bool expects_answer) {
    if (expects_answer) offered_.push_back(key);
    keys.emplace_back(std::string(key), std::move(value));
  };
  add("HeaderDigest", digest_list(prefs_.header_digests), true);
  add("DataDigest", digest_list(prefs_.data_digests), true);
  if (type == session_type::normal && leading_connection) {
    for (const auto& k : numeric_keys) add(k.name, std::to_string(prefs_.*k.pref), true);
    for (const auto& k : boolean_keys) add(k.name, std::string(boolean_text(prefs_.*k.pref)), true);
  }
  add("MaxRecvDataSegmentLength", std::to_string(prefs_.max_recv_data_segment_length), false);
  params_.initiator_max_recv_data_segment_length = prefs_.max_recv_data_segment_length;
  return keys;
}

result<void> negotiator::apply_response(const key_values& keys) {
  for (const auto& [key, value] : keys) {
    if (auto r = apply_one(key, value); !r) return r;
  }
  return {};
}

result<void> negotiator::apply_one(const std::string& key, const std::string& value) {
  if (std::find(login_flow_keys.begin(), login_flow_keys.end(), key) != login_flow_keys.end()) return {};
  if (was_seen(key)) return failed(key, value, "key sent more than once");
  seen_.push_back(key);
  if (key == "TargetAlias") {
    params_.target_alias = value;
    return {};
  }
  if (key == "TargetPortalGroupTag") {
    auto n = parse_number(value);
    if (!n || *n > 65535) return failed(key, value, "not a 16-bit number");
    params_.target_portal_group_tag = static_cast<std::uint16_t>(*n);
    return {};
  }
  if (key == "MaxRecvDataSegmentLength") {  // declarative: what the target can receive
    auto n = parse_number(value);
    if (!n || *n < 512 || *n > max_24) return failed(key, value, "not a number in 512..16777215");
    params_.target_max_recv_data_segment_length = static_cast<std::uint32_t>(*n);
    return {};
  }
  if (std::find(offered_.begin(), offered_.end(), key) != offered_.end()) return apply_answer(key, value);
  return answer_target_offer(key, value);
}

result<void> negotiator::apply_answer(const std::string& key, const std::string& value) {
  if (is_non_answer(value)) return check_default_acceptable(key);
  if (is_digest_key(key)) {
    const auto d = parse_digest(value);
    const auto& wanted = key == "HeaderDigest" ? prefs_.header_digests : prefs_.data_digests;
    if (!d || std::find(wanted.begin(), wanted.end(), *d) == wanted.end()) {
      return failed(key, value, "not one of the offered " + digest_list(wanted));
    }
    (key == "HeaderDigest" ? params_.header_digest : params_.data_digest) = *d;
    return {};
  }
  if (const auto* k = find_numeric(key)) {
    auto n = parse_number(value);
    if (!n || *n < k->lo || *n > k->hi) {
      return failed(key, value, "not a number in " + std::to_string(k->lo) + ".." + std::to_string(k->hi));
    }
    const std::uint32_t ours = prefs_.*k->pref;
    if (k->fn == combine::min && *n > ours) return failed(key, value, "above the offered " + std::to_string(ours));
    if (k->fn == combine::max && *n < ours) return failed(key, value, "below the offered " + std::to_string(ours));
    params_.*k->param = static_cast<std::uint32_t>(*n);
    return {};
  }
  if (const auto* k = find_boolean(key)) {
    auto b = parse_boolean(value);
    if (!b) return failed(key, value, "not Yes or No");
    const bool ours = prefs_.*k->pref;
    if (k->fn == combine::bool_or && ours && !*b) return failed(key, value, "OR-negotiated key offered as Yes");
    if (k->fn == combine::bool_and && !ours && *b) return failed(key, value, "AND-negotiated key offered as No");
    params_.*k->param = *b;
    return {};
  }
  return {};
}

result<void> negotiator::answer_target_offer(const std::string& key, const std::string& value) {
  if (is_non_answer(value)) return {};  // an answer to something we never offered: nothing to say
  const auto answer = [&](std::string v) { answers_.emplace_back(key, std::move(v)); };
  if (is_digest_key(key)) {
    const auto& ours = key == "HeaderDigest" ? prefs_.header_digests : prefs_.data_digests;
    std::string_view rest = value;
    while (!rest.empty()) {  // the first value of the target's list that we accept
      const auto comma = rest.find(',');
      const auto d = parse_digest(rest.substr(0, comma));
      if (d && std::find(ours.begin(), ours.end(), *d) != ours.end()) {
        (key == "HeaderDigest" ? params_.header_digest : params_.data_digest) = *d;
        answer(std::string(to_string(*d)));
        return {};
      }
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    answer("Reject");
    return check_default_acceptable(key);
  }
  if (const auto* k = find_numeric(key)) {
    auto n = parse_number(value);
    if (!n || *n < k->lo || *n > k->hi) {
      answer("Reject");
      return {};
    }
    const std::uint32_t ours = prefs_.*k->pref;
    const auto theirs = static_cast<std::uint32_t>(*n);
    const std::uint32_t v = k->fn == combine::min ? std::min(ours, theirs) : std::max(ours, theirs);
    params_.*k->param = v;
    answer(std::to_string(v));
    return {};
  }
  if (const auto* k = find_boolean(key)) {
    auto b = parse_boolean(value);
    if (!b) {
      answer("Reject");
      return {};
    }
    const bool ours = prefs_.*k->pref;
    const bool v = k->fn == combine::bool_or ? (ours || *b) : (ours && *b);
    params_.*k->param = v;
    answer(std::string(boolean_text(v)));
    return {};
  }
  if (key == "OFMarker" || key == "IFMarker") {  // RFC 3720 markers: we never use them
    answer("No");
    return {};
  }
  if (key == "OFMarkInt" || key == "IFMarkInt") {
    answer("Irrelevant");
    return {};
  }
  answer("NotUnderstood");
  return {};
}

result<void> negotiator::check_default_acceptable(std::string_view key) {
  if (!is_digest_key(key)) return {};
  const auto& ours = key == "HeaderDigest" ? prefs_.header_digests : prefs_.data_digests;
  if (std::find(ours.begin(), ours.end(), digest_type::none) == ours.end()) {
    return make_error(errc::negotiation_failed, std::string(key) + " was not agreed and its default None was not offered");
  }
  (key == "HeaderDigest" ? params_.header_digest : params_.data_digest) = digest_type::none;
  return {};
}

bool negotiator::was_seen(std::string_view key) const noexcept {
  return std::find(seen_.begin(), seen_.end(), key) != seen_.end();
}

key_values negotiator::answers_to_target_offers() { return std::exchange(answers_, {}); }

bool negotiator::all_answered() const noexcept {
  return std::all_of(offered_.begin(), offered_.end(), [&](std::string_view key) { return was_seen(key); });
}

result<void> negotiator::finish() {
  for (const auto key : offered_) {
    if (!was_seen(key)) {
      if (auto r = check_default_acceptable(key); !r) return r;
    }
  }
  params_.first_burst_length = std::min(params_.first_burst_length, params_.max_burst_length);
  return {};
}

}  // namespace isens::initiator::protocol
