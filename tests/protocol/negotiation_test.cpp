#include "protocol/negotiation.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace isens::initiator;
using namespace isens::initiator::protocol;

namespace {

bool has_key(const key_values& kv, std::string_view key) { return find_value(kv, key) != nullptr; }

// The offer as the login sends it (append_offer), parsed back for inspection.
key_values offer(negotiator& n, session_type type, bool leading_connection) {
  byte_buffer text;
  n.append_offer(text, type, leading_connection);
  auto keys = parse_text(text);
  REQUIRE(keys.has_value());
  return *keys;
}

// A response as the login applies it: views, here into `keys`.
result<void> apply(negotiator& n, const key_values& keys) {
  const key_value_views views(keys.begin(), keys.end());
  return n.apply_response_views(views);
}

errc code_of(const result<void>& r) {
  REQUIRE_FALSE(r.has_value());
  return static_cast<errc>(r.error().code.value());
}

initiator_preferences fast_prefs() {
  initiator_preferences p;
  p.header_digests = {digest_type::crc32c, digest_type::none};
  p.data_digests = {digest_type::none};
  p.max_connections = 4;
  p.initial_r2t = false;
  p.immediate_data = true;
  p.max_recv_data_segment_length = 262144;
  p.max_burst_length = 1048576;
  p.first_burst_length = 262144;
  p.default_time2wait = 2;
  p.default_time2retain = 20;
  p.max_outstanding_r2t = 8;
  p.error_recovery_level = 0;
  return p;
}

}  // namespace

TEST_CASE("defaults are the RFC 7143 defaults", "[negotiation]") {
  const operational_parameters p;
  CHECK(p.header_digest == digest_type::none);
  CHECK(p.max_connections == 1u);
  CHECK(p.initial_r2t);
  CHECK(p.immediate_data);
  CHECK(p.initiator_max_recv_data_segment_length == 8192u);
  CHECK(p.target_max_recv_data_segment_length == 8192u);
  CHECK(p.max_burst_length == 262144u);
  CHECK(p.first_burst_length == 65536u);
  CHECK(p.default_time2wait == 2u);
  CHECK(p.default_time2retain == 20u);
  CHECK(p.max_outstanding_r2t == 1u);
  CHECK(p.data_pdu_in_order);
  CHECK(p.data_sequence_in_order);
  CHECK(p.error_recovery_level == 0u);
}

TEST_CASE("offer: session keys only on the leading connection of a normal session", "[negotiation]") {
  negotiator n(fast_prefs());
  const key_values lead = offer(n, session_type::normal, true);
  CHECK(*find_value(lead, "HeaderDigest") == "CRC32C,None");
  CHECK(*find_value(lead, "DataDigest") == "None");
  CHECK(*find_value(lead, "MaxRecvDataSegmentLength") == "262144");
  CHECK(*find_value(lead, "MaxConnections") == "4");
  CHECK(*find_value(lead, "InitialR2T") == "No");
  CHECK(*find_value(lead, "ImmediateData") == "Yes");
  CHECK(*find_value(lead, "MaxBurstLength") == "1048576");
  CHECK(*find_value(lead, "FirstBurstLength") == "262144");
  CHECK(*find_value(lead, "MaxOutstandingR2T") == "8");
  CHECK(*find_value(lead, "ErrorRecoveryLevel") == "0");
  CHECK(lead.size() == 14);
  CHECK(n.parameters().initiator_max_recv_data_segment_length == 262144u);

  const key_values second = offer(n, session_type::normal, false);
  CHECK(second.size() == 3);
  CHECK(has_key(second, "HeaderDigest"));
  CHECK(has_key(second, "MaxRecvDataSegmentLength"));
  CHECK_FALSE(has_key(second, "MaxBurstLength"));

  const key_values discovery = offer(n, session_type::discovery, true);
  CHECK(discovery.size() == 3);
  CHECK_FALSE(has_key(discovery, "MaxConnections"));
}

TEST_CASE("apply_response_views combines answers by each key's result function", "[negotiation]") {
  negotiator n(fast_prefs());
  offer(n, session_type::normal, true);
  CHECK_FALSE(n.all_answered());
  REQUIRE(apply(n, {{"HeaderDigest", "CRC32C"},
                    {"DataDigest", "None"},
                    {"MaxConnections", "1"},
                    {"InitialR2T", "Yes"},   // OR: target may force Yes
                    {"ImmediateData", "No"},  // AND: target may force No
                    {"MaxRecvDataSegmentLength", "65536"},
                    {"MaxBurstLength", "262144"},
                    {"FirstBurstLength", "65536"},
                    {"DefaultTime2Wait", "5"},  // max
                    {"DefaultTime2Retain", "0"},  // min
                    {"MaxOutstandingR2T", "1"},
                    {"DataPDUInOrder", "Yes"},
                    {"DataSequenceInOrder", "Yes"},
                    {"ErrorRecoveryLevel", "0"},
                    {"TargetPortalGroupTag", "1"},
                    {"TargetAlias", "disk one"}})
              .has_value());
  CHECK(n.all_answered());
  REQUIRE(n.finish().has_value());
  const auto& p = n.parameters();
  CHECK(p.header_digest == digest_type::crc32c);
  CHECK(p.data_digest == digest_type::none);
  CHECK(p.max_connections == 1u);
  CHECK(p.initial_r2t);
  CHECK_FALSE(p.immediate_data);
  CHECK(p.target_max_recv_data_segment_length == 65536u);
  CHECK(p.initiator_max_recv_data_segment_length == 262144u);
  CHECK(p.max_burst_length == 262144u);
  CHECK(p.first_burst_length == 65536u);
  CHECK(p.default_time2wait == 5u);
  CHECK(p.default_time2retain == 0u);
  CHECK(p.max_outstanding_r2t == 1u);
  CHECK(p.target_portal_group_tag == std::optional<std::uint16_t>(1));
  CHECK(p.target_alias == "disk one");
  CHECK(n.answers_to_target_offers().empty());
}

TEST_CASE("answers outside the offer fail and name the key", "[negotiation]") {
  negotiator n(fast_prefs());
  offer(n, session_type::normal, true);
  SECTION("min key above offer") {
    auto r = apply(n, {{"MaxBurstLength", "2097152"}});
    CHECK(code_of(r) == errc::negotiation_failed);
    CHECK(r.error().message.find("MaxBurstLength=2097152") != std::string::npos);
  }
  SECTION("max key below offer") {
    CHECK(code_of(apply(n, {{"DefaultTime2Wait", "1"}})) == errc::negotiation_failed);
  }
  SECTION("out of range") {
    CHECK(code_of(apply(n, {{"ErrorRecoveryLevel", "3"}})) == errc::negotiation_failed);
    CHECK(code_of(apply(n, {{"MaxOutstandingR2T", "0"}})) == errc::negotiation_failed);
  }
  SECTION("digest not offered") {
    auto r = apply(n, {{"DataDigest", "CRC32C"}});
    CHECK(code_of(r) == errc::negotiation_failed);
    CHECK(r.error().message.find("DataDigest") != std::string::npos);
  }
  SECTION("AND key turned on") {
    initiator_preferences p = fast_prefs();
    p.immediate_data = false;
    negotiator m(p);
    offer(m, session_type::normal, true);
    CHECK(code_of(apply(m, {{"ImmediateData", "Yes"}})) == errc::negotiation_failed);
  }
  SECTION("OR key turned off") {
    initiator_preferences p = fast_prefs();
    p.initial_r2t = true;
    negotiator m(p);
    offer(m, session_type::normal, true);
    CHECK(code_of(apply(m, {{"InitialR2T", "No"}})) == errc::negotiation_failed);
  }
  SECTION("garbage values") {
    CHECK(code_of(apply(n, {{"InitialR2T", "maybe"}})) == errc::negotiation_failed);
    CHECK(code_of(apply(n, {{"MaxConnections", "lots"}})) == errc::negotiation_failed);
    CHECK(code_of(apply(n, {{"MaxRecvDataSegmentLength", "100"}})) == errc::negotiation_failed);
    CHECK(code_of(apply(n, {{"TargetPortalGroupTag", "70000"}})) == errc::negotiation_failed);
  }
  SECTION("a key twice") {
    REQUIRE(apply(n, {{"MaxConnections", "1"}}).has_value());
    CHECK(code_of(apply(n, {{"MaxConnections", "1"}})) == errc::negotiation_failed);
  }
}

TEST_CASE("Reject, Irrelevant and NotUnderstood leave the default", "[negotiation]") {
  negotiator n(fast_prefs());
  offer(n, session_type::normal, true);
  REQUIRE(apply(n, {{"HeaderDigest", "Reject"},
                    {"FirstBurstLength", "Irrelevant"},
                    {"MaxConnections", "NotUnderstood"}})
              .has_value());
  CHECK(n.parameters().header_digest == digest_type::none);
  CHECK(n.parameters().first_burst_length == 65536u);
  CHECK(n.parameters().max_connections == 1u);

  SECTION("but not when the default was not offered") {
    initiator_preferences p;
    p.header_digests = {digest_type::crc32c};
    negotiator m(p);
    offer(m, session_type::normal, true);
    CHECK(code_of(apply(m, {{"HeaderDigest", "Reject"}})) == errc::negotiation_failed);
    negotiator silent(p);
    offer(silent, session_type::normal, true);
    CHECK(code_of(silent.finish()) == errc::negotiation_failed);  // never answered
  }
}

TEST_CASE("keys the target offers are answered", "[negotiation]") {
  negotiator n(fast_prefs());
  offer(n, session_type::normal, false);  // no session keys offered by us
  REQUIRE(apply(n, {{"MaxBurstLength", "65536"},
                    {"DefaultTime2Wait", "10"},
                    {"ImmediateData", "Yes"},
                    {"InitialR2T", "No"},
                    {"OFMarker", "Yes"},
                    {"IFMarkInt", "2048~8192"},
                    {"X-com.vendor.Key", "1"},
                    {"ErrorRecoveryLevel", "7"},
                    {"AuthMethod", "None"},
                    {"CHAP_A", "5"}})
              .has_value());
  const key_values answers = n.answers_to_target_offers();
  CHECK(answers == key_values{{"MaxBurstLength", "65536"},
                              {"DefaultTime2Wait", "10"},
                              {"ImmediateData", "Yes"},
                              {"InitialR2T", "No"},
                              {"OFMarker", "No"},
                              {"IFMarkInt", "Irrelevant"},
                              {"X-com.vendor.Key", "NotUnderstood"},
                              {"ErrorRecoveryLevel", "Reject"}});
  CHECK(n.parameters().max_burst_length == 65536u);
  CHECK(n.parameters().default_time2wait == 10u);
  CHECK_FALSE(n.parameters().initial_r2t);
  CHECK(n.answers_to_target_offers().empty());  // handed out once

  SECTION("digest lists: first one we accept") {
    negotiator m(fast_prefs());
    REQUIRE(apply(m, {{"HeaderDigest", "Bogus,CRC32C,None"}, {"DataDigest", "CRC32C"}}).has_value());
    CHECK(m.answers_to_target_offers() == key_values{{"HeaderDigest", "CRC32C"}, {"DataDigest", "Reject"}});
    CHECK(m.parameters().header_digest == digest_type::crc32c);
    CHECK(m.parameters().data_digest == digest_type::none);
  }
}

TEST_CASE("finish clamps FirstBurstLength to MaxBurstLength", "[negotiation]") {
  initiator_preferences p;
  p.first_burst_length = 262144;
  p.max_burst_length = 262144;
  negotiator n(p);
  offer(n, session_type::normal, true);
  REQUIRE(apply(n, {{"MaxBurstLength", "16384"}, {"FirstBurstLength", "65536"}}).has_value());
  REQUIRE(n.finish().has_value());
  CHECK(n.parameters().first_burst_length == 16384u);
}
