// Real NBD clients on isens exports of a real tgtd's LUNs: what nbdinfo
// sees, nbdcopy and qemu-img moving data both ways (content compared), fio
// verifying at queue depth 16, two clients on two sessions at once, and an
// export that goes away with its session.
#include "nbd_rig.hpp"
#include "raw_nbd_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include <unistd.h>

using namespace isens;
using namespace isens::test;
using nlohmann::json;

namespace {

run_options long_run(std::chrono::seconds limit = std::chrono::seconds(120)) {
  run_options o;
  o.timeout = limit;
  o.separate_stderr = true;
  return o;
}

std::string checked(const std::vector<std::string>& argv, std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto r = run(argv, long_run(limit));
  if (r.exit_code != 0)
    throw std::runtime_error(format_command(argv) + " exited with " + std::to_string(r.exit_code) + ": " + r.errors +
                             r.output);
  return r.output;
}

// fio with the nbd engine; returns its JSON report.
json fio(const std::string& uri, const std::vector<std::string>& extra, const std::filesystem::path& out) {
  std::vector<std::string> argv{"fio", "--name=nbd", "--ioengine=nbd", "--uri=" + uri, "--output-format=json",
                                "--output=" + out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  checked(argv, std::chrono::seconds(180));
  std::ifstream in(out);
  return json::parse(in);
}

}  // namespace

TEST_CASE("nbdinfo sees each LUN's size, block sizes and flags", "[nbd][clients]") {
  nbd_rig rig;
  const auto sid = rig.login();
  const auto name = nbd_rig::iqn(1) + "/1";
  const auto info = json::parse(checked({"nbdinfo", "--json", rig.uri(name)}));
  INFO(info.dump(2));
  const auto& e = info["exports"][0];
  CHECK(e["export-name"] == name);
  CHECK(e["export-size"] == nbd_lun1_bytes);
  CHECK(e["block_size_minimum"] == 512);
  CHECK(e["block_size_preferred"] == 4096);
  CHECK(e["block_size_maximum"] == 32u << 20);
  CHECK(e["can_flush"] == true);
  CHECK(e["can_fua"] == true);
  CHECK(e["can_trim"] == false);  // tgt's LUNs are not thin unless told (nbd_provisioning_test)
  CHECK(e["can_zero"] == true);
  CHECK(e["can_multi_conn"] == true);
  CHECK(e["is_read_only"] == false);
  CHECK(info["protocol"] == "newstyle-fixed");
  CHECK(info["TLS"] == false);
  CHECK(e["description"] == "LUN 1 of " + nbd_rig::iqn(1) + " (isens session " + std::to_string(sid) + ")");

  // The alias names the same export; --list shows every export once.
  const auto alias = json::parse(checked({"nbdinfo", "--json", rig.uri("session/" + std::to_string(sid) + "/2")}));
  CHECK(alias["exports"][0]["export-size"] == nbd_lun2_bytes);
  const auto listed = json::parse(checked({"nbdinfo", "--json", "--list", rig.uri("")}));
  REQUIRE(listed["exports"].size() == 2);
  CHECK(listed["exports"][0]["export-name"] == nbd_rig::iqn(1) + "/1");
  CHECK(listed["exports"][1]["export-name"] == nbd_rig::iqn(1) + "/2");

  // An attach and a leave are events of the session.
  const auto attach = rig.recorder().wait_for(events::event_kind::nbd_attach);
  CHECK(attach.session_id == sid);
  CHECK(attach.detail.find(name) != std::string::npos);
  const auto leave = rig.recorder().wait_for(events::event_kind::nbd_detach);
  CHECK(leave.reason == events::event_reason::peer_closed);
}

TEST_CASE("nbdcopy copies 64 MiB into an export and back out unchanged", "[nbd][clients]") {
  nbd_rig rig;
  rig.login();
  const auto source = rig.random_file("in.bin", nbd_lun1_bytes, 7);
  const auto back = rig.dir() / "out.bin";
  const auto uri = rig.uri(1, 1);
  checked({"nbdcopy", "--flush", source.string(), uri});
  checked({"nbdcopy", uri, back.string()});
  CHECK(sha256_of(back) == sha256_of(source));
  // The target's backing file holds the same bytes: nothing was lost in between.
  const auto e = rig.find_export(nbd_rig::iqn(1) + "/1");
  REQUIRE(e);
  CHECK(e->counters.errors == 0);
  CHECK(e->counters.write_bytes == nbd_lun1_bytes);
  CHECK(e->counters.read_bytes >= nbd_lun1_bytes);
  CHECK(e->counters.flushes >= 1);
}

TEST_CASE("qemu-img converts into an export and compares it with the source", "[nbd][clients]") {
  nbd_rig rig;
  rig.login();
  const auto source = rig.random_file("in.raw", nbd_lun2_bytes, 11);
  const auto uri = rig.uri(1, 2);
  checked({"qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source.string(), uri});
  checked({"qemu-img", "compare", "-f", "raw", "-F", "raw", source.string(), uri});
  const auto copy = rig.dir() / "copy.qcow2";
  checked({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", uri, copy.string()});
  checked({"qemu-img", "compare", "-f", "qcow2", "-F", "raw", copy.string(), source.string()});
  // A change on one side shows: compare is not vacuous.
  {
    std::fstream f(source, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    f.put('\x5a');
  }
  CHECK(run({"qemu-img", "compare", "-f", "raw", "-F", "raw", source.string(), uri}, long_run()).exit_code == 1);
}

TEST_CASE("fio verifies reads and writes at queue depth 16 through the nbd engine", "[nbd][clients]") {
  nbd_rig rig;
  rig.login();
  const auto report = fio(rig.uri(1, 2), {"--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=16m",
                                          "--verify=crc32c", "--verify_fatal=1", "--verify_state_save=0", "--do_verify=1"},
                          rig.dir() / "fio.json");
  const auto& job = report["jobs"][0];
  INFO(report.dump(2));
  CHECK(job["error"] == 0);
  CHECK(job["write"]["io_bytes"] == 16 << 20);
  CHECK(job["read"]["io_bytes"] == 16 << 20);  // the verify pass read everything back
}

TEST_CASE("trim and write-zeroes read back as zeroes", "[nbd][clients]") {
  nbd_rig rig;
  rig.login();
  const auto source = rig.random_file("in.raw", nbd_lun2_bytes, 3);
  const auto uri = rig.uri(1, 2);
  checked({"nbdcopy", source.string(), uri});
  // nbdcopy from a hole-only source zeroes the destination with WRITE_ZEROES.
  const auto zeros = rig.dir() / "zeros.raw";
  std::ofstream(zeros).close();
  std::filesystem::resize_file(zeros, nbd_lun2_bytes);
  checked({"nbdcopy", zeros.string(), uri});
  const auto back = rig.dir() / "back.raw";
  checked({"nbdcopy", uri, back.string()});
  CHECK(sha256_of(back) == sha256_of(zeros));
  const auto e = rig.find_export(nbd_rig::iqn(1) + "/2");
  REQUIRE(e);
  CHECK(e->counters.zeroes + e->counters.trims > 0);
  CHECK(e->counters.errors == 0);
}

TEST_CASE("two clients on two exports of two sessions at once", "[nbd][clients]") {
  nbd_rig_options two;
  two.targets = 2;
  nbd_rig rig(two);
  rig.login(1);
  rig.login(2);
  const auto a = rig.random_file("a.raw", nbd_lun2_bytes, 21);
  const auto b = rig.random_file("b.raw", nbd_lun2_bytes, 22);
  auto first = std::async(std::launch::async, [&] { return checked({"nbdcopy", a.string(), rig.uri(1, 2)}); });
  auto second = std::async(std::launch::async, [&] { return checked({"nbdcopy", b.string(), rig.uri(2, 2)}); });
  first.get();
  second.get();
  checked({"qemu-img", "compare", "-f", "raw", "-F", "raw", a.string(), rig.uri(1, 2)});
  checked({"qemu-img", "compare", "-f", "raw", "-F", "raw", b.string(), rig.uri(2, 2)});
}

TEST_CASE("an export goes away with its session's logoff", "[nbd][clients]") {
  nbd_rig rig;
  const auto sid = rig.login();
  REQUIRE(rig.exports_of(sid) == 2);
  rig.logout(sid);
  REQUIRE(eventually([&] { return rig.exports_of(sid) == 0; }, nbd_wait));
  const auto r = run({"nbdinfo", rig.uri(1, 1)}, long_run());
  CHECK(r.exit_code != 0);
  INFO(r.errors);
  CHECK(r.errors.find("No such file or directory") != std::string::npos);  // NBD_REP_ERR_UNKNOWN
}

TEST_CASE("nbdfuse mounts an export as a file", "[nbd][clients]") {
  std::error_code ec;
  if (!std::filesystem::exists("/dev/fuse", ec) || ::geteuid() != 0) {
    WARN("skipped: nbdfuse needs /dev/fuse and root (FUSE mounts) on this machine");
    return;
  }
  nbd_rig rig;
  rig.login();
  const auto mount = rig.dir() / "mnt";
  std::filesystem::create_directory(mount);
  const auto pidfile = rig.dir() / "nbdfuse.pid";
  child_process fuse({"nbdfuse", "-P", pidfile.string(), mount.string(), rig.uri(1, 2)}, rig.dir() / "nbdfuse.log");
  const auto file = mount / "nbd";
  if (!eventually([&] { return std::filesystem::exists(pidfile) || !fuse.running(); }, std::chrono::seconds(20)) ||
      !fuse.running()) {
    WARN("skipped: nbdfuse could not mount here: " + file_tail(rig.dir() / "nbdfuse.log"));
    return;
  }
  CHECK(std::filesystem::file_size(file) == nbd_lun2_bytes);
  // Written through the mounted file, read back by another client of the export.
  const auto data = rig.random_file("chunk.bin", 1 << 20, 9);
  checked({"dd", "if=" + data.string(), "of=" + file.string(), "bs=1M", "seek=3", "conv=notrunc,fsync", "status=none"});
  const auto whole = rig.dir() / "whole.raw";
  checked({"nbdcopy", rig.uri(1, 2), whole.string()});
  const auto part = rig.dir() / "part.raw";
  checked({"dd", "if=" + whole.string(), "of=" + part.string(), "bs=1M", "skip=3", "count=1", "status=none"});
  CHECK(sha256_of(part) == sha256_of(data));
  checked({"umount", mount.string()});
  CHECK(fuse.wait_for(std::chrono::seconds(20)).has_value());
}

TEST_CASE("a write-protected LUN is served read-only", "[nbd][clients]") {
  nbd_rig rig;
  rig.target().set_lun_params(1, 2, "readonly=1");
  rig.login();
  const auto info = json::parse(checked({"nbdinfo", "--json", rig.uri(1, 2)}));
  CHECK(info["exports"][0]["is_read_only"] == true);
  CHECK(json::parse(checked({"nbdinfo", "--json", rig.uri(1, 1)}))["exports"][0]["is_read_only"] == false);
  // libnbd refuses to write to it by itself...
  const auto source = rig.random_file("in.raw", nbd_lun2_bytes, 1);
  const auto r = run({"nbdcopy", source.string(), rig.uri(1, 2)}, long_run());
  CHECK(r.exit_code != 0);
  CHECK(rig.find_export(nbd_rig::iqn(1) + "/2")->read_only);
  // ...and a client that tries anyway gets EPERM; reads go on.
  raw_nbd_client c(rig.socket_path());
  c.open(nbd_rig::iqn(1) + "/2");
  c.request(1, 1, 0, 512, 0, std::vector<std::uint8_t>(512, 1));
  CHECK(c.read_simple_reply().error == 1);
  c.request(6, 2, 0, 4096);  // WRITE_ZEROES
  CHECK(c.read_simple_reply().error == 1);
  c.request(0, 3, 0, 512);
  CHECK(c.read_simple_reply().error == 0);
  c.receive(512);
}
