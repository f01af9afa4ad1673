// What admins coming from Get-IscsiSession / Register-IscsiSession and
// open-iscsi reach for: the snapshot says which sessions are persistent;
// `unregister` takes session ids, several at once; a second registration of
// one target and portal is refused, naming the holder; digests can be
// preferred (CRC32C,None) rather than demanded.
#include "daemon_fixture.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

namespace {

using namespace isens::test;
using namespace std::chrono_literals;

run_result isensctl(const daemon_with_target& env, std::vector<std::string> args) {
  args.insert(args.begin(), {ISENSCTL_PATH, "--socket", env.daemon.socket_path().string()});
  return run(args, run_options{20s, {}, true});
}

std::vector<std::string> login_args(const tgtd_target& target, std::vector<std::string> more = {}) {
  std::vector<std::string> args{"login", "--portal", target.portal(), "--target", std::string(standard_iqn)};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::uint64_t logged_in(const run_result& r) {
  INFO(r.errors);
  REQUIRE(r.exit_code == 0);
  return std::stoull(r.output);
}

json session_json(const daemon_with_target& env, std::uint64_t id) {
  for (const auto& s : env.client()->call("sessions"))
    if (s.at("session_id") == id) return s;
  FAIL("no session " << id);
  return {};
}

}  // namespace

TEST_CASE("sessions say which are persistent, a target and portal is registered once, unregister takes session ids",
          "[daemon][admin][integration]") {
  daemon_with_target env;
  auto second_target = make_standard_target();  // another portal: a second registration of its own

  const auto plain = logged_in(isensctl(env, login_args(*env.target)));
  const auto persistent = logged_in(isensctl(env, login_args(*env.target, {"--persistent"})));
  CHECK(session_json(env, plain).at("persistent") == false);
  CHECK(session_json(env, persistent).at("persistent") == true);

  // The table has the column, yes for the registered session only.
  const auto table = isensctl(env, {"sessions"});
  REQUIRE(table.exit_code == 0);
  const auto rows = lines_of(table.output);
  REQUIRE(rows.size() == 3);
  CHECK_THAT(rows[0], Catch::Contains("PERSISTENT"));
  const auto column = rows[0].find("PERSISTENT");
  for (const auto& row : {rows[1], rows[2]}) {
    const bool is_persistent = row.rfind(std::to_string(persistent) + " ", 0) == 0;
    CHECK(row.substr(column, 3) == (is_persistent ? "yes" : "no "));
  }

  // A second registration of the same target and portal is refused before
  // it logs in, naming the session that holds it; so is registering the
  // plain session. Neither changes what is registered.
  const auto sessions_before = env.client()->call("sessions").size();
  auto refused = isensctl(env, login_args(*env.target, {"--persistent"}));
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.errors, Catch::Contains("already registered") && Catch::Contains("session " + std::to_string(persistent)));
  CHECK(env.client()->call("sessions").size() == sessions_before);
  refused = isensctl(env, {"register", std::to_string(plain)});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.errors, Catch::Contains("unregister it first"));
  CHECK(isensctl(env, {"register", std::to_string(persistent)}).exit_code == 0);  // the holder again: fine
  CHECK(env.client()->call("registered_sessions").size() == 1);
  CHECK(session_json(env, plain).at("persistent") == false);

  // A registration on the other target; then both unregistered in one
  // command, one by session id, one by registration id, with an unknown id
  // between them: that one fails (exit 1), the others are done.
  const auto other = logged_in(isensctl(env, {"login", "--portal", second_target->portal(), "--target",
                                              std::string(standard_iqn), "--persistent"}));
  const auto registrations = env.client()->call("registered_sessions");
  REQUIRE(registrations.size() == 2);
  const auto other_registration = std::string(standard_iqn) + "@" + second_target->portal();
  const auto r = isensctl(env, {"unregister", std::to_string(persistent), "iqn.nothing@127.0.0.1:9", other_registration});
  INFO(r.output << r.errors);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.errors, Catch::Contains("iqn.nothing@127.0.0.1:9"));
  CHECK(lines_of(r.output).size() == 2);
  CHECK(env.client()->call("registered_sessions").empty());
  CHECK(session_json(env, persistent).at("persistent") == false);
  CHECK(session_json(env, other).at("connected") == true);  // unregistering does not log out

  // A session id that holds no registration: refused, naming it.
  const auto not_registered = isensctl(env, {"unregister", std::to_string(plain)});
  CHECK(not_registered.exit_code == 1);
  CHECK_THAT(not_registered.errors, Catch::Contains("session " + std::to_string(plain) + " is not registered"));
  // Now the plain session may take the registration.
  CHECK(isensctl(env, {"register", std::to_string(plain)}).exit_code == 0);
  CHECK(session_json(env, plain).at("persistent") == true);
}

TEST_CASE("isensctl login --header-digest CRC32C,None prefers a digest, crc32c alone demands it",
          "[daemon][admin][digest][integration]") {
  daemon_with_target env;  // tgt's default: no digests
  auto with_digests = make_standard_target();
  with_digests->set_target_param(standard_tid, "HeaderDigest", "CRC32C,None");
  with_digests->set_target_param(standard_tid, "DataDigest", "CRC32C,None");

  // Demanded from a target without digests: the login fails, naming the key.
  auto r = isensctl(env, login_args(*env.target, {"--header-digest", "crc32c"}));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.errors, Catch::Contains("HeaderDigest"));
  // Preferred: it logs in without.
  auto id = logged_in(isensctl(env, login_args(*env.target, {"--header-digest", "CRC32C,None", "--data-digest", "crc32c,none"})));
  CHECK(session_json(env, id).at("header_digest") == "None");
  CHECK(session_json(env, id).at("data_digest") == "None");
  // Preferred, from a target that has them: it takes them, and SCSI works.
  id = logged_in(isensctl(env, {"login", "--portal", with_digests->portal(), "--target", std::string(standard_iqn),
                                "--header-digest", "CRC32C,None", "--data-digest", "crc32c,none"}));
  CHECK(session_json(env, id).at("header_digest") == "CRC32C");
  CHECK(session_json(env, id).at("data_digest") == "CRC32C");
  r = isensctl(env, {"read-capacity", std::to_string(id), "1"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.output).at("bytes") == standard_lun1_bytes);
  // Anything else is a usage error.
  r = isensctl(env, login_args(*env.target, {"--header-digest", "md5"}));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.errors, Catch::Contains("crc32c,none"));
}
