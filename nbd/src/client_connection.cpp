#include "client_connection.hpp"

#include "handshake.hpp"

#include <isens/initiator/initiator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <bit>
#include <cstring>

namespace isens::nbd::detail {

namespace asio = boost::asio;

namespace {

// libnbd's own cap: a WRITE refused for its size is still read off the
// socket up to this, beyond it the stream cannot be trusted any more.
constexpr std::uint32_t max_discarded_payload = 64u << 20;

bool mentions(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

// The errno a client sees for a failed command. The facade reports SCSI
// errors as codes plus the decoded sense in the message.
std::uint32_t nbd_error_of(const initiator::error& e) {
  if (e.code == initiator::errc::invalid_argument) return wire::err_inval;
  if (e.code == initiator::errc::scsi_check_condition) {
    const auto text = e.what();
    if (mentions(text, "DATA PROTECT")) return wire::err_perm;
    if (mentions(text, "SPACE ALLOCATION FAILED")) return wire::err_nospc;
  }
  return wire::err_io;
}

std::uint64_t micros_since(std::chrono::steady_clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count());
}

}  // namespace

client_connection::client_connection(std::shared_ptr<server_context> context, socket_type socket, std::uint64_t id,
                                     std::string peer)
    : context_(std::move(context)),
      socket_(std::move(socket)),
      id_(id),
      peer_(std::move(peer)),
      slot_free_(context_->executor) {}

template <class Handler>
auto client_connection::on_executor(Handler&& h) {
  return asio::bind_executor(context_->executor, std::forward<Handler>(h));
}

void client_connection::start() {
  asio::co_spawn(context_->executor, [self = shared_from_this()]() { return self->run(); }, asio::detached);
}

void client_connection::close(events::event_reason reason, std::string why) {
  if (closing_ || finished_) return;
  closing_ = true;
  leave_reason_ = reason;
  leave_detail_ = std::move(why);
  if (!export_) {  // still negotiating: nothing to answer, just hang up
    boost::system::error_code ignored;
    socket_.close(ignored);
    return;
  }
  read_cancel_.emit(asio::cancellation_type::terminal);
  if (reader_waiting_) slot_free_.cancel();
}

asio::awaitable<void> client_connection::run() {
  auto self = shared_from_this();
  // A client that never finishes negotiating is hung up on.
  asio::steady_timer deadline(context_->executor);
  deadline.expires_after(context_->options.handshake_timeout);
  deadline.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto s = weak.lock(); s && !s->export_) {
      spdlog::info("nbd: client {} ({}) did not finish the handshake in time", s->id_, s->peer_);
      boost::system::error_code ignored;
      s->socket_.close(ignored);
    }
  });
  std::string why;
  std::optional<negotiated> agreed;
  try {
    agreed = co_await negotiate(socket_, context_->exports, why);
  } catch (const boost::system::system_error& e) {
    why = e.code() == asio::error::eof ? "the client hung up during the handshake" : e.code().message();
  }
  deadline.cancel();
  if (!agreed || closing_) {
    if (!agreed) spdlog::info("nbd: client {} ({}) left during the handshake: {}", id_, peer_, why);
    boost::system::error_code ignored;
    socket_.close(ignored);
    finished_ = true;
    context_->connections.erase(id_);
    co_return;
  }
  export_ = std::move(agreed->chosen);
  structured_ = agreed->structured_replies;
  lba_shift_ = static_cast<std::uint64_t>(std::countr_zero(export_->info.block_size));
  attach();
  co_await transmit();
}

void client_connection::attach() {
  export_->clients.fetch_add(1, std::memory_order_relaxed);
  export_->counters.attaches.fetch_add(1, std::memory_order_relaxed);
  export_->attached.push_back(weak_from_this());
  publish(events::event_kind::nbd_attach, events::event_reason::none, "");
  // The export may have gone between GO and here (its session logged off).
  if (export_->closed) close(events::event_reason::admin_logout, "its session logged off");
}

void client_connection::publish(events::event_kind kind, events::event_reason reason, std::string detail) {
  events::event e;
  e.kind = kind;
  e.reason = reason;
  e.session_id = export_->info.session_id;
  e.target = export_->info.target;
  e.portal = peer_;
  e.detail = "export " + export_->info.name + ", NBD client " + std::to_string(id_) + " (" + peer_ + ")";
  if (!detail.empty()) e.detail += ": " + detail;
  context_->bus.publish(std::move(e));
}

asio::awaitable<void> client_connection::transmit() {
  auto self = shared_from_this();
  std::array<std::byte, wire::request_size> header{};
  const auto stop_reading = [this](const boost::system::error_code& ec) {
    if (closing_ || ec == asio::error::operation_aborted) return;
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      leave_reason_ = events::event_reason::peer_closed;
      leave_detail_ = "the client hung up";
    } else {
      leave_reason_ = events::event_reason::io_error;
      leave_detail_ = ec.message();
    }
  };
  for (;;) {
    while (outstanding_ >= context_->options.max_requests_per_client && !closing_) {
      reader_waiting_ = true;
      slot_free_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await slot_free_.async_wait(asio::as_tuple(asio::use_awaitable));
      reader_waiting_ = false;
    }
    if (closing_ || broken_) break;
    const auto ec = co_await receive(header.data(), header.size(), false);
    if (ec || closing_) {
      stop_reading(ec);
      break;
    }
    const auto h = wire::parse_request(header);
    if (h.magic != wire::request_magic) {
      leave_reason_ = events::event_reason::protocol_error;
      leave_detail_ = "a request without the NBD request magic";
      break;
    }
    if (h.type == wire::cmd_disc) {
      leave_reason_ = events::event_reason::peer_closed;
      leave_detail_ = "NBD_CMD_DISC";
      break;
    }
    auto r = new_request();
    r->header = h;
    r->started = std::chrono::steady_clock::now();
    r->error = check(h);
    if (h.type == wire::cmd_write) {
      if (r->error != 0) {
        if (h.length > max_discarded_payload) {
          leave_reason_ = events::event_reason::protocol_error;
          leave_detail_ = "a WRITE of " + std::to_string(h.length) + " bytes (the maximum is " +
                          std::to_string(export_->info.max_block_size) + ")";
          recycle(std::move(r));
          break;
        }
        if (!co_await discard_payload(h.length)) {
          recycle(std::move(r));
          break;
        }
      } else {
        r->payload = buffers_.take(h.length);
        const auto pec = co_await receive(r->payload.data.get(), h.length, true);
        if (pec || closing_) {
          stop_reading(pec);
          recycle(std::move(r));
          break;
        }
      }
    }
    ++outstanding_;
    if (r->error != 0) queue_reply(std::move(r));
    else submit(std::move(r));
  }
  reader_done_ = true;
  maybe_finish();
}

asio::awaitable<boost::system::error_code> client_connection::receive(std::byte* out, std::size_t n, bool direct) {
  const auto reading = [this] {
    return asio::bind_cancellation_slot(read_cancel_.slot(), asio::as_tuple(asio::use_awaitable));
  };
  const std::size_t buffered = std::min(n, received_end_ - received_begin_);
  std::memcpy(out, received_.data() + received_begin_, buffered);
  received_begin_ += buffered;
  if (buffered == n) co_return boost::system::error_code{};
  out += buffered;
  n -= buffered;
  received_begin_ = received_end_ = 0;
  if (direct || n > received_.size()) {
    auto [ec, got] = co_await asio::async_read(socket_, asio::buffer(out, n), reading());
    co_return ec;
  }
  while (received_end_ < n) {
    auto [ec, got] = co_await socket_.async_read_some(
        asio::buffer(received_.data() + received_end_, received_.size() - received_end_), reading());
    if (ec) co_return ec;
    received_end_ += got;
  }
  std::memcpy(out, received_.data(), n);
  received_begin_ = n;
  co_return boost::system::error_code{};
}

asio::awaitable<bool> client_connection::discard_payload(std::uint32_t length) {
  auto scratch = buffers_.take(std::min<std::uint32_t>(length, 1u << 20));
  while (length > 0) {
    const auto chunk = std::min<std::size_t>(length, scratch.capacity);
    const auto ec = co_await receive(scratch.data.get(), chunk, true);
    if (ec || closing_) {
      if (!closing_) {
        leave_reason_ = events::event_reason::peer_closed;
        leave_detail_ = "the client hung up in a WRITE's payload";
      }
      buffers_.give_back(std::move(scratch));
      co_return false;
    }
    length -= static_cast<std::uint32_t>(chunk);
  }
  buffers_.give_back(std::move(scratch));
  co_return true;
}

std::uint32_t client_connection::check(const wire::request_header& h) const {
  const auto& info = export_->info;
  std::uint16_t allowed = 0;
  bool writes = false;
  switch (h.type) {
    case wire::cmd_read: allowed = structured_ ? wire::cf_df : 0; break;
    case wire::cmd_write: allowed = wire::cf_fua, writes = true; break;
    case wire::cmd_flush: break;
    case wire::cmd_trim:
      if ((info.transmission_flags & wire::tf_send_trim) == 0) return wire::err_inval;  // never advertised
      allowed = wire::cf_fua, writes = true;
      break;
    case wire::cmd_write_zeroes: allowed = wire::cf_fua | wire::cf_no_hole, writes = true; break;
    default: return wire::err_inval;  // CACHE, BLOCK_STATUS and unknown commands were never advertised
  }
  if ((h.flags & ~allowed) != 0) return wire::err_inval;
  if (writes && info.read_only) return wire::err_perm;
  if (h.type == wire::cmd_flush) return 0;
  if (h.length == 0 || ((h.offset | h.length) & (info.block_size - 1)) != 0) return wire::err_inval;
  if ((h.type == wire::cmd_read || h.type == wire::cmd_write) && h.length > info.max_block_size) return wire::err_inval;
  if (h.offset > info.size_bytes || h.length > info.size_bytes - h.offset)
    return h.type == wire::cmd_read ? wire::err_inval : wire::err_nospc;
  return 0;
}

void client_connection::submit(request_ptr r) {
  const auto& info = export_->info;
  const auto& h = r->header;
  const auto lba = h.offset >> lba_shift_;
  const auto blocks = static_cast<std::uint64_t>(h.length) >> lba_shift_;
  auto& ini = context_->ini;
  auto* raw = r.get();
  auto done = on_executor([self = shared_from_this(), r = std::move(r)](initiator::result<void> outcome) mutable {
    self->complete(std::move(r), outcome);
  });
  switch (h.type) {
    case wire::cmd_read:
      raw->payload = buffers_.take(h.length);
      return ini.async_read(info.session_id, info.lun, lba, std::span(raw->payload.data.get(), h.length), std::move(done));
    case wire::cmd_write:
      return ini.async_write(info.session_id, info.lun, lba, std::span<const std::byte>(raw->payload.data.get(), h.length),
                             initiator::write_options{export_->fua_native && (h.flags & wire::cf_fua) != 0},
                             std::move(done));
    case wire::cmd_flush: return ini.async_flush(info.session_id, info.lun, std::move(done));
    case wire::cmd_trim:
      // TRIM is advisory (proto.md): a LUN that cannot unmap answers success.
      if (export_->unmap_refused.load(std::memory_order_relaxed)) return std::move(done)(initiator::result<void>{});
      return ini.async_unmap(info.session_id, info.lun, lba, blocks, std::move(done));
    case wire::cmd_write_zeroes:
      // With NO_HOLE, or where a deallocated block might not read as zeros,
      // the blocks are written; otherwise the LUN may deallocate them.
      return ini.async_write_same(info.session_id, info.lun, lba, blocks, std::span<const std::byte>(export_->zero_block),
                                  export_->zeroes_by_unmap && (h.flags & wire::cf_no_hole) == 0, std::move(done));
    default: return std::move(done)(initiator::result<void>(initiator::make_error(initiator::errc::invalid_argument)));
  }
}

void client_connection::submit_flush(request_ptr r) {
  const auto& info = export_->info;
  r->header.flags &= static_cast<std::uint16_t>(~wire::cf_fua);  // flushed now: complete() must not flush again
  context_->ini.async_flush(info.session_id, info.lun,
                            on_executor([self = shared_from_this(), r = std::move(r)](initiator::result<void> outcome) mutable {
                              self->complete(std::move(r), outcome);
                            }));
}

void client_connection::complete(request_ptr r, const initiator::result<void>& outcome) {
  const auto type = r->header.type;
  if (!outcome) {
    if (type == wire::cmd_trim && outcome.error().code == initiator::errc::scsi_check_condition &&
        mentions(outcome.error().what(), "ILLEGAL REQUEST")) {
      // The LUN does not unmap (tgt without thin provisioning): TRIM stays a
      // hint; say so once and stop asking.
      if (!export_->unmap_refused.exchange(true))
        spdlog::info("nbd: export {}: the target refuses UNMAP ({}); TRIM is answered without it", export_->info.name,
                     outcome.error().what());
    } else {
      r->error = nbd_error_of(outcome.error());
      spdlog::debug("nbd: export {}: {} at {}+{} failed: {}", export_->info.name, wire::command_name(type),
                    r->header.offset, r->header.length, outcome.error().what());
    }
  }
  // WRITE SAME and UNMAP carry no FUA bit, and a LUN without DPOFUA may
  // ignore WRITE's: a flush makes them durable.
  if (r->error == 0 && (r->header.flags & wire::cf_fua) != 0 &&
      (type == wire::cmd_trim || type == wire::cmd_write_zeroes || (type == wire::cmd_write && !export_->fua_native)))
    return submit_flush(std::move(r));
  queue_reply(std::move(r));
}

void client_connection::queue_reply(request_ptr r) {
  const auto& h = r->header;
  export_->counters.count(h.type, h.length, r->error, micros_since(r->started));
  if (h.type == wire::cmd_read && structured_)
    r->reply = r->error ? wire::error_chunk(h.cookie, r->error) : wire::offset_data_chunk(h.cookie, h.offset, h.length);
  else
    r->reply = wire::simple_reply(h.cookie, r->error);
  if (broken_) {
    recycle(std::move(r));
    --outstanding_;
    return maybe_finish();
  }
  queued_.push_back(std::move(r));
  if (!writing_) write_replies();
}

void client_connection::write_replies() {
  sending_.swap(queued_);
  gather_.clear();
  for (const auto& r : sending_) {
    gather_.push_back(asio::buffer(r->reply.bytes.data(), r->reply.size));
    if (r->header.type == wire::cmd_read && r->error == 0) gather_.push_back(asio::buffer(r->payload.data.get(), r->header.length));
  }
  writing_ = true;
  asio::async_write(socket_, gather_, on_executor([self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                      self->on_written(ec);
                    }));
}

void client_connection::on_written(const boost::system::error_code& ec) {
  writing_ = false;
  outstanding_ -= sending_.size();
  for (auto& r : sending_) recycle(std::move(r));
  sending_.clear();
  if (ec && !broken_) {
    // The client is gone: what is still queued or in the data path is dropped as it ends.
    broken_ = true;
    if (!closing_ && leave_reason_ == events::event_reason::peer_closed && leave_detail_.empty())
      leave_detail_ = "replies could not be sent: " + ec.message();
    outstanding_ -= queued_.size();
    for (auto& r : queued_) recycle(std::move(r));
    queued_.clear();
    read_cancel_.emit(asio::cancellation_type::terminal);
  } else if (!queued_.empty()) {
    write_replies();
  }
  if (reader_waiting_) slot_free_.cancel();
  maybe_finish();
}

void client_connection::maybe_finish() {
  if (finished_ || !reader_done_ || outstanding_ > 0 || writing_) return;
  finished_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(socket_type::shutdown_both, ignored);
  socket_.close(ignored);
  export_->clients.fetch_sub(1, std::memory_order_relaxed);
  std::erase_if(export_->attached, [this](const auto& w) {
    const auto s = w.lock();
    return !s || s.get() == this;
  });
  publish(events::event_kind::nbd_detach, leave_reason_, leave_detail_);
  context_->connections.erase(id_);
}

client_connection::request_ptr client_connection::new_request() {
  if (spare_requests_.empty()) return std::make_unique<request>();
  auto r = std::move(spare_requests_.back());
  spare_requests_.pop_back();
  r->error = 0;
  return r;
}

void client_connection::recycle(request_ptr r) {
  buffers_.give_back(std::move(r->payload));
  r->payload = {};
  if (spare_requests_.size() < context_->options.max_requests_per_client) spare_requests_.push_back(std::move(r));
}

}  // namespace isens::nbd::detail
