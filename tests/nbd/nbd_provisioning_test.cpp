// TRIM and WRITE_ZEROES as the LUN's provisioning allows (VPD 0xB0/0xB2
// read at login): a LUN that does not deallocate advertises no TRIM and
// refuses one; a thin LUN (tgt's thin_provisioning=1) punches holes in its
// backing file, and the blocks read back as zeros either way.
#include "nbd_rig.hpp"
#include "raw_nbd_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

using namespace isens;
using namespace isens::test;
using nlohmann::json;

namespace {

constexpr std::uint16_t cmd_read = 0;
constexpr std::uint16_t cmd_write = 1;
constexpr std::uint16_t cmd_trim = 4;
constexpr std::uint16_t cmd_write_zeroes = 6;
constexpr std::uint16_t flag_no_hole = 1 << 1;
constexpr std::uint32_t einval = 22;
constexpr std::uint32_t span = 1 << 20;  // the range each case works on

// Bytes of the file that are allocated (st_blocks counts 512-byte units).
std::uint64_t allocated(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw std::runtime_error("stat " + file.string() + " failed");
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

json nbdinfo(const std::string& uri) {
  run_options o;
  o.timeout = std::chrono::seconds(60);
  o.separate_stderr = true;
  return json::parse(run_checked({"nbdinfo", "--json", uri}, o))["exports"][0];
}

// An export opened by the raw client, with one-request-at-a-time helpers.
struct export_client {
  raw_nbd_client client;
  std::uint64_t cookie = 0;

  export_client(const std::string& socket, const std::string& name) : client(socket) { client.open(name); }

  std::uint32_t call(std::uint16_t type, std::uint64_t offset, std::uint32_t length, std::uint16_t flags = 0,
                     const std::vector<std::uint8_t>& payload = {}) {
    client.request(type, ++cookie, offset, length, flags, payload);
    const auto reply = client.read_simple_reply();
    REQUIRE(reply.cookie == cookie);
    return reply.error;
  }

  void write(std::uint64_t offset, const std::vector<std::uint8_t>& data) {
    REQUIRE(call(cmd_write, offset, static_cast<std::uint32_t>(data.size()), 0, data) == 0);
  }

  std::vector<std::uint8_t> read(std::uint64_t offset, std::uint32_t length) {
    REQUIRE(call(cmd_read, offset, length) == 0);
    return client.receive(length);
  }
};

std::vector<std::uint8_t> pattern(std::size_t bytes, std::uint8_t seed) {
  std::vector<std::uint8_t> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::uint8_t>(seed + i * 7 + i / 4096);
  return data;
}

bool all_zero(const std::vector<std::uint8_t>& data) {
  return std::all_of(data.begin(), data.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

TEST_CASE("a LUN that does not deallocate offers no TRIM and WRITE_ZEROES writes its blocks", "[nbd][provisioning]") {
  nbd_rig rig;
  rig.login();
  const auto name = nbd_rig::iqn(1) + "/2";
  const auto info = nbdinfo(rig.uri(name));
  INFO(info.dump(2));
  CHECK(info["can_trim"] == false);
  CHECK(info["can_zero"] == true);

  export_client c(rig.socket_path(), name);
  c.write(0, pattern(span, 3));
  CHECK(c.call(cmd_trim, 0, span) == einval);  // never advertised
  CHECK(c.read(0, span) == pattern(span, 3));  // and nothing happened

  const auto file = rig.lun_file(1, 2);
  const auto before = allocated(file);
  REQUIRE(before >= span);
  CHECK(c.call(cmd_write_zeroes, 0, span) == 0);
  CHECK(all_zero(c.read(0, span)));
  CHECK(allocated(file) == before);  // written, not deallocated
}

TEST_CASE("a thin LUN: TRIM and WRITE_ZEROES without NO_HOLE punch holes, the blocks read as zeros",
          "[nbd][provisioning]") {
  nbd_rig_options o;
  o.thin = true;
  nbd_rig rig(o);
  const auto sid = rig.login();
  const auto name = nbd_rig::iqn(1) + "/2";

  // What the initiator learnt at login, as the sessions snapshot shows it.
  const auto sessions = rig.ini().sessions();
  const auto s = std::find_if(sessions.begin(), sessions.end(), [&](const auto& x) { return x.session_id == sid; });
  REQUIRE(s != sessions.end());
  const auto d = std::find_if(s->devices.begin(), s->devices.end(), [](const auto& x) { return x.lun == 2; });
  REQUIRE(d != s->devices.end());
  REQUIRE(d->provisioning);
  CHECK(d->provisioning->thin);
  CHECK(d->provisioning->unmap);
  CHECK(d->provisioning->write_same_unmap);
  CHECK(d->provisioning->zeroes_after_unmap);

  const auto info = nbdinfo(rig.uri(name));
  INFO(info.dump(2));
  CHECK(info["can_trim"] == true);
  CHECK(info["can_zero"] == true);

  export_client c(rig.socket_path(), name);
  const auto file = rig.lun_file(1, 2);
  const std::uint64_t base = allocated(file);

  SECTION("TRIM") {
    c.write(0, pattern(span, 5));
    REQUIRE(allocated(file) >= base + span);
    CHECK(c.call(cmd_trim, 0, span) == 0);
    CHECK(allocated(file) <= base);
    CHECK(all_zero(c.read(0, span)));
  }
  SECTION("WRITE_ZEROES with NO_HOLE keeps the blocks, without it frees them when they read back as zeros") {
    c.write(0, pattern(span, 9));
    const auto written = allocated(file);
    REQUIRE(written >= base + span);
    CHECK(c.call(cmd_write_zeroes, 0, span, flag_no_hole) == 0);
    CHECK(all_zero(c.read(0, span)));
    CHECK(allocated(file) == written);
    c.write(0, pattern(span, 11));
    CHECK(c.call(cmd_write_zeroes, 0, span) == 0);
    CHECK(all_zero(c.read(0, span)));
    CHECK(allocated(file) <= base);  // LBPWS and LBPRZ: a hole
  }
}
