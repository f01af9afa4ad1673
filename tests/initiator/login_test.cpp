// Logging in to a real tgtd: plain, CHAP (one-way and mutual), digests,
// discovery, LUN enumeration, and the events each step raises.
#include "initiator_harness.hpp"
#include "standard_login.hpp"
#include "tgtd_target.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace isens;
using events::event_kind;
using events::event_reason;
using test::quick_login;
using test::standard_login;

TEST_CASE("log in, enumerate every LUN, log out, with events in causal order", "[initiator][tgtd]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;

  auto id = h.run(h.initiator().login_to_target(standard_login(*target)));
  REQUIRE(id);
  auto snapshot = h.initiator().session(*id);
  REQUIRE(snapshot.has_value());
  CHECK(snapshot->connected);
  CHECK(snapshot->target_name == test::standard_iqn);
  CHECK(snapshot->tsih != 0);
  CHECK((snapshot->isid >> 40) == 0x80);  // random-type ISID (RFC 7143 11.12.5)
  CHECK(snapshot->auth_type == "None");
  REQUIRE(snapshot->connections.size() == 1);
  CHECK(snapshot->connections[0].remote_address == target->portal());

  // LUN 0 is tgt's controller; LUNs 1 and 2 are the 64 MiB and 16 MiB disks.
  REQUIRE(snapshot->devices.size() == 3);
  CHECK(snapshot->devices[0].inquiry.device_type == 0x0c);
  CHECK_FALSE(snapshot->devices[0].capacity);
  CHECK(snapshot->devices[1].lun == 1);
  CHECK(snapshot->devices[1].inquiry.vendor == "IET");
  CHECK(snapshot->devices[1].inquiry.product == "VIRTUAL-DISK");
  REQUIRE(snapshot->devices[1].capacity);
  CHECK(snapshot->devices[1].capacity->bytes() == test::standard_lun1_bytes);
  CHECK(snapshot->devices[1].capacity->block_size == 512);
  REQUIRE(snapshot->devices[2].capacity);
  CHECK(snapshot->devices[2].capacity->bytes() == test::standard_lun2_bytes);
  CHECK_FALSE(snapshot->devices[1].inquiry.unit_serial.empty());

  REQUIRE(h.run(h.initiator().logout_from_target(*id)));
  h.recorder().wait_for(event_kind::logoff);
  const auto events = h.recorder().events();
  REQUIRE(events.size() == 5);
  CHECK(h.recorder().kinds() == std::vector{event_kind::connection_made, event_kind::logon, event_kind::session_ready,
                                            event_kind::connection_lost, event_kind::logoff});
  CHECK(events[0].reason == event_reason::admin_login);
  CHECK(events[3].reason == event_reason::admin_logout);
  CHECK(events[4].reason == event_reason::admin_logout);
  for (const auto& e : events) {
    CHECK(e.session_id == *id);
    CHECK(e.target == test::standard_iqn);
    CHECK(e.isid == snapshot->isid);
  }
  CHECK(events[0].cid == 0);
  CHECK(events[0].connection_id == snapshot->connections[0].connection_id);
  CHECK(h.initiator().sessions().empty());
  // The target agrees: no session left.
  CHECK(target->connections(test::standard_tid).empty());
}

TEST_CASE("SendTargets discovery lists the target and its portal", "[initiator][tgtd]") {
  auto target = test::make_standard_target();
  target->add_target("iqn.2026-11.test.isens:second", 2);
  target->add_lun(2, 1, 1 << 20);
  target->bind_all_initiators(2);
  test::initiator_harness h;

  initiator::discovery_options o;
  o.discovery_portal = {"127.0.0.1", target->port()};
  auto targets = h.run(h.initiator().discover(o));
  REQUIRE(targets.has_value());
  REQUIRE(targets->size() == 2);
  std::vector<std::string> names{(*targets)[0].name, (*targets)[1].name};
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"iqn.2026-11.test.isens:disk1", "iqn.2026-11.test.isens:second"});
  REQUIRE_FALSE((*targets)[0].portals.empty());
  CHECK((*targets)[0].portals[0].address.port == target->port());
  CHECK(h.recorder().events().empty());  // a discovery session raises no session events
}

TEST_CASE("CHAP: one-way and mutual succeed, wrong secrets fail both ways", "[initiator][tgtd][chap]") {
  auto target = test::make_standard_target();
  target->add_account("isens-user", "initiator-secret-1");
  target->bind_account(test::standard_tid, "isens-user");
  target->add_account("tgt-user", "target-secret-22");
  target->bind_outgoing_account(test::standard_tid, "tgt-user");
  test::initiator_harness h;

  auto login = standard_login(*target);
  login.enumerate_luns = false;

  SECTION("no credentials: the target refuses, and says authentication") {
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE_FALSE(id);
    CHECK(id.error().code == make_error_code(initiator::errc::login_auth_failed));
    CHECK_THAT(id.error().what(), Catch::Matchers::Contains("CHAP"));
  }
  SECTION("one-way CHAP") {
    login.chap = initiator::chap_credentials{"isens-user", "initiator-secret-1"};
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE(id);
    CHECK(h.initiator().session(*id)->auth_type == "CHAP");
  }
  SECTION("mutual CHAP") {
    login.chap = initiator::chap_credentials{"isens-user", "initiator-secret-1"};
    login.mutual_chap = initiator::chap_credentials{"tgt-user", "target-secret-22"};
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE(id);
    CHECK(h.initiator().session(*id)->auth_type == "Mutual CHAP");
  }
  SECTION("a wrong initiator secret is refused and the message keeps the secret out") {
    login.chap = initiator::chap_credentials{"isens-user", "not-the-secret-9"};
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE_FALSE(id);
    CHECK(id.error().code == make_error_code(initiator::errc::login_auth_failed));
    CHECK_THAT(id.error().what(), Catch::Matchers::Contains("isens-user"));
    CHECK_THAT(id.error().what(), !Catch::Matchers::Contains("not-the-secret-9"));
  }
  SECTION("a target that does not know the mutual secret is caught") {
    login.chap = initiator::chap_credentials{"isens-user", "initiator-secret-1"};
    login.mutual_chap = initiator::chap_credentials{"tgt-user", "what-we-expect-3"};
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE_FALSE(id);
    CHECK(id.error().code == make_error_code(initiator::errc::target_auth_failed));
    CHECK_THAT(id.error().what(), !Catch::Matchers::Contains("what-we-expect-3"));
  }
  if (h.initiator().sessions().empty()) {
    CHECK(h.recorder().events().empty());  // a refused login raises no event
  } else {
    CHECK(h.recorder().wait_for(event_kind::logon).reason == event_reason::admin_login);
  }
}

TEST_CASE("header and data digests are negotiated and used", "[initiator][tgtd][digest]") {
  auto target = test::make_standard_target();
  target->set_target_param(test::standard_tid, "HeaderDigest", "CRC32C,None");
  target->set_target_param(test::standard_tid, "DataDigest", "CRC32C,None");
  test::initiator_harness h;

  auto login = standard_login(*target);
  login.header_digest = initiator::digest::crc32c;
  login.data_digest = initiator::digest::crc32c;
  auto id = h.run(h.initiator().login_to_target(login));
  REQUIRE(id);
  const auto snapshot = h.initiator().session(*id);
  CHECK(snapshot->header_digest);
  CHECK(snapshot->data_digest);
  // Data-In with digests: inquiry and capacity arrive intact.
  auto capacity = h.run(h.initiator().scsi_read_capacity(*id, 1));
  REQUIRE(capacity.has_value());
  CHECK(capacity->bytes() == test::standard_lun1_bytes);
  auto inquiry = h.run(h.initiator().scsi_inquiry(*id, 2));
  REQUIRE(inquiry.has_value());
  CHECK(inquiry->product == "VIRTUAL-DISK");
}

TEST_CASE("a target without digests refuses a session that requires them, clearly", "[initiator][tgtd][digest]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto login = standard_login(*target);
  login.header_digest = initiator::digest::crc32c;
  auto id = h.run(h.initiator().login_to_target(login));
  REQUIRE_FALSE(id);
  CHECK(id.error().code == make_error_code(initiator::errc::negotiation_failed));
  CHECK_THAT(id.error().what(), Catch::Matchers::Contains("HeaderDigest"));
}

TEST_CASE("preferred digests (CRC32C,None) take a digest where the target has one and log in where it has none",
          "[initiator][tgtd][digest]") {
  auto with_digests = test::make_standard_target();
  with_digests->set_target_param(test::standard_tid, "HeaderDigest", "CRC32C,None");
  with_digests->set_target_param(test::standard_tid, "DataDigest", "CRC32C,None");
  auto without_digests = test::make_standard_target();  // tgt's default: None only
  test::initiator_harness h;
  struct expectation {
    test::tgtd_target* target;
    initiator::digest header, data;
    bool header_used, data_used;
  };
  using d = initiator::digest;
  for (const auto& [target, header, data, header_used, data_used] : std::vector<expectation>{
           {with_digests.get(), d::crc32c_or_none, d::crc32c_or_none, true, true},
           // tgt answers from its own list (CRC32C,None) rather than taking the
           // first of ours that it supports (RFC 7143 6.2): a None,CRC32C offer
           // still gets CRC32C from it; that is within what was offered.
           {with_digests.get(), d::none_or_crc32c, d::crc32c_or_none, true, true},
           {without_digests.get(), d::crc32c_or_none, d::crc32c_or_none, false, false},
           {without_digests.get(), d::none_or_crc32c, d::none, false, false}}) {
    INFO(initiator::to_string(header) << " / " << initiator::to_string(data)
                                      << (target == with_digests.get() ? " with" : " without") << " digests");
    auto login = standard_login(*target);
    login.header_digest = header;
    login.data_digest = data;
    auto id = h.run(h.initiator().login_to_target(login));
    REQUIRE(id);
    const auto snapshot = h.initiator().session(*id);
    CHECK(snapshot->header_digest == header_used);
    CHECK(snapshot->data_digest == data_used);
    // Data moves either way: Data-In with or without its digests.
    auto capacity = h.run(h.initiator().scsi_read_capacity(*id, 1));
    REQUIRE(capacity.has_value());
    CHECK(capacity->bytes() == test::standard_lun1_bytes);
    REQUIRE(h.run(h.initiator().logout_from_target(*id)));
  }
}

TEST_CASE("digest choices read and print as isensctl and the config write them", "[initiator][digest]") {
  using d = initiator::digest;
  CHECK(initiator::parse_digest("CRC32C,None") == d::crc32c_or_none);  // open-iscsi's spelling
  CHECK(initiator::parse_digest("crc32c, none") == d::crc32c_or_none);
  CHECK(initiator::parse_digest("None,CRC32C") == d::none_or_crc32c);
  CHECK(initiator::parse_digest("crc32c") == d::crc32c);
  CHECK(initiator::parse_digest("NONE") == d::none);
  CHECK_FALSE(initiator::parse_digest("crc32"));
  CHECK_FALSE(initiator::parse_digest("crc32c,none,crc32c"));
  CHECK_FALSE(initiator::parse_digest(""));
  for (const auto choice : {d::none, d::crc32c, d::crc32c_or_none, d::none_or_crc32c})
    CHECK(initiator::parse_digest(initiator::to_string(choice)) == choice);
}

TEST_CASE("SCSI commands report LUNs and sense data", "[initiator][tgtd][scsi]") {
  auto target = test::make_standard_target();
  test::initiator_harness h;
  auto login = standard_login(*target);
  login.enumerate_luns = false;
  auto id = h.run(h.initiator().login_to_target(login));
  REQUIRE(id);

  auto luns = h.run(h.initiator().scsi_report_luns(*id));
  REQUIRE(luns.has_value());
  CHECK(*luns == std::vector<std::uint64_t>{0, 1, 2});

  // A LUN that does not exist: the target answers CHECK CONDITION, which
  // must read as a sentence, not a number.
  auto missing = h.run(h.initiator().scsi_read_capacity(*id, 7));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == make_error_code(initiator::errc::scsi_check_condition));
  CHECK_THAT(missing.error().what(), Catch::Matchers::Contains("LUN 7"));
  CHECK_THAT(missing.error().what(), Catch::Matchers::Contains("ILLEGAL REQUEST"));

  auto bad_session = h.run(h.initiator().scsi_report_luns(999));
  REQUIRE_FALSE(bad_session.has_value());
  CHECK(bad_session.error().code == make_error_code(initiator::errc::no_such_session));
}
