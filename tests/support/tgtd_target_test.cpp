// Proves tgtd_target against a real initiator (libiscsi's command-line tools),
// so integration tests of our own initiator can trust the target they log in to.
#include "tgtd_target.hpp"

#include "eventually.hpp"
#include "free_port.hpp"
#include "subprocess.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using isens::test::eventually;
using isens::test::run;
using isens::test::run_options;
using isens::test::tgtd_target;

namespace {

const std::string iqn{isens::test::standard_iqn};

/// iscsi-inq against a URL; a hung login must fail the test, not hang it.
isens::test::run_result inquiry(const std::string& url, std::map<std::string, std::string> env = {}) {
  return run({"iscsi-inq", url}, run_options{20s, std::move(env)});
}

bool can_connect(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

std::string cmdline_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

}  // namespace

TEST_CASE("free_loopback_port returns a bindable port", "[free_port]") {
  const auto port = isens::test::free_loopback_port();
  REQUIRE(port >= 1024);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
}

TEST_CASE("subprocess reports exit codes, output and missing programs", "[subprocess]") {
  const auto ok = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(ok.exit_code == 3);
  CHECK(ok.output.find("out") != std::string::npos);
  CHECK(ok.output.find("err") != std::string::npos);

  const auto separate = run({"sh", "-c", "echo out; echo err >&2"}, run_options{5s, {}, true});
  CHECK(separate.output == "out\n");
  CHECK(separate.errors == "err\n");

  CHECK(run({"sh", "-c", "echo $ISENS_PROBE"}, run_options{5s, {{"ISENS_PROBE", "x42"}}}).output == "x42\n");
  CHECK_THROWS_WITH(run({"sleep", "5"}, run_options{100ms, {}}), Catch::Contains("no exit within 100 ms"));
  CHECK_THROWS_WITH(run({"isens-no-such-program"}), Catch::Contains("cannot find"));
  CHECK_THROWS_WITH(isens::test::run_checked({"false"}), Catch::Contains("false failed with exit code 1"));
}

TEST_CASE("tgtd_target starts a private tgtd and leaves nothing behind", "[tgtd][integration]") {
  pid_t pid = -1;
  fs::path dir;
  int control = 0;
  {
    tgtd_target target;
    pid = target.pid();
    dir = target.dir();
    control = target.control_port();
    REQUIRE(pid > 0);
    CHECK(target.running());
    CHECK(cmdline_of(pid) == "tgtd -f -C " + std::to_string(control) +
                                 " --iscsi portal=127.0.0.1:" + std::to_string(target.port()) + " ");
    CHECK(target.portal() == "127.0.0.1:" + std::to_string(target.port()));
    CHECK(can_connect(target.port()));
    CHECK(fs::is_directory(dir));
    CHECK(fs::exists("/var/run/tgtd/socket." + std::to_string(control)));
    CHECK(target.show().empty());  // no targets configured yet
  }
  CHECK_FALSE(process_exists(pid));
  CHECK_FALSE(fs::exists(dir));
  CHECK_FALSE(fs::exists("/var/run/tgtd/socket." + std::to_string(control)));
  CHECK_FALSE(fs::exists("/var/run/tgtd/socket." + std::to_string(control) + ".lock"));
}

TEST_CASE("two tgtd_targets run side by side, each with its own configuration", "[tgtd][integration]") {
  tgtd_target a;
  tgtd_target b;
  CHECK(a.port() != b.port());
  CHECK(a.control_port() != b.control_port());
  a.add_target("iqn.2026-11.test.isens:a", 1);
  a.bind_all_initiators(1);
  b.add_target("iqn.2026-11.test.isens:b", 1);
  b.bind_all_initiators(1);

  const auto list_a = run({"iscsi-ls", "iscsi://" + a.portal()}, run_options{20s, {}});
  const auto list_b = run({"iscsi-ls", "iscsi://" + b.portal()}, run_options{20s, {}});
  REQUIRE(list_a.exit_code == 0);
  REQUIRE(list_b.exit_code == 0);
  CHECK(list_a.output == "Target:iqn.2026-11.test.isens:a Portal:" + a.portal() + ",1\n");
  CHECK(list_b.output == "Target:iqn.2026-11.test.isens:b Portal:" + b.portal() + ",1\n");
}

TEST_CASE("standard target: libiscsi logs in and sees tgt's LUNs", "[tgtd][integration]") {
  auto target = isens::test::make_standard_target();

  SECTION("LUN 1 is an IET VIRTUAL-DISK") {
    const auto inq = inquiry(target->url(iqn, 1));
    INFO(inq.output);
    REQUIRE(inq.exit_code == 0);
    CHECK(inq.output.find("Vendor:IET     \n") != std::string::npos);
    CHECK(inq.output.find("Product:VIRTUAL-DISK") != std::string::npos);
    CHECK(inq.output.find("Peripheral Device Type:DIRECT_ACCESS") != std::string::npos);
  }
  SECTION("LUN 0 is tgt's controller") {
    const auto inq = inquiry(target->url(iqn, 0));
    INFO(inq.output);
    REQUIRE(inq.exit_code == 0);
    CHECK(inq.output.find("Peripheral Device Type:STORAGE_ARRAY_CONTROLLER") != std::string::npos);
    CHECK(inq.output.find("Product:Controller") != std::string::npos);
  }
  SECTION("iscsi-ls lists the target and both LUN sizes") {
    const auto ls = run({"iscsi-ls", "-s", "iscsi://" + target->portal()}, run_options{20s, {}});
    INFO(ls.output);
    REQUIRE(ls.exit_code == 0);
    CHECK(ls.output.find("Target:" + iqn + " Portal:" + target->portal() + ",1") != std::string::npos);
    CHECK(ls.output.find("Lun:0    Type:STORAGE_ARRAY_CONTROLLER") != std::string::npos);
    CHECK(ls.output.find("Lun:1    Type:DIRECT_ACCESS (Size:63M)") != std::string::npos);
    CHECK(ls.output.find("Lun:2    Type:DIRECT_ACCESS (Size:15M)") != std::string::npos);
  }
  SECTION("the backing files are sparse and the config is visible") {
    const auto show = target->show();
    CHECK(show.find("Target 1: " + iqn) != std::string::npos);
    CHECK(show.find("Size: 67 MB, Block size: 512") != std::string::npos);
    CHECK(show.find("Size: 17 MB, Block size: 512") != std::string::npos);
    const auto lun1 = target->dir() / "tid1-lun1.img";
    CHECK(fs::file_size(lun1) == isens::test::standard_lun1_bytes);
    CHECK(show.find("Backing store path: " + lun1.string()) != std::string::npos);
    CHECK(target->params(1).at("MaxConnections") == "4");
  }
  SECTION("an unbound initiator is refused") {
    tgtd_target bare;
    bare.add_target(iqn, 1);
    bare.add_lun(1, 1, 1 << 20);
    const auto inq = inquiry(bare.url(iqn, 1));
    CHECK(inq.exit_code != 0);
  }
}

TEST_CASE("target parameters are applied and bad ones are reported", "[tgtd][integration]") {
  auto target = isens::test::make_standard_target();
  CHECK(target->params(1).at("nop_interval") == "0");
  target->set_target_param(1, "nop_interval", "1");
  target->set_target_param(1, "nop_count", "3");
  target->set_target_param(1, "MaxRecvDataSegmentLength", "65536");
  target->set_max_connections(1, 2);
  const auto params = target->params(1);
  CHECK(params.at("nop_interval") == "1");
  CHECK(params.at("nop_count") == "3");
  CHECK(params.at("MaxRecvDataSegmentLength") == "65536");
  CHECK(params.at("MaxConnections") == "2");
  CHECK(target->show_params(1).find("MaxConnections=2\n") != std::string::npos);

  CHECK_THROWS_WITH(target->set_target_param(1, "NoSuchKey", "1"),
                    Catch::Contains("tgtadm -C") && Catch::Contains("exit code 22") &&
                        Catch::Contains("invalid request"));
  CHECK_THROWS_WITH(target->add_target("iqn.2026-11.test.isens:dup", 1), Catch::Contains("exit code"));
}

TEST_CASE("CHAP: one-way and mutual authentication as a real initiator sees it", "[tgtd][chap][integration]") {
  auto target = isens::test::make_standard_target();
  target->add_account("alice", "alice-secret-1");
  target->bind_account(1, "alice");
  CHECK(target->show().find("Account information:\n        alice\n") != std::string::npos);

  CHECK(inquiry(target->url(iqn, 1)).exit_code != 0);
  const auto wrong = inquiry(target->url(iqn, 1, "alice", "not-the-secret"));
  CHECK(wrong.exit_code != 0);
  CHECK(wrong.output.find("Authentication failure") != std::string::npos);
  const auto right = inquiry(target->url(iqn, 1, "alice", "alice-secret-1"));
  INFO(right.output);
  CHECK(right.exit_code == 0);
  CHECK(right.output.find("Vendor:IET") != std::string::npos);

  SECTION("mutual CHAP") {
    target->add_account("tgt", "target-secret-1");
    target->bind_outgoing_account(1, "tgt");
    CHECK(target->show().find("tgt (outgoing)") != std::string::npos);
    const auto good = inquiry(target->url(iqn, 1, "alice", "alice-secret-1"),
                              {{"LIBISCSI_CHAP_TARGET_USERNAME", "tgt"},
                               {"LIBISCSI_CHAP_TARGET_PASSWORD", "target-secret-1"}});
    INFO(good.output);
    CHECK(good.exit_code == 0);
    const auto bad = inquiry(target->url(iqn, 1, "alice", "alice-secret-1"),
                             {{"LIBISCSI_CHAP_TARGET_USERNAME", "tgt"},
                              {"LIBISCSI_CHAP_TARGET_PASSWORD", "wrong-target-secret"}});
    CHECK(bad.exit_code != 0);
    CHECK(bad.output.find("Invalid CHAP_R response from the target") != std::string::npos);
  }
  SECTION("accounts follow tgt's rules") {
    CHECK_THROWS_WITH(target->add_account("alice", "again"), Catch::Contains("this account already exists"));
    CHECK_THROWS_WITH(target->bind_account(1, "nobody"), Catch::Contains("can't find the account"));
  }
}

TEST_CASE("connections() sees a live libiscsi session and delete_connection drops it",
          "[tgtd][integration]") {
  auto target = isens::test::make_standard_target();
  CHECK(target->connections(1).empty());
  const auto perf_log = target->dir() / "iscsi-perf.log";
  isens::test::child_process perf({"iscsi-perf", "-i", "iqn.2026-11.test.isens:perf", target->url(iqn, 1)},
                                  perf_log);

  std::vector<isens::test::tgt_connection> conns;
  REQUIRE(eventually([&] {
    conns = target->connections(1);
    return !conns.empty();
  }));
  REQUIRE(conns.size() == 1);
  CHECK(conns[0].cid == 0);
  CHECK(conns[0].sid > 0);
  CHECK(conns[0].initiator == "iqn.2026-11.test.isens:perf");
  CHECK(conns[0].address == "127.0.0.1");
  CHECK(target->show().find("Initiator: iqn.2026-11.test.isens:perf alias: none") != std::string::npos);

  const auto old_sid = conns[0].sid;
  target->delete_connection(1, old_sid, 0);
  // libiscsi reconnects by itself with a new session; the old one must be gone.
  CHECK(eventually([&] {
    conns = target->connections(1);
    return std::none_of(conns.begin(), conns.end(), [&](const auto& c) { return c.sid == old_sid; });
  }));
  CHECK_THROWS_WITH(target->delete_connection(1, old_sid, 0), Catch::Contains("can't find the session"));

  perf.signal(SIGINT);
  if (!perf.wait_for(3s)) {
    perf.kill_and_reap();  // iscsi-perf may hang on SIGINT after a reconnect
  }
}

TEST_CASE("kill9 and restart: the target crashes and comes back with its config", "[tgtd][integration]") {
  auto target = isens::test::make_standard_target();
  target->add_account("alice", "alice-secret-1");
  target->bind_account(1, "alice");
  const auto url = target->url(iqn, 1, "alice", "alice-secret-1");
  REQUIRE(inquiry(url).exit_code == 0);
  const auto port = target->port();
  const auto control = target->control_port();
  const auto old_pid = target->pid();

  target->kill9();
  CHECK_FALSE(target->running());
  CHECK_FALSE(process_exists(old_pid));
  CHECK_FALSE(can_connect(port));
  CHECK(inquiry(url).exit_code != 0);

  target->restart();
  CHECK(target->running());
  CHECK(target->pid() != old_pid);
  CHECK(target->port() == port);
  CHECK(target->control_port() == control);
  const auto again = inquiry(url);
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK(inquiry(target->url(iqn, 1)).exit_code != 0);  // CHAP binding was replayed too
  CHECK(target->params(1).at("MaxConnections") == "4");
}

TEST_CASE("pause and resume: a hung target answers nothing until resumed", "[tgtd][integration]") {
  auto target = isens::test::make_standard_target();
  target->pause();
  CHECK_THROWS_WITH(target->show(), Catch::Contains("paused"));
  const auto log = target->dir() / "iscsi-inq.log";
  isens::test::child_process inq({"iscsi-inq", target->url(iqn, 1)}, log);
  CHECK_FALSE(inq.wait_for(1s).has_value());  // TCP connects (backlog), login gets no answer
  target->resume();
  const auto code = inq.wait_for(10s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(isens::test::file_tail(log).find("Vendor:IET") != std::string::npos);
}
