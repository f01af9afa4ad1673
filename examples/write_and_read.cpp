// write_and_read: the data path in a few lines. Logs in to a target,
// writes one block of a LUN, reads it back and checks it, as a coroutine.
//
//   write_and_read HOST:PORT TARGET-IQN [LUN]
//   (scripts/local-target start DIR prints a port; its target is
//    iqn.2026-11.org.isens:demo, LUN 1)
#include <isens/events/event_bus.hpp>
#include <isens/initiator/initiator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace isens;

asio::awaitable<int> run(initiator::initiator& ini, initiator::login_options where, std::uint64_t lun) {
  auto session = co_await ini.login_to_target(where);  // enumerates LUNs: block sizes come from there
  if (!session) {
    std::cerr << "login: " << session.error().what() << '\n';
    co_return 1;
  }
  std::uint32_t block_size = 0;
  for (const auto& d : ini.session(*session)->devices)
    if (d.lun == lun && d.capacity) block_size = d.capacity->block_size;
  if (block_size == 0) {
    std::cerr << "LUN " << lun << " is not a disk of this target\n";
    co_return 1;
  }

  std::vector<std::byte> block(block_size, std::byte{0x5a});
  // The buffer stays ours to keep alive until the call completes; isens
  // sends it in place and answers only after the target's GOOD.
  auto wrote = co_await ini.async_write(*session, lun, 0, std::span<const std::byte>(block), {}, asio::use_awaitable);
  std::vector<std::byte> back(block_size);
  auto read = wrote ? co_await ini.async_read(*session, lun, 0, std::span<std::byte>(back), asio::use_awaitable) : wrote;
  co_await ini.logout_from_target(*session);
  if (!read) {
    std::cerr << "I/O failed: " << read.error().what() << '\n';
    co_return 1;
  }
  std::cout << (back == block ? "block 0 reads back as written\n" : "block 0 differs!\n");
  co_return back == block ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: write_and_read HOST:PORT TARGET-IQN [LUN]\n";
    return 2;
  }
  auto portal = initiator::portal::parse(argv[1]);
  if (!portal) {
    std::cerr << portal.error().what() << '\n';
    return 2;
  }
  asio::io_context io;
  events::event_bus bus;
  initiator::initiator ini(io.get_executor(), bus);
  initiator::login_options where;
  where.target_portal = *portal;
  where.target_name = argv[2];
  int status = 1;
  asio::co_spawn(io, run(ini, where, argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1),
                 [&](std::exception_ptr, int s) {
                   status = s;
                   io.stop();  // the session's connection would keep run() going
                 });
  io.run();
  return status;
}
