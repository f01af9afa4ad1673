// Exports through failover: fio's verify workload on an export while the
// target drops the session's connection 20 times and crashes and restarts
// once ends with zero errors (the data path holds the requests and re-issues
// them after reinstatement); when recovery is given up, requests fail with
// EIO and the export closes, so no client waits forever.
#include "nbd_rig.hpp"
#include "raw_nbd_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace isens;
using namespace isens::test;
using nlohmann::json;

namespace {

std::size_t count_of(const event_recorder& r, events::event_kind kind) {
  std::size_t n = 0;
  for (const auto& e : r.events()) n += e.kind == kind;
  return n;
}

}  // namespace

TEST_CASE("fio verify through 20 connection drops and a target restart sees no error", "[nbd][failover]") {
  nbd_rig_options o;
  o.failover = true;
  nbd_rig rig(o);
  rig.login();
  const auto report = rig.dir() / "fio.json";
  const auto log = rig.dir() / "fio.log";
  // Writes with a checksum in every block and reads every 256 blocks back
  // to check them, for longer than the faults below take.
  child_process fio({"fio", "--name=failover", "--ioengine=nbd", "--uri=" + rig.uri(1, 2), "--rw=randwrite",
                     "--bs=4k", "--iodepth=16", "--size=16m", "--time_based", "--runtime=5", "--verify=crc32c",
                     "--verify_backlog=256", "--verify_fatal=1", "--verify_state_save=0", "--output-format=json",
                     "--output=" + report.string()},
                    log);
  REQUIRE(eventually(
      [&] {
        const auto e = rig.find_export(nbd_rig::iqn(1) + "/2");
        return e && e->counters.writes > 100;
      },
      nbd_wait));
  for (std::size_t drop = 1; drop <= 20; ++drop) {
    REQUIRE(eventually([&] { return !rig.target().connections(1).empty(); }, nbd_wait));
    rig.target().delete_connections(1);
    REQUIRE(
        eventually([&] { return count_of(rig.recorder(), events::event_kind::session_reconnect) >= drop; }, nbd_wait));
  }
  rig.target().kill9();
  rig.target().restart();
  REQUIRE(eventually([&] { return count_of(rig.recorder(), events::event_kind::session_reconnect) >= 21; }, nbd_wait));
  INFO(file_tail(log));
  REQUIRE(fio.running());  // the faults happened under load
  const auto status = fio.wait_for(std::chrono::seconds(240));
  REQUIRE(status);
  CHECK(*status == 0);
  std::ifstream in(report);
  const auto result = json::parse(in);
  const auto& job = result["jobs"][0];
  CHECK(job["error"] == 0);
  // Verified as it went: every write but the last backlog was read back and checked.
  const auto written = job["write"]["io_bytes"].get<std::uint64_t>();
  const auto verified = job["read"]["io_bytes"].get<std::uint64_t>();
  CHECK(written > 0);
  CHECK(verified + 256 * 4096 >= written);
  const auto e = rig.find_export(nbd_rig::iqn(1) + "/2");
  REQUIRE(e);
  CHECK(e->counters.errors == 0);
}

TEST_CASE("after recovery is given up, requests fail with EIO and the export closes", "[nbd][failover]") {
  nbd_rig_options o;
  o.failover = true;
  o.give_up_after = std::chrono::milliseconds(1500);
  nbd_rig rig(o);
  const auto sid = rig.login();
  raw_nbd_client c(rig.socket_path(), std::chrono::seconds(20));
  c.open(nbd_rig::iqn(1) + "/1");
  c.request(0, 1, 0, 4096);
  REQUIRE(c.read_simple_reply().error == 0);
  c.receive(4096);

  rig.target().kill9();  // and it stays down
  const auto started = std::chrono::steady_clock::now();
  c.request(0, 2, 0, 4096);  // held by the data path while recovery goes on
  const auto r = c.read_simple_reply();
  CHECK(r.cookie == 2);
  CHECK(r.error == 5);  // EIO
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK(c.hung_up());  // the export closed with its session
  REQUIRE(eventually([&] { return rig.exports_of(sid) == 0; }, nbd_wait));
  const auto leave = rig.recorder().wait_for(events::event_kind::nbd_detach);
  CHECK(leave.reason == events::event_reason::recovery_failed);
}
