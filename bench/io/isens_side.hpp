#pragma once
// The isens side: one session of the facade, driven with plain callbacks on
// the io thread that runs the initiator's io_context (single_threaded), the
// cheapest way the facade offers: each completion issues the slot's next
// command from inside the callback.

#include "workload.hpp"

#include "isens/initiator/initiator.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstdint>
#include <span>
#include <string>

namespace isens::bench {

class isens_side final : public io_side {
 public:
  isens_side(std::string name, initiator::initiator& ini, boost::asio::io_context& io, std::uint64_t session_id,
             std::uint64_t lun, std::uint32_t block_size)
      : name_(std::move(name)), ini_(ini), io_(io), session_(session_id), lun_(lun), block_size_(block_size) {}

  void start(round_state& state) override {
    boost::asio::post(io_, [this, &state] {
      state.start();
      for (auto& s : state.slots())
        if (state.next(s)) issue(state, s);
      if (state.in_flight() == 0) state.finish();
    });
  }

  const std::string& name() const override { return name_; }
  std::uint64_t session_id() const noexcept { return session_; }

 private:
  void issue(round_state& state, io_slot& s) {
    auto done = [this, &state, &s](initiator::result<void> r) {
      if (r) state.done(s, {});
      else state.done(s, r.error().what());
      if (state.next(s)) issue(state, s);
      else if (state.in_flight() == 0) state.finish();
    };
    const std::uint64_t lba = s.offset / block_size_;
    if (s.is_write)
      ini_.async_write(session_, lun_, lba, std::span<const std::byte>(s.write_buffer, s.length),
                       initiator::write_options{.fua = false}, std::move(done));
    else
      ini_.async_read(session_, lun_, lba, std::span<std::byte>(s.read_buffer, s.length), std::move(done));
  }

  std::string name_;
  initiator::initiator& ini_;
  boost::asio::io_context& io_;
  std::uint64_t session_;
  std::uint64_t lun_;
  std::uint32_t block_size_;
};

}  // namespace isens::bench
