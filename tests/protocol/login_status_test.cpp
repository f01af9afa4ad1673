#include "protocol/login_status.hpp"

#include <catch2/catch.hpp>

using namespace isens::initiator;
using namespace isens::initiator::protocol;

TEST_CASE("login success", "[login_status]") {
  const login_status s = classify_login_status(0, 0);
  CHECK(s.outcome == login_outcome::success);
  CHECK(check_login_status(0, 0).has_value());
}

TEST_CASE("redirects are flagged, temporary or permanent", "[login_status]") {
  const login_status temp = classify_login_status(0x01, 0x01);
  CHECK(temp.outcome == login_outcome::redirect);
  CHECK_FALSE(temp.permanent);
  CHECK(temp.code == errc::redirect_failed);
  CHECK(temp.message == "target moved temporarily (status 0x0101)");
  const login_status perm = classify_login_status(0x01, 0x02);
  CHECK(perm.outcome == login_outcome::redirect);
  CHECK(perm.permanent);
  CHECK(perm.message == "target moved permanently (status 0x0102)");
  CHECK(check_login_status(1, 1).error().code == errc::redirect_failed);
}

TEST_CASE("each RFC 7143 §11.13.5 failure maps to its errc", "[login_status]") {
  struct row {
    std::uint8_t cls, detail;
    errc code;
  };
  const row rows[] = {
      {2, 0x00, errc::login_initiator_error},        {2, 0x01, errc::login_auth_failed},
      {2, 0x02, errc::login_forbidden},              {2, 0x03, errc::login_target_not_found},
      {2, 0x04, errc::login_target_removed},         {2, 0x05, errc::login_unsupported_version},
      {2, 0x06, errc::login_too_many_connections},   {2, 0x07, errc::login_missing_parameter},
      {2, 0x08, errc::login_cant_include_in_session}, {2, 0x09, errc::login_session_type_unsupported},
      {2, 0x0a, errc::login_session_does_not_exist}, {2, 0x0b, errc::login_invalid_request},
      {3, 0x00, errc::login_target_error},           {3, 0x01, errc::login_service_unavailable},
      {3, 0x02, errc::login_out_of_resources},
  };
  for (const auto& r : rows) {
    INFO(int(r.cls) << "/" << int(r.detail));
    const login_status s = classify_login_status(r.cls, r.detail);
    CHECK(s.outcome == login_outcome::failure);
    CHECK(s.code == r.code);
  }
}

TEST_CASE("messages carry the status in hex", "[login_status]") {
  CHECK(classify_login_status(2, 1).message == "authentication failed (status 0x0201)");
  auto r = check_login_status(2, 3);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::login_target_not_found);
  CHECK(r.error().what() == "target not found (status 0x0203)");
}

TEST_CASE("unknown details fall back on the class", "[login_status]") {
  CHECK(classify_login_status(2, 0x7f).code == errc::login_initiator_error);
  CHECK(classify_login_status(3, 0x7f).code == errc::login_target_error);
  CHECK(classify_login_status(3, 0x7f).message == "target error (status 0x037f)");
  CHECK(classify_login_status(0x09, 0x00).outcome == login_outcome::failure);
  CHECK(classify_login_status(0x09, 0x00).code == errc::login_target_error);
}
