#include "protocol/chap.hpp"

#include <boost/algorithm/hex.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/uuid/detail/md5.hpp>

#include <random>

namespace isens::initiator::protocol {
namespace {

bool is_base64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

result<byte_buffer> decode_hex(std::string_view digits) {
  std::string padded = digits.size() % 2 ? "0" + std::string(digits) : std::string(digits);
  byte_buffer out;
  out.reserve(padded.size() / 2);
  try {
    boost::algorithm::unhex(padded.begin(), padded.end(), std::back_inserter(out));
  } catch (const boost::algorithm::hex_decode_error&) {
    return make_error(errc::malformed_text, "binary value with a non-hex digit");
  }
  return out;
}

result<byte_buffer> decode_base64(std::string_view text) {
  namespace b64 = boost::beast::detail::base64;
  if (text.size() % 4 != 0) return make_error(errc::malformed_text, "base64 value not a multiple of 4 characters");
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  const std::string_view body = text.substr(0, text.size() - pad);
  for (char c : body) {
    if (!is_base64_char(c)) return make_error(errc::malformed_text, "binary value with a non-base64 character");
  }
  byte_buffer out(b64::decoded_size(text.size()));
  const auto [written, read] = b64::decode(out.data(), body.data(), body.size());
  if (read != body.size()) return make_error(errc::malformed_text, "undecodable base64 value");
  out.resize(written);
  return out;
}

const std::string* require(const key_values& keys, std::string_view key) { return find_value(keys, key); }

}  // namespace

chap_digest chap_md5_response(std::uint8_t id, std::string_view secret, byte_span challenge) {
  boost::uuids::detail::md5 md5;
  md5.process_byte(id);
  md5.process_bytes(secret.data(), secret.size());
  md5.process_bytes(challenge.data(), challenge.size());
  boost::uuids::detail::md5::digest_type words;
  md5.get_digest(words);
  // Boost stores the digest as four words whose big-endian bytes are the
  // canonical MD5 output.
  chap_digest out{};
  for (std::size_t i = 0; i < 4; ++i) store_be(out.data() + 4 * i, 4, words[i]);
  return out;
}

std::string encode_binary_hex(byte_span bytes) {
  std::string out = "0x";
  boost::algorithm::hex_lower(bytes.begin(), bytes.end(), std::back_inserter(out));
  return out;
}

std::string encode_binary_base64(byte_span bytes) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(2 + b64::encoded_size(bytes.size()), '\0');
  out[0] = '0';
  out[1] = 'b';
  out.resize(2 + b64::encode(out.data() + 2, bytes.data(), bytes.size()));
  return out;
}

result<byte_buffer> decode_binary(std::string_view value) {
  if (value.size() < 3 || value[0] != '0') {
    return make_error(errc::malformed_text, "binary value must start with 0x or 0b and be non-empty");
  }
  const std::string_view body = value.substr(2);
  if (value[1] == 'x' || value[1] == 'X') return decode_hex(body);
  if (value[1] == 'b' || value[1] == 'B') return decode_base64(body);
  return make_error(errc::malformed_text, "binary value must start with 0x or 0b");
}

byte_buffer generate_challenge(std::size_t n) {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  byte_buffer out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(byte(rd));
  return out;
}

bool constant_time_equal(byte_span a, byte_span b) noexcept {
  if (a.size() != b.size()) return false;
  volatile std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

chap_initiator::chap_initiator(chap_credentials initiator, std::optional<chap_credentials> target)
    : initiator_(std::move(initiator)), target_(std::move(target)) {}

key_values chap_initiator::start() const { return {{"CHAP_A", std::to_string(chap_algorithm_md5)}}; }

result<key_values> chap_initiator::respond(const key_values& target_keys) {
  const std::string* a = require(target_keys, "CHAP_A");
  const std::string* i = require(target_keys, "CHAP_I");
  const std::string* c = require(target_keys, "CHAP_C");
  if (!a || !i || !c) return make_error(errc::negotiation_failed, "target sent no CHAP_A, CHAP_I or CHAP_C");
  if (*a != "5") {
    return make_error(errc::negotiation_failed, "target chose CHAP_A=" + a->substr(0, 16) + "; only 5 (MD5) is supported");
  }
  auto id = parse_number(*i);
  if (!id || *id > 255) return make_error(errc::malformed_text, "CHAP_I is not a number in 0..255");
  auto challenge = decode_binary(*c);
  if (!challenge) return make_error(errc::malformed_text, "CHAP_C: " + challenge.error().message);
  if (challenge->empty() || challenge->size() > chap_max_challenge_length) {
    return make_error(errc::malformed_text, "CHAP_C of " + std::to_string(challenge->size()) + " bytes");
  }
  if (!challenge_.empty() && constant_time_equal(*challenge, challenge_)) {
    return make_error(errc::target_auth_failed, "target sent back our own CHAP challenge (reflection)");
  }
  if (target_ && target_->secret == initiator_.secret) {
    return make_error(errc::invalid_argument, "mutual CHAP needs different secrets for each direction");
  }

  const chap_digest response = chap_md5_response(static_cast<std::uint8_t>(*id), initiator_.secret, *challenge);
  key_values out{{"CHAP_N", initiator_.name}, {"CHAP_R", encode_binary_hex(response)}};
  if (target_) {
    do {  // never hand the target its own challenge back (RFC 7143 §12.1.3)
      challenge_ = generate_challenge(chap_challenge_length);
    } while (challenge_ == *challenge);
    id_ = generate_challenge(1)[0];
    out.emplace_back("CHAP_I", std::to_string(id_));
    out.emplace_back("CHAP_C", encode_binary_hex(challenge_));
  }
  return out;
}

result<void> chap_initiator::verify_target(const key_values& target_keys) const {
  if (!target_ || challenge_.empty()) {
    return make_error(errc::invalid_argument, "no mutual CHAP challenge was sent");
  }
  const std::string* n = require(target_keys, "CHAP_N");
  const std::string* r = require(target_keys, "CHAP_R");
  if (!n || !r) return make_error(errc::target_auth_failed, "target sent no CHAP_N or CHAP_R");
  if (!target_->name.empty() && *n != target_->name) {
    return make_error(errc::target_auth_failed, "target CHAP name is not the configured one");
  }
  auto got = decode_binary(*r);
  if (!got) return make_error(errc::malformed_text, "CHAP_R: " + got.error().message);
  const chap_digest want = chap_md5_response(id_, target_->secret, challenge_);
  if (!constant_time_equal(*got, want)) return make_error(errc::target_auth_failed, "target CHAP response is wrong");
  return {};
}

}  // namespace isens::initiator::protocol
