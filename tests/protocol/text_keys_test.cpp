#include "protocol/text_keys.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using namespace isens::initiator;
using namespace isens::initiator::protocol;

namespace {

byte_buffer bytes(std::string_view s) { return byte_buffer(s.begin(), s.end()); }

errc parse_error(std::string_view s) {
  auto r = parse_text(bytes(s));
  REQUIRE_FALSE(r.has_value());
  return static_cast<errc>(r.error().code.value());
}

}  // namespace

TEST_CASE("append_text writes key=value NUL", "[text_keys]") {
  byte_buffer out;
  append_text(out, "InitiatorName", "iqn.2024-01.org.isens:host");
  append_text(out, key_values{{"SessionType", "Normal"}, {"AuthMethod", "CHAP,None"}});
  CHECK(out == bytes(std::string_view("InitiatorName=iqn.2024-01.org.isens:host\0SessionType=Normal\0"
                                      "AuthMethod=CHAP,None\0",
                                      81)));
}

TEST_CASE("parse_text reads pairs in order", "[text_keys]") {
  auto r = parse_text(bytes(std::string_view("TargetName=iqn.x:t\0TargetAddress=10.0.0.1:3260,1\0Empty=\0", 56)));
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0] == key_value{"TargetName", "iqn.x:t"});
  CHECK((*r)[1] == key_value{"TargetAddress", "10.0.0.1:3260,1"});
  CHECK((*r)[2] == key_value{"Empty", ""});
  CHECK(*find_value(*r, "TargetAddress") == "10.0.0.1:3260,1");
  CHECK(find_value(*r, "Nope") == nullptr);
}

TEST_CASE("parse_text: values may contain '=', and extra NULs are skipped", "[text_keys]") {
  auto r = parse_text(bytes(std::string_view("CHAP_C=0bAAA=\0\0\0", 16)));
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].second == "0bAAA=");
  auto empty = parse_text({});
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
}

TEST_CASE("parse_text rejects malformed text", "[text_keys]") {
  CHECK(parse_error(std::string_view("NoEquals\0", 9)) == errc::malformed_text);
  CHECK(parse_error(std::string_view("=value\0", 7)) == errc::malformed_text);
  CHECK(parse_error(std::string_view("Bad Key=1\0", 10)) == errc::malformed_text);
  CHECK(parse_error(std::string_view("Bad/Key=1\0", 10)) == errc::malformed_text);
  CHECK(parse_error("Unterminated=1") == errc::malformed_text);
  CHECK(parse_error(std::string_view("A=1\0B=2", 7)) == errc::malformed_text);

  const std::string key64(64, 'k');
  CHECK(parse_error(key64 + std::string("=1\0", 3)) == errc::malformed_text);
  const std::string key63(63, 'k');
  CHECK(parse_text(bytes(key63 + std::string("=1\0", 3))).has_value());

  const std::string long_value = "K=" + std::string(max_value_length + 1, 'v') + std::string(1, '\0');
  CHECK(parse_error(long_value) == errc::malformed_text);
  const std::string max_value = "K=" + std::string(max_value_length, 'v') + std::string(1, '\0');
  CHECK(parse_text(bytes(max_value)).has_value());
}

TEST_CASE("key name alphabet", "[text_keys]") {
  CHECK(is_valid_key("X-com.example.Key_1+@"));
  CHECK_FALSE(is_valid_key(""));
  CHECK_FALSE(is_valid_key("a:b"));
}

TEST_CASE("numbers: decimal and hex", "[text_keys]") {
  CHECK(parse_number("262144").value() == 262144u);
  CHECK(parse_number("0x40000").value() == 262144u);
  CHECK(parse_number("0XfF").value() == 255u);
  CHECK(parse_number("0").value() == 0u);
  CHECK(parse_number("18446744073709551615").value() == 18446744073709551615ull);
  CHECK_FALSE(parse_number("18446744073709551616").has_value());
  CHECK_FALSE(parse_number("").has_value());
  CHECK_FALSE(parse_number("0x").has_value());
  CHECK_FALSE(parse_number("-1").has_value());
  CHECK_FALSE(parse_number("+1").has_value());
  CHECK_FALSE(parse_number("12a").has_value());
  CHECK_FALSE(parse_number(" 1").has_value());
  CHECK(parse_number("x").error().code == errc::malformed_text);
}

TEST_CASE("booleans: exactly Yes or No", "[text_keys]") {
  CHECK(parse_boolean("Yes").value());
  CHECK_FALSE(parse_boolean("No").value());
  CHECK_FALSE(parse_boolean("yes").has_value());
  CHECK_FALSE(parse_boolean("").has_value());
  CHECK(boolean_text(true) == "Yes");
  CHECK(boolean_text(false) == "No");
}
