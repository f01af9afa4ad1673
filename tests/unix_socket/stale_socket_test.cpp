// The probe isensd's control socket and the NBD exports' socket run before
// they bind: a socket file a crashed process left goes, one a live process
// listens on stays (and keeps answering), a free path stays free.
#include "isens/unix_socket/stale_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

namespace asio = boost::asio;
using asio::local::stream_protocol;

// A directory of its own, removed with what is in it.
class private_dir {
 public:
  private_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "isens-unix-socket-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) FAIL("mkdtemp failed");
    path_ = pattern;
  }
  ~private_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  private_dir(const private_dir&) = delete;
  private_dir& operator=(const private_dir&) = delete;
  std::filesystem::path operator/(const char* name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// True when a connection to `path` is accepted by whatever listens there.
bool connects(asio::io_context& io, const std::filesystem::path& path) {
  stream_protocol::socket client(io);
  boost::system::error_code ec;
  client.connect(stream_protocol::endpoint(path.string()), ec);
  return !ec;
}

}  // namespace

TEST_CASE("a path with nothing there is free to bind", "[unix_socket]") {
  private_dir dir;
  const auto path = dir / "free.sock";
  CHECK(isens::unix_socket::remove_if_stale(path));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a socket file nobody listens on any more is removed", "[unix_socket]") {
  private_dir dir;
  const auto path = dir / "stale.sock";
  asio::io_context io;
  {
    stream_protocol::acceptor crashed(io, stream_protocol::endpoint(path.string()));
  }  // closed without removing its file, as a killed process leaves it
  REQUIRE(std::filesystem::exists(path));
  CHECK(isens::unix_socket::remove_if_stale(path));
  CHECK_FALSE(std::filesystem::exists(path));
  stream_protocol::acceptor next(io, stream_protocol::endpoint(path.string()));  // the path binds again
  CHECK(connects(io, path));
}

TEST_CASE("a socket a live process listens on is kept and goes on answering", "[unix_socket]") {
  private_dir dir;
  const auto path = dir / "live.sock";
  asio::io_context io;
  stream_protocol::acceptor live(io, stream_protocol::endpoint(path.string()));
  CHECK_FALSE(isens::unix_socket::remove_if_stale(path));
  CHECK(std::filesystem::exists(path));
  CHECK(connects(io, path));
}
