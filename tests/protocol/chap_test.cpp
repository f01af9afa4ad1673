#include "protocol/chap.hpp"

#include <catch2/catch.hpp>

#include <numeric>

using namespace isens::initiator;
using namespace isens::initiator::protocol;

namespace {

byte_buffer bytes_1_to_16() {
  byte_buffer c(16);
  std::iota(c.begin(), c.end(), std::uint8_t{1});
  return c;
}

errc code_of(const error& e) { return static_cast<errc>(e.code.value()); }

}  // namespace

TEST_CASE("CHAP MD5 known answers", "[chap]") {
  // printf '\x2asecretsecret\x01\x02...\x10' | md5sum
  CHECK(encode_binary_hex(chap_md5_response(0x2a, "secretsecret", bytes_1_to_16())) ==
        "0xf1e0f843607477a0605c5a874f334c82");
  // printf '\x00abc' | md5sum
  const byte_buffer abc{'a', 'b', 'c'};
  CHECK(encode_binary_hex(chap_md5_response(0, "", abc)) == "0x7a3949eab1a4b3609fb05f2699ebeb8f");
  // printf '\x07tgtpassword9\xde\xad\xbe\xef' | md5sum
  const byte_buffer deadbeef{0xde, 0xad, 0xbe, 0xef};
  CHECK(encode_binary_hex(chap_md5_response(7, "tgtpassword9", deadbeef)) == "0x24a200849cf1be42d987ebcd42a44941");
}

TEST_CASE("binary values: hex and base64", "[chap]") {
  const byte_buffer v{0xde, 0xad, 0xbe, 0xef, 0x01};
  CHECK(encode_binary_hex(v) == "0xdeadbeef01");
  CHECK(encode_binary_base64(v) == "0b3q2+7wE=");
  CHECK(decode_binary("0xdeadbeef01").value() == v);
  CHECK(decode_binary("0XDEADBEEF01").value() == v);
  CHECK(decode_binary("0b3q2+7wE=").value() == v);
  CHECK(decode_binary("0B3q2+7wE=").value() == v);
  CHECK(decode_binary("0xabc").value() == byte_buffer{0x0a, 0xbc});  // odd: implied leading zero
  CHECK(decode_binary("0bAAAA").value() == byte_buffer{0, 0, 0});
  CHECK(decode_binary("0bAA==").value() == byte_buffer{0});

  for (const char* garbage : {"", "0x", "0b", "deadbeef", "0xzz", "0xde ad", "0b3q2+7wE", "0b3q2+7w=E",
                              "0b====", "0b3q2*7wE=", "0c1234", "1x12"}) {
    INFO(garbage);
    auto r = decode_binary(garbage);
    REQUIRE_FALSE(r.has_value());
    CHECK(code_of(r.error()) == errc::malformed_text);
  }
}

TEST_CASE("challenges are random and of the asked length", "[chap]") {
  const byte_buffer a = generate_challenge(16);
  const byte_buffer b = generate_challenge(16);
  CHECK(a.size() == 16);
  CHECK(a != b);
  CHECK(generate_challenge(0).empty());
}

TEST_CASE("constant_time_equal", "[chap]") {
  const byte_buffer a{1, 2, 3};
  CHECK(constant_time_equal(a, byte_buffer{1, 2, 3}));
  CHECK_FALSE(constant_time_equal(a, byte_buffer{1, 2, 4}));
  CHECK_FALSE(constant_time_equal(a, byte_buffer{1, 2}));
}

TEST_CASE("one-way CHAP answers the target's challenge", "[chap]") {
  chap_initiator chap({"iqn.2024-01.org.isens:host", "secretsecret"});
  CHECK(chap.start() == key_values{{"CHAP_A", "5"}});
  CHECK_FALSE(chap.mutual());
  auto keys = chap.respond({{"CHAP_A", "5"}, {"CHAP_I", "42"}, {"CHAP_C", "0x0102030405060708090a0b0c0d0e0f10"}});
  REQUIRE(keys.has_value());
  CHECK(*keys == key_values{{"CHAP_N", "iqn.2024-01.org.isens:host"},
                            {"CHAP_R", "0xf1e0f843607477a0605c5a874f334c82"}});
}

TEST_CASE("CHAP refuses what it must refuse", "[chap]") {
  chap_initiator chap({"user", "secretsecret"});
  const auto challenge = std::string("0x0102030405060708090a0b0c0d0e0f10");
  CHECK(code_of(chap.respond({{"CHAP_A", "7"}, {"CHAP_I", "1"}, {"CHAP_C", challenge}}).error()) ==
        errc::negotiation_failed);
  CHECK(code_of(chap.respond({{"CHAP_A", "5"}, {"CHAP_C", challenge}}).error()) == errc::negotiation_failed);
  CHECK(code_of(chap.respond({{"CHAP_A", "5"}, {"CHAP_I", "256"}, {"CHAP_C", challenge}}).error()) ==
        errc::malformed_text);
  CHECK(code_of(chap.respond({{"CHAP_A", "5"}, {"CHAP_I", "1"}, {"CHAP_C", "0xnothex"}}).error()) ==
        errc::malformed_text);
  CHECK(code_of(chap.respond({{"CHAP_A", "5"}, {"CHAP_I", "1"}, {"CHAP_C", "0x" + std::string(2050, 'a')}}).error()) ==
        errc::malformed_text);

  chap_initiator same_secret({"user", "secretsecret"}, chap_credentials{"target", "secretsecret"});
  CHECK(code_of(same_secret.respond({{"CHAP_A", "5"}, {"CHAP_I", "1"}, {"CHAP_C", challenge}}).error()) ==
        errc::invalid_argument);
}

TEST_CASE("mutual CHAP: challenge the target and verify its answer", "[chap]") {
  chap_initiator chap({"user", "initiator-secret"}, chap_credentials{"iqn.target", "target-secret"});
  REQUIRE(chap.mutual());
  const byte_buffer target_challenge = bytes_1_to_16();
  auto keys = chap.respond({{"CHAP_A", "5"}, {"CHAP_I", "9"}, {"CHAP_C", encode_binary_hex(target_challenge)}});
  REQUIRE(keys.has_value());
  REQUIRE(keys->size() == 4);
  const std::string* our_i = find_value(*keys, "CHAP_I");
  const std::string* our_c = find_value(*keys, "CHAP_C");
  REQUIRE(our_i);
  REQUIRE(our_c);
  const byte_buffer sent = decode_binary(*our_c).value();
  CHECK(sent == chap.sent_challenge());
  CHECK(sent.size() == chap_challenge_length);
  CHECK(sent != target_challenge);
  CHECK(*find_value(*keys, "CHAP_R") == encode_binary_hex(chap_md5_response(9, "initiator-secret", target_challenge)));

  const auto id = static_cast<std::uint8_t>(std::stoi(*our_i));
  const std::string good = encode_binary_hex(chap_md5_response(id, "target-secret", sent));
  CHECK(chap.verify_target({{"CHAP_N", "iqn.target"}, {"CHAP_R", good}}).has_value());
  // The same answer in base64 is just as good.
  CHECK(chap.verify_target({{"CHAP_N", "iqn.target"},
                            {"CHAP_R", encode_binary_base64(chap_md5_response(id, "target-secret", sent))}})
            .has_value());

  const std::string wrong = encode_binary_hex(chap_md5_response(id, "wrong-secret", sent));
  CHECK(code_of(chap.verify_target({{"CHAP_N", "iqn.target"}, {"CHAP_R", wrong}}).error()) ==
        errc::target_auth_failed);
  CHECK(code_of(chap.verify_target({{"CHAP_N", "someone-else"}, {"CHAP_R", good}}).error()) ==
        errc::target_auth_failed);
  CHECK(code_of(chap.verify_target({{"CHAP_N", "iqn.target"}}).error()) == errc::target_auth_failed);
  CHECK(code_of(chap.verify_target({{"CHAP_N", "iqn.target"}, {"CHAP_R", "0xgg"}}).error()) == errc::malformed_text);

  SECTION("a target that reflects our challenge is refused") {
    auto again = chap.respond({{"CHAP_A", "5"}, {"CHAP_I", "9"}, {"CHAP_C", *our_c}});
    REQUIRE_FALSE(again.has_value());
    CHECK(code_of(again.error()) == errc::target_auth_failed);
  }
}

TEST_CASE("verify_target needs a mutual exchange first", "[chap]") {
  chap_initiator one_way({"user", "secretsecret"});
  CHECK(code_of(one_way.verify_target({{"CHAP_N", "t"}, {"CHAP_R", "0x00"}}).error()) == errc::invalid_argument);
}
