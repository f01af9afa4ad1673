// The facade: finds the session a call is about and runs the call on that
// session's executor.
#include "isens/initiator/initiator.hpp"

#include "discovery/send_targets.hpp"
#include "protocol/scsi_sense.hpp"
#include "session/scsi_commands.hpp"
#include "session/session.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <mutex>

namespace isens::initiator {

namespace asio = boost::asio;

namespace detail {

// The sessions of one initiator, by UniqueSessionId.
class registry {
 public:
  registry(asio::any_io_executor executor, events::event_bus& bus, initiator_options options)
      : context(std::make_shared<initiator_context>(std::move(executor), bus, std::move(options))) {}

  std::shared_ptr<session> find(std::uint64_t id) const {
    std::lock_guard lock(mutex);
    const auto found = sessions.find(id);
    return found == sessions.end() ? nullptr : found->second;
  }

  result<std::shared_ptr<session>> require(std::uint64_t id) const {
    if (auto s = find(id)) return s;
    return make_error(errc::no_such_session, "no session with id " + std::to_string(id));
  }

  std::shared_ptr<initiator_context> context;
  mutable std::mutex mutex;
  std::map<std::uint64_t, std::shared_ptr<session>> sessions;  // guarded by mutex
  bool shutting_down = false;                                  // guarded by mutex
};

}  // namespace detail

namespace {

// Runs `body` on the session's executor and comes back with its result. The
// caller keeps `s` alive; `body` builds the awaitable from the session.
template <class T, class Body>
asio::awaitable<result<T>> on_session(const std::shared_ptr<detail::session>& s, Body body) {
  // A caller already on that executor (one thread runs the initiator and its
  // callers: isensd, isensctl) runs the body itself: co_spawn would hop onto
  // the same executor at the cost of a coroutine thread and two dispatches.
  // (Two statements: GCC 12 miscompiles a co_await inside the if condition.)
  const auto caller = co_await asio::this_coro::executor;
  if (caller == s->executor()) co_return co_await body(*s);
  co_return co_await asio::co_spawn(s->executor(), body(*s), asio::use_awaitable);
}

}  // namespace

initiator::initiator(asio::any_io_executor executor, events::event_bus& bus, initiator_options options)
    : registry_(std::make_shared<detail::registry>(std::move(executor), bus, std::move(options))) {}

initiator::~initiator() {
  std::map<std::uint64_t, std::shared_ptr<detail::session>> sessions;
  {
    std::lock_guard lock(registry_->mutex);
    sessions.swap(registry_->sessions);
  }
  for (auto& [id, s] : sessions) asio::dispatch(s->executor(), [s = s] { s->abort(); });
}

const initiator_options& initiator::options() const noexcept { return registry_->context->options; }

asio::awaitable<result<std::vector<discovered_target>>> initiator::discover(discovery_options options) {
  auto context = registry_->context;
  co_return co_await detail::send_targets(*context, options);
}

asio::awaitable<result<std::vector<discovered_target>>> initiator::discover_for_session(std::uint64_t session_id,
                                                                                      portal where) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  auto context = registry_->context;
  // Nothing of the session but its credentials, which never change: no hop onto its executor.
  const auto options = (*s)->discovery_options_at(where);
  co_return co_await detail::send_targets(*context, options, detail::discovery_auth::chap_if_asked);
}

asio::awaitable<result<std::uint64_t>> initiator::login_to_target(login_options options) {
  if (options.target_name.empty()) co_return make_error(errc::invalid_argument, "a target name is required");
  if (options.target_portal.host.empty()) co_return make_error(errc::invalid_argument, "a target portal is required");
  const bool enumerate = options.enumerate_luns;
  auto& context = registry_->context;
  auto s = std::make_shared<detail::session>(context, context->next_session_id.fetch_add(1), std::move(options));
  {
    std::lock_guard lock(registry_->mutex);
    if (registry_->shutting_down) co_return make_error(errc::shutting_down, "the initiator is shutting down");
    registry_->sessions.emplace(s->id(), s);
  }
  auto logged_in = co_await on_session<void>(s, [](detail::session& self) { return self.login(); });
  if (!logged_in) {
    std::lock_guard lock(registry_->mutex);
    registry_->sessions.erase(s->id());
    co_return logged_in.error();
  }
  if (enumerate) {
    co_await on_session<void>(s, [](detail::session& self) -> asio::awaitable<result<void>> {
      co_await self.enumerate_devices();
      co_return result<void>{};
    });
  }
  co_return s->id();
}

asio::awaitable<result<void>> initiator::logout_from_target(std::uint64_t session_id) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  auto done = co_await on_session<void>(*s, [](detail::session& self) { return self.logout(events::event_reason::admin_logout); });
  {
    std::lock_guard lock(registry_->mutex);
    registry_->sessions.erase(session_id);
  }
  co_return done;
}

asio::awaitable<result<std::uint64_t>> initiator::add_connection_to_session(std::uint64_t session_id,
                                                                            std::optional<portal> where) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  // By reference, as in abandon_session below: a by-value capture of a type
  // that owns memory is destroyed twice by GCC 12 inside co_await.
  co_return co_await on_session<std::uint64_t>(*s, [&where](detail::session& self) { return self.add_connection(where); });
}

asio::awaitable<result<void>> initiator::remove_connection_from_session(std::uint64_t session_id,
                                                                       std::uint64_t connection_id) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  co_return co_await on_session<void>(*s, [connection_id](detail::session& self) { return self.remove_connection(connection_id); });
}

asio::awaitable<result<void>> initiator::reconnect_session(std::uint64_t session_id, reconnect_options options) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  co_return co_await on_session<void>(*s, [&options](detail::session& self) { return self.reconnect(options); });  // see above
}

asio::awaitable<result<void>> initiator::abandon_session(std::uint64_t session_id, std::string why,
                                                        std::uint32_t attempts) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  // `why` is captured by reference: this frame outlives the awaited call.
  // (Moving a coroutine parameter into a lambda capture makes GCC 12 destroy
  // it twice.)
  auto done = co_await on_session<void>(*s, [&why, attempts](detail::session& self) { return self.abandon(why, attempts); });
  if (done) {
    std::lock_guard lock(registry_->mutex);
    registry_->sessions.erase(session_id);
  }
  co_return done;
}

asio::awaitable<result<inquiry_data>> initiator::scsi_inquiry(std::uint64_t session_id, std::uint64_t lun) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  co_return co_await on_session<inquiry_data>(*s, [lun](detail::session& self) { return detail::scsi_inquiry(self, lun); });
}

asio::awaitable<result<mode_flags>> initiator::scsi_mode_sense(std::uint64_t session_id, std::uint64_t lun) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  co_return co_await on_session<mode_flags>(*s, [lun](detail::session& self) -> asio::awaitable<result<mode_flags>> {
    // A UNIT ATTENTION (a new nexus) is not about this command: asked again.
    for (int attempt = 0;; ++attempt) {
      auto reply = co_await self.execute({lun, protocol::mode_sense6_cdb(192), 192});
      if (!reply) co_return reply.error();
      if (reply->status == static_cast<std::uint8_t>(protocol::scsi_status::good)) {
        auto header = protocol::parse_mode_sense6_header(reply->data);
        if (!header) co_return header.error();
        co_return mode_flags{header->write_protected, header->dpo_fua};
      }
      const auto status = static_cast<protocol::scsi_status>(reply->status);
      std::string message =
          "MODE SENSE(6) on LUN " + std::to_string(lun) + " failed: " + std::string(protocol::to_string(status));
      if (status != protocol::scsi_status::check_condition) co_return make_error(errc::scsi_bad_status, message);
      const auto sense = protocol::parse_sense_segment(reply->sense);
      if (sense && sense->key == protocol::sense_key::unit_attention && attempt < 3) continue;
      if (sense) message += ": " + protocol::describe(*sense);
      co_return make_error(errc::scsi_check_condition, message);
    }
  });
}

asio::awaitable<result<capacity_data>> initiator::scsi_read_capacity(std::uint64_t session_id, std::uint64_t lun) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  co_return co_await on_session<capacity_data>(*s, [lun](detail::session& self) { return detail::scsi_read_capacity(self, lun); });
}

asio::awaitable<result<std::vector<std::uint64_t>>> initiator::scsi_report_luns(std::uint64_t session_id) {
  auto s = registry_->require(session_id);
  if (!s) co_return s.error();
  co_return co_await on_session<std::vector<std::uint64_t>>(*s, [](detail::session& self) { return detail::scsi_report_luns(self); });
}

void initiator::start_io(io_request request, io_handler handler) {
  const auto s = registry_->find(request.session_id);
  if (!s) {
    const auto ex = asio::get_associated_executor(handler, registry_->context->executor);
    asio::prefer(ex, asio::execution::blocking.never).execute([handler = std::move(handler), id = request.session_id]() mutable {
      std::move(handler)(make_error(errc::no_such_session, "no session with id " + std::to_string(id)));
    });
    return;
  }
  detail::block_io_request r;
  r.lun = request.lun;
  r.lba = request.lba;
  r.direction = request.direction == io_direction::read    ? detail::data_direction::read
                : request.direction == io_direction::write ? detail::data_direction::write
                                                           : detail::data_direction::none;
  r.buffer = reinterpret_cast<std::uint8_t*>(request.buffer);
  r.length = request.length;
  r.fua = request.options.fua;
  if (request.direction == io_direction::write_same || request.direction == io_direction::unmap) {
    r.direction = detail::data_direction::write;
    r.range = request.direction == io_direction::unmap ? detail::block_io_request::range_op::unmap
                                                       : detail::block_io_request::range_op::write_same;
    r.blocks = request.blocks;
    r.unmap = request.unmap;
  }
  if (s->runs_here()) return s->start_block_io(r, std::move(handler));
  asio::dispatch(s->executor(), [s, r, handler = std::move(handler)]() mutable { s->start_block_io(r, std::move(handler)); });
}

std::vector<session_info> initiator::sessions() const {
  std::vector<std::shared_ptr<detail::session>> all;
  {
    std::lock_guard lock(registry_->mutex);
    for (const auto& [id, s] : registry_->sessions) all.push_back(s);
  }
  std::vector<session_info> out;
  out.reserve(all.size());
  for (const auto& s : all) out.push_back(s->snapshot());
  return out;
}

result<session_info> initiator::session(std::uint64_t session_id) const {
  auto s = registry_->require(session_id);
  if (!s) return s.error();
  return (*s)->snapshot();
}

asio::awaitable<void> initiator::shutdown() {
  std::vector<std::uint64_t> ids;
  {
    std::lock_guard lock(registry_->mutex);
    registry_->shutting_down = true;
    for (const auto& [id, s] : registry_->sessions) ids.push_back(id);
  }
  for (const auto id : ids) {
    auto s = registry_->find(id);
    if (!s) continue;
    (void)co_await on_session<void>(s, [](detail::session& self) { return self.logout(events::event_reason::shutdown); });
    std::lock_guard lock(registry_->mutex);
    registry_->sessions.erase(id);
  }
}

}  // namespace isens::initiator
