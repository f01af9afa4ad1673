// The Debian packages as an admin meets them: built by CPack from this build
// tree, installed with dpkg into an empty root (`dpkg --root`, no chroot:
// the packages have no maintainer scripts, so dpkg runs nothing inside the
// root), the installed isensd and isensctl run against a real tgtd, then
// purged, leaving nothing behind but dpkg's own database.
#include "daemon_fixture.hpp"
#include "packaging_support.hpp"
#include "subprocess.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

namespace {

using namespace isens::test;
using namespace isens::test::packaging;
using namespace std::chrono_literals;

// A control field of a .deb.
std::string control_field(const std::filesystem::path& deb, const std::string& field) {
  auto value = checked({"dpkg-deb", "--field", deb.string(), field});
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

// An empty dpkg database under `root`, as on a system with nothing installed.
void make_empty_root(const std::filesystem::path& root) {
  const auto admin = root / "var/lib/dpkg";
  for (const char* dir : {"info", "updates", "triggers"}) std::filesystem::create_directories(admin / dir);
  write_file(admin, "status", "");
  write_file(admin, "available", "");
}

std::vector<std::string> outside_dpkg_database(const std::filesystem::path& root) {
  std::vector<std::string> left;
  for (const auto& f : files_under(root)) {
    if (!f.starts_with("var/lib/dpkg/")) left.push_back(f);
  }
  return left;
}

}  // namespace

TEST_CASE("the Debian packages install into a clean root, run against tgtd, and purge cleanly",
          "[packaging][deb][integration]") {
  temp_dir work("deb");
  const auto out = work.path() / "packages";
  checked({ISENS_CPACK, "-G", "DEB", "-B", out.string(), "--config", std::string(ISENS_BUILD_DIR) + "/CPackConfig.cmake"});
  const auto daemon_deb = out / ("isens_" ISENS_VERSION "_amd64.deb");
  const auto dev_deb = out / ("isens-dev_" ISENS_VERSION "_amd64.deb");
  REQUIRE(std::filesystem::exists(daemon_deb));
  REQUIRE(std::filesystem::exists(dev_deb));

  // What each package holds.
  const auto contents = checked({"dpkg-deb", "--contents", daemon_deb.string()});
  for (const char* path : {"./usr/bin/isensd", "./usr/bin/isensctl", "./usr/lib/systemd/system/isensd.service",
                           "./etc/isens/isensd.toml", "./usr/share/man/man8/isensd.8.gz",
                           "./usr/share/man/man1/isensctl.1.gz", "./usr/share/bash-completion/completions/isensctl",
                           "./usr/share/doc/isens/isensd.md"}) {
    INFO(contents);
    CHECK_THAT(contents, Catch::Contains(std::string(path) + "\n"));
  }
  const auto dev_contents = checked({"dpkg-deb", "--contents", dev_deb.string()});
  CHECK_THAT(dev_contents, Catch::Contains("/include/isens/events/plugin_api.hpp") &&
                               Catch::Contains("/cmake/isens/isensConfig.cmake") && Catch::Contains("/isens.pc") &&
                               Catch::Contains("/libisens_events.a") &&
                               Catch::Contains("/doc/isens-dev/examples/run_command_on_disconnect/CMakeLists.txt"));
  CHECK_THAT(dev_contents, !Catch::Contains("/usr/bin/"));
  CHECK(checked({"dpkg-deb", "--info", daemon_deb.string(), "conffiles"}) == "/etc/isens/isensd.toml\n");

  // Runtime dependencies come from dpkg-shlibdeps, and apt resolves them on
  // Debian 12: asked as if nothing were installed (an empty status file), it
  // finds every package either .deb needs, down to libc6, in the archive.
  const auto depends = control_field(daemon_deb, "Depends");
  INFO("Depends: " << depends);
  for (const char* lib : {"libc6", "libstdc++6", "libspdlog"}) CHECK_THAT(depends, Catch::Contains(lib));
  CHECK_THAT(control_field(dev_deb, "Depends"),
             Catch::Contains("isens (= " ISENS_VERSION ")") && Catch::Contains("libboost1.81-dev"));
  const auto nothing_installed = write_file(work.path(), "empty-status", "");
  const auto plan = checked({"apt-get", "-o", "Dir::State::status=" + nothing_installed.string(), "-o",
                             "Debug::NoLocking=1", "install", "--simulate", "-q", daemon_deb.string(), dev_deb.string()});
  for (const char* package : {"Conf isens (" ISENS_VERSION, "Conf isens-dev (" ISENS_VERSION, "Conf libc6 ", "Conf libspdlog"}) {
    INFO(plan);
    CHECK_THAT(plan, Catch::Contains(package));
  }

  // Into an empty root. --force-depends: that root has no libc6 to satisfy
  // them (the host's libraries run the binaries).
  const auto root = work.path() / "root";
  make_empty_root(root);
  checked({"dpkg", "--root=" + root.string(), "--force-depends", "--install", daemon_deb.string(), dev_deb.string()});
  const auto listed = checked({"dpkg", "--root=" + root.string(), "--list", "isens", "isens-dev"});
  CHECK_THAT(listed, Catch::Contains("ii  isens ") && Catch::Contains("ii  isens-dev"));
  const auto unit = read_file(root / "usr/lib/systemd/system/isensd.service");
  CHECK_THAT(unit, Catch::Contains("ExecStart=/usr/bin/isensd --config /etc/isens/isensd.toml"));
  CHECK_THAT(checked({"sh", "-c", "zcat '" + (root / "usr/share/man/man1/isensctl.1.gz").string() + "'"}),
             Catch::Contains("chap\\-secret\\-file"));  // generated from --help
  // The completion, with the installed isensctl first on PATH: subcommands,
  // options and choices come from its --help.
  const auto completes = [&](const std::string& words) {
    run_options options;
    options.env["PATH"] = (root / "usr/bin").string() + ":/usr/bin:/bin";
    auto out = run_checked({"bash", "-c", "source '" + (root / "usr/share/bash-completion/completions/isensctl").string() +
                                              "' && COMP_WORDS=(" + words + ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) "
                                              "&& _isensctl && echo \"${COMPREPLY[*]}\""},
                           options);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  };
  CHECK(completes("isensctl lo") == "login logout");
  CHECK(completes("isensctl --socket /x unreg") == "unregister");
  CHECK_THAT(completes("isensctl login --chap-secret"), Catch::Contains("--chap-secret-file"));
  CHECK(completes("isensctl login --header-digest crc32c") == "crc32c crc32c,none");

  {
    // The installed isensd on the installed default configuration (socket,
    // state and metrics moved into the test's own directories by flags).
    daemon_options options;
    options.binary = (root / "usr/bin/isensd").string();
    options.extra_args = {"--config", (root / "etc/isens/isensd.toml").string()};
    daemon_with_target env(options);
    const std::string isensctl = (root / "usr/bin/isensctl").string();
    const auto socket = env.daemon.socket_path().string();
    const auto id = checked({isensctl, "--socket", socket, "login", "--portal", env.target->portal(), "--target",
                             std::string(standard_iqn)});
    const auto sessions = json::parse(checked({isensctl, "--socket", socket, "sessions", "--json"}));
    REQUIRE(sessions.size() == 1);
    CHECK(sessions[0].at("session_id") == std::stoull(id));
    CHECK(sessions[0].at("connected") == true);
    checked({isensctl, "--socket", socket, "logout", std::to_string(std::stoull(id))});
    CHECK(env.daemon.stop() == std::optional<int>(0));
  }

  // Purged: nothing of either package is left, /etc/isens included.
  checked({"dpkg", "--root=" + root.string(), "--purge", "isens-dev", "isens"});
  CHECK(outside_dpkg_database(root) == std::vector<std::string>{});
  CHECK_FALSE(std::filesystem::exists(root / "etc/isens"));
  CHECK_FALSE(std::filesystem::exists(root / "usr"));
}
