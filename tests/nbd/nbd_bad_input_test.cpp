// What no real NBD client sends, from a raw in-test client: garbage for a
// handshake, unknown exports, options and commands, requests beyond the
// end, too large or misaligned, a client vanishing with requests in flight,
// 64 clients at once. Each gets the protocol's error or a clean hang-up,
// and the server, the session and real clients carry on.
#include "nbd_rig.hpp"
#include "raw_nbd_client.hpp"

#include <catch2/catch.hpp>

using namespace isens;
using namespace isens::test;

namespace {

constexpr std::uint32_t rep_ack = 1, rep_server = 2, rep_info = 3, rep_err_unsup = 0x80000001,
                        rep_err_invalid = 0x80000003, rep_err_unknown = 0x80000006;
constexpr std::uint16_t cmd_read = 0, cmd_write = 1, cmd_disc = 2, cmd_flush = 3;
constexpr std::uint32_t einval = 22, enospc = 28;

// A real client still works: the server carried on.
void nbdinfo_still_works(nbd_rig& rig) {
  run_options o;
  o.timeout = std::chrono::seconds(30);
  const auto r = run({"nbdinfo", "--size", rig.uri(1, 1)}, o);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find(std::to_string(nbd_lun1_bytes)) != std::string::npos);
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7 + i / 512);
  return v;
}

}  // namespace

TEST_CASE("garbage instead of the handshake is hung up on", "[nbd][bad-input]") {
  nbd_rig rig;
  rig.login();
  SECTION("an HTTP request") {
    raw_nbd_client c(rig.socket_path());
    c.receive(18);
    const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send(std::vector<std::uint8_t>(http.begin(), http.end()));
    CHECK(c.hung_up());
  }
  SECTION("unknown client flags") {
    raw_nbd_client c(rig.socket_path());
    c.greet(0x80);
    CHECK(c.hung_up());
  }
  SECTION("an option without the IHAVEOPT magic") {
    raw_nbd_client c(rig.socket_path());
    c.greet();
    c.send(std::vector<std::uint8_t>(16, 0xab));
    CHECK(c.hung_up());
  }
  SECTION("an option claiming 4 GiB of data") {
    raw_nbd_client c(rig.socket_path());
    c.greet();
    std::vector<std::uint8_t> o;
    raw_nbd_client::put(o, raw_nbd_client::ihaveopt, 8);
    raw_nbd_client::put(o, 7, 4);
    raw_nbd_client::put(o, 0xffffffff, 4);
    c.send(o);
    CHECK(c.hung_up());
  }
  SECTION("a client that connects and says nothing is hung up on after the handshake timeout") {
    raw_nbd_client c(rig.socket_path(), std::chrono::seconds(20));
    c.receive(18);
    const auto started = std::chrono::steady_clock::now();
    CHECK(c.hung_up());
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(15));
  }
  nbdinfo_still_works(rig);
}

TEST_CASE("unknown exports and options get the protocol's errors and negotiation goes on", "[nbd][bad-input]") {
  nbd_rig rig;
  rig.login();
  raw_nbd_client c(rig.socket_path());
  CHECK((c.greet() & 1) == 1);  // fixed newstyle

  const auto unknown = c.go("iqn.nobody:none/1");
  CHECK(unknown.back().type == rep_err_unknown);
  c.send_option(6, raw_nbd_client::go_data("session/999/1"));  // INFO
  CHECK(c.read_option_reply().type == rep_err_unknown);

  c.send_option(42, {1, 2, 3});
  const auto unsup = c.read_option_reply();
  CHECK(unsup.option == 42);
  CHECK(unsup.type == rep_err_unsup);

  c.send_option(5);  // STARTTLS: not offered
  CHECK(c.read_option_reply().type == rep_err_unsup);
  c.send_option(3, {9});  // LIST with data
  CHECK(c.read_option_reply().type == rep_err_invalid);
  c.send_option(6, {0, 0, 0, 50, 'x'});  // INFO whose name runs past its data
  CHECK(c.read_option_reply().type == rep_err_invalid);

  c.send_option(3);  // LIST
  std::vector<std::string> names;
  for (;;) {
    const auto r = c.read_option_reply();
    if (r.type != rep_server) {
      CHECK(r.type == rep_ack);
      break;
    }
    const auto length = raw_nbd_client::get(r.data, 0, 4);
    names.emplace_back(r.data.begin() + 4, r.data.begin() + 4 + static_cast<long>(length));
  }
  CHECK(names == std::vector<std::string>{nbd_rig::iqn(1) + "/1", nbd_rig::iqn(1) + "/2"});

  const auto ok = c.go(nbd_rig::iqn(1) + "/2");
  REQUIRE(ok.back().type == rep_ack);
  REQUIRE(ok.front().type == rep_info);
  CHECK(raw_nbd_client::get(ok.front().data, 2, 8) == nbd_lun2_bytes);

  c.request(cmd_read, 1, 0, 4096);
  CHECK(c.read_simple_reply().error == 0);
  c.receive(4096);
  c.request(cmd_disc, 2, 0, 0);
  CHECK(c.hung_up());

  SECTION("EXPORT_NAME of an unknown export: the protocol has no error for it, so a hang-up") {
    raw_nbd_client d(rig.socket_path());
    d.greet();
    const std::string name = "no-such-export";
    d.send_option(1, std::vector<std::uint8_t>(name.begin(), name.end()));
    CHECK(d.hung_up());
  }
  SECTION("ABORT is acknowledged, then the server hangs up") {
    raw_nbd_client d(rig.socket_path());
    d.greet();
    d.send_option(2);
    CHECK(d.read_option_reply().type == rep_ack);
    CHECK(d.hung_up());
  }
  nbdinfo_still_works(rig);
}

TEST_CASE("bad requests get EINVAL or ENOSPC and the connection goes on", "[nbd][bad-input]") {
  nbd_rig rig;
  rig.login();
  raw_nbd_client c(rig.socket_path());
  c.open(nbd_rig::iqn(1) + "/2");
  const auto expect_error = [&](std::uint64_t cookie, std::uint32_t error) {
    const auto r = c.read_simple_reply();
    CHECK(r.cookie == cookie);
    CHECK(r.error == error);
  };
  c.request(99, 1, 0, 512);  // unknown command
  expect_error(1, einval);
  c.request(5, 2, 0, 512);  // CACHE: not advertised
  expect_error(2, einval);
  c.request(cmd_read, 3, nbd_lun2_bytes, 512);  // beyond the end
  expect_error(3, einval);
  c.request(cmd_read, 4, nbd_lun2_bytes - 512, 1024);  // across the end
  expect_error(4, einval);
  c.request(cmd_read, 5, 100, 512);  // misaligned offset
  expect_error(5, einval);
  c.request(cmd_read, 6, 0, 100);  // misaligned length
  expect_error(6, einval);
  c.request(cmd_read, 7, 0, 33u << 20);  // beyond the maximum block size
  expect_error(7, einval);
  c.request(cmd_read, 8, 0, 512, 0x40);  // an unknown flag
  expect_error(8, einval);
  c.request(cmd_write, 9, nbd_lun2_bytes, 4096, 0, pattern(4096, 1));  // a write beyond the end: payload consumed
  expect_error(9, enospc);
  c.request(cmd_write, 10, 0, 33u << 20, 0, std::vector<std::uint8_t>(33u << 20, 0xee));  // too large: consumed
  expect_error(10, einval);
  c.request(cmd_write, 11, 512, 100, 0, pattern(100, 2));  // misaligned write
  expect_error(11, einval);

  // The stream is intact: a write and a read of real data still work.
  const auto data = pattern(8192, 3);
  c.request(cmd_write, 12, 8192, 8192, 1, data);  // FUA
  expect_error(12, 0);
  c.request(cmd_read, 13, 8192, 8192);
  expect_error(13, 0);
  CHECK(c.receive(8192) == data);
  c.request(cmd_flush, 14, 0, 0);
  expect_error(14, 0);

  SECTION("a write announcing more than any client may send ends the connection") {
    c.request(cmd_write, 15, 0, 0x80000000u);
    CHECK(c.hung_up());
  }
  SECTION("a request without the magic ends the connection") {
    c.send(std::vector<std::uint8_t>(28, 0x11));
    CHECK(c.hung_up());
  }
  const auto e = rig.find_export(nbd_rig::iqn(1) + "/2");
  REQUIRE(e);
  CHECK(e->counters.errors >= 11);
  nbdinfo_still_works(rig);
}

TEST_CASE("structured replies: data and errors as chunks", "[nbd][bad-input]") {
  nbd_rig rig;
  rig.login();
  raw_nbd_client c(rig.socket_path());
  c.open(nbd_rig::iqn(1) + "/2", true);
  c.request(cmd_read, 1, 4096, 4096);
  auto h = c.receive(20);
  CHECK(raw_nbd_client::get(h, 0, 4) == 0x668e33ef);
  CHECK(raw_nbd_client::get(h, 4, 2) == 1);  // DONE
  CHECK(raw_nbd_client::get(h, 6, 2) == 1);  // OFFSET_DATA
  CHECK(raw_nbd_client::get(h, 8, 8) == 1);
  REQUIRE(raw_nbd_client::get(h, 16, 4) == 8 + 4096);
  CHECK(raw_nbd_client::get(c.receive(8), 0, 8) == 4096);
  c.receive(4096);
  c.request(cmd_read, 2, 100, 512);
  h = c.receive(20);
  CHECK(raw_nbd_client::get(h, 6, 2) == 0x8001);  // ERROR
  REQUIRE(raw_nbd_client::get(h, 16, 4) == 6);
  CHECK(raw_nbd_client::get(c.receive(6), 0, 4) == einval);
}

TEST_CASE("many requests in flight are all answered, by cookie", "[nbd][bad-input]") {
  nbd_rig rig;
  rig.login();
  raw_nbd_client c(rig.socket_path());
  c.open(nbd_rig::iqn(1) + "/1");
  constexpr int writes = 200;  // beyond the per-client limit: reading pauses, nothing is lost
  for (int i = 0; i < writes; ++i)
    c.request(cmd_write, 1000 + i, static_cast<std::uint64_t>(i) * 65536, 65536, 0,
              pattern(65536, static_cast<std::uint8_t>(i)));
  std::set<std::uint64_t> answered;
  for (int i = 0; i < writes; ++i) {
    const auto r = c.read_simple_reply();
    CHECK(r.error == 0);
    answered.insert(r.cookie);
  }
  CHECK(answered.size() == writes);
  for (int i = 0; i < writes; ++i) c.request(cmd_read, 5000 + i, static_cast<std::uint64_t>(i) * 65536, 65536);
  int mismatched = 0;
  for (int i = 0; i < writes; ++i) {
    const auto r = c.read_simple_reply();
    REQUIRE(r.error == 0);
    const auto data = c.receive(65536);
    if (data != pattern(65536, static_cast<std::uint8_t>(r.cookie - 5000))) ++mismatched;
  }
  CHECK(mismatched == 0);
}

TEST_CASE("a client vanishing with requests in flight leaves the server and other clients unharmed", "[nbd][bad-input]") {
  nbd_rig rig;
  rig.login();
  for (int round = 0; round < 5; ++round) {
    raw_nbd_client c(rig.socket_path());
    c.open(nbd_rig::iqn(1) + "/1");
    for (int i = 0; i < 64; ++i) c.request(cmd_read, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(i) << 20, 1u << 20);
    for (int i = 0; i < 16; ++i)
      c.request(cmd_write, static_cast<std::uint64_t>(100 + i), static_cast<std::uint64_t>(i) << 20, 1u << 20, 0,
                pattern(1u << 20, static_cast<std::uint8_t>(i)));
    c.close();
  }
  // Every vanished client is detached once its requests ended.
  REQUIRE(eventually(
      [&] {
        const auto e = rig.find_export(nbd_rig::iqn(1) + "/1");
        return e && e->clients == 0;
      },
      nbd_wait));
  nbdinfo_still_works(rig);
}

TEST_CASE("64 clients at once each read back what they wrote", "[nbd][bad-input]") {
  nbd_rig rig;
  rig.login();
  constexpr int clients = 64;
  std::vector<std::future<int>> done;
  for (int k = 0; k < clients; ++k) {
    done.push_back(std::async(std::launch::async, [&rig, k] {
      raw_nbd_client c(rig.socket_path(), std::chrono::seconds(30));
      c.open(k % 2 ? nbd_rig::iqn(1) + "/1" : "session/" + std::to_string(rig.server().exports()[0].session_id) + "/1");
      const std::uint64_t base = static_cast<std::uint64_t>(k) << 20;
      int bad = 0;
      for (int i = 0; i < 8; ++i) {
        const auto data = pattern(65536, static_cast<std::uint8_t>(k * 8 + i));
        c.request(cmd_write, 1, base + static_cast<std::uint64_t>(i) * 65536, 65536, 0, data);
        bad += c.read_simple_reply().error != 0;
        c.request(cmd_read, 2, base + static_cast<std::uint64_t>(i) * 65536, 65536);
        bad += c.read_simple_reply().error != 0;
        bad += c.receive(65536) != data;
      }
      c.request(cmd_disc, 3, 0, 0);
      return bad;
    }));
  }
  int failures = 0;
  for (auto& f : done) failures += f.get();
  CHECK(failures == 0);
  REQUIRE(eventually([&] { return rig.find_export(nbd_rig::iqn(1) + "/1")->clients == 0; }, nbd_wait));
  CHECK(rig.find_export(nbd_rig::iqn(1) + "/1")->counters.attaches == clients);
  nbdinfo_still_works(rig);
}
