#include "libiscsi_side.hpp"

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <poll.h>

#include <memory>
#include <set>

namespace isens::bench {

using clock = std::chrono::steady_clock;

namespace {

constexpr const char* libiscsi_initiator_name = "iqn.2026-11.org.isens:login-bench-libiscsi";

struct context_deleter {
  void operator()(iscsi_context* c) const { iscsi_destroy_context(c); }
};
using context_ptr = std::unique_ptr<iscsi_context, context_deleter>;

struct task_deleter {
  void operator()(scsi_task* t) const { scsi_free_scsi_task(t); }
};
using task_ptr = std::unique_ptr<scsi_task, task_deleter>;

// A context set up as the brief of every round says: normal session, no digests.
context_ptr new_context(const bench_target& target) {
  context_ptr c(iscsi_create_context(libiscsi_initiator_name));
  if (!c) return c;
  iscsi_set_targetname(c.get(), target.iqn.c_str());
  iscsi_set_session_type(c.get(), ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(c.get(), ISCSI_HEADER_DIGEST_NONE);
  return c;
}

std::string failure(iscsi_context* c, const char* what) { return std::string(what) + ": " + iscsi_get_error(c); }

// One INQUIRY, parsed as isens parses it; false when it did not end GOOD.
bool inquiry(iscsi_context* c, int lun, int evpd, int page) {
  task_ptr task(iscsi_inquiry_sync(c, lun, evpd, page, 255));
  if (!task || task->status != SCSI_STATUS_GOOD) return false;
  return scsi_datain_unmarshall(task.get()) != nullptr;
}

}  // namespace

std::optional<std::string> libiscsi_round(const bench_target& target, round_samples* into) {
  const int lun = static_cast<int>(target.lun);
  const auto cpu0 = thread_cpu_micros();
  const auto t0 = clock::now();
  auto c = new_context(target);
  if (!c) return "iscsi_create_context failed";
  if (iscsi_connect_sync(c.get(), target.portal_text().c_str()) != 0) return failure(c.get(), "connect");
  if (iscsi_login_sync(c.get()) != 0) return failure(c.get(), "login");
  const auto t1 = clock::now();
  const auto cpu1 = thread_cpu_micros();
  // isens's scsi_inquiry asks for the standard page, then VPD 0x80 and 0x83
  // (which may fail without failing the call): the same three here.
  if (!inquiry(c.get(), lun, 0, 0)) return failure(c.get(), "inquiry");
  (void)inquiry(c.get(), lun, 1, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER);
  (void)inquiry(c.get(), lun, 1, SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION);
  const auto t2 = clock::now();
  if (iscsi_logout_sync(c.get()) != 0) return failure(c.get(), "logout");
  c.reset();  // closes the socket, as isens's logout does
  const auto t3 = clock::now();
  if (into) {
    into->login.push_back(micros_between(t0, t1));
    into->login_cpu.push_back(cpu1 - cpu0);
    into->inquiry.push_back(micros_between(t1, t2));
    into->logout.push_back(micros_between(t2, t3));
    into->round.push_back(micros_between(t0, t3));
  }
  return std::nullopt;
}

std::optional<std::string> libiscsi_full_connect(const bench_target& target, std::vector<double>* into) {
  const auto t0 = clock::now();
  auto c = new_context(target);
  if (!c) return "iscsi_create_context failed";
  if (iscsi_full_connect_sync(c.get(), target.portal_text().c_str(), static_cast<int>(target.lun)) != 0)
    return failure(c.get(), "full connect");
  const auto t1 = clock::now();
  if (iscsi_logout_sync(c.get()) != 0) return failure(c.get(), "logout");
  if (into) into->push_back(micros_between(t0, t1));
  return std::nullopt;
}

namespace {

// One session of the storm and where its asynchronous calls stand.
struct storm_session {
  context_ptr context;
  bool busy = false;   // a call is in flight
  bool ok = false;     // the last call succeeded
  std::string error;
  clock::time_point finished;
};

void on_logged_in(iscsi_context* c, int status, void*, void* opaque) {
  auto& s = *static_cast<storm_session*>(opaque);
  s.busy = false;
  s.ok = status == SCSI_STATUS_GOOD;
  s.finished = clock::now();
  if (!s.ok) s.error = failure(c, "login");
}

void on_connected(iscsi_context* c, int status, void*, void* opaque) {
  auto& s = *static_cast<storm_session*>(opaque);
  if (status != SCSI_STATUS_GOOD) {
    s.busy = false;
    s.error = failure(c, "connect");
    return;
  }
  if (iscsi_login_async(c, on_logged_in, opaque) != 0) {
    s.busy = false;
    s.error = failure(c, "login");
  }
}

void on_logged_out(iscsi_context* c, int status, void*, void* opaque) {
  auto& s = *static_cast<storm_session*>(opaque);
  s.busy = false;
  s.ok = status == SCSI_STATUS_GOOD;
  if (!s.ok) s.error = failure(c, "logout");
}

// Services every session with a call in flight until none has, or until
// `limit` passes (the rest then count as failed).
void service_all(std::vector<storm_session>& sessions, std::chrono::seconds limit) {
  const auto deadline = clock::now() + limit;
  std::vector<pollfd> fds;
  std::vector<storm_session*> owners;
  for (;;) {
    fds.clear();
    owners.clear();
    for (auto& s : sessions) {
      if (!s.busy) continue;
      const auto events = iscsi_which_events(s.context.get());
      fds.push_back({iscsi_get_fd(s.context.get()), static_cast<short>(events), 0});
      owners.push_back(&s);
    }
    if (fds.empty()) return;
    if (clock::now() > deadline) {
      for (auto* s : owners) {
        s->busy = false;
        s->error = "no answer within " + std::to_string(limit.count()) + " s";
      }
      return;
    }
    if (poll(fds.data(), fds.size(), 100) < 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (iscsi_service(owners[i]->context.get(), fds[i].revents) < 0 && owners[i]->busy) {
        owners[i]->busy = false;
        owners[i]->error = failure(owners[i]->context.get(), "service");
      }
    }
  }
}

}  // namespace

storm_result libiscsi_storm(const bench_target& target, std::size_t count) {
  storm_result out;
  out.sessions = count;
  std::set<std::string> distinct;
  auto note_failure = [&](const std::string& what) {
    ++out.failures;
    if (distinct.insert(what).second && out.errors.size() < 10) out.errors.push_back(what);
  };

  std::vector<storm_session> sessions(count);
  const auto start = clock::now();
  for (auto& s : sessions) {
    s.context = new_context(target);
    if (!s.context) {
      s.error = "iscsi_create_context failed";
      continue;
    }
    s.busy = iscsi_connect_async(s.context.get(), target.portal_text().c_str(), on_connected, &s) == 0;
    if (!s.busy) s.error = failure(s.context.get(), "connect");
  }
  service_all(sessions, std::chrono::seconds{30});
  out.login_all_s = micros_between(start, clock::now()) / 1e6;
  for (auto& s : sessions) {
    if (s.ok) {
      out.login_us.push_back(micros_between(start, s.finished));
    } else {
      note_failure(s.error);
    }
  }

  const auto logout_start = clock::now();
  std::vector<storm_session*> logging_out;
  for (auto& s : sessions) {
    if (!s.ok) continue;
    s.ok = false;
    s.busy = iscsi_logout_async(s.context.get(), on_logged_out, &s) == 0;
    if (!s.busy) s.error = failure(s.context.get(), "logout");
    logging_out.push_back(&s);
  }
  service_all(sessions, std::chrono::seconds{30});
  for (auto* s : logging_out) {
    if (!s->ok) note_failure(s->error);
  }
  for (auto& s : sessions) s.context.reset();
  out.logout_all_s = micros_between(logout_start, clock::now()) / 1e6;
  return out;
}

}  // namespace isens::bench
