// Where to resume (the stream's last message of this host against the
// journal and the cursor), and publishing the journal from there: events
// with their message id, gap messages for what the journal no longer holds,
// at most max_in_flight awaiting their ack.
#include "bridge_state.hpp"

#include "isens/fleet/nats_error.hpp"
#include "isens/fleet/stream_setup.hpp"

#include <isens/events/event_json.hpp>

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstring>

namespace isens::fleet {

namespace {

// Events read from the journal at once when behind (about 1.5 MB parsed).
constexpr std::size_t read_ahead_events = 4096;

}  // namespace

bool bridge::impl::resync() {
  // Let what is in flight end first (acked, refused or timed out), so the
  // stream's last message is not overtaken by an ack still on its way.
  drain(options.ack_timeout + std::chrono::seconds(1));
  forget_unanswered();
  last_stored last;
  try {
    // Checked again at every resync: a broker restarted on an empty store
    // (or an operator) may have removed the stream while we were linked.
    if (ensure_stream(connection->jetstream(), options.stream) == "created")
      spdlog::warn("nats bridge: stream {} was missing and is created again", options.stream.name);
    last = find_last_stored(connection->jetstream(), options.stream.name, options.host_token);
  } catch (const nats_error& ex) {
    std::lock_guard lock(mutex);
    report_problem_locked("stream", ex.what());
    return false;
  }
  const std::uint64_t head = journal->last_seq();
  std::lock_guard lock(mutex);
  const std::uint64_t cursor = window.cursor();
  std::uint64_t resume = last.any ? last.seq : 0;
  if (auto failed = window.lowest_failed(); failed && *failed < resume) resume = *failed;
  if (resume > head) {
    spdlog::warn("nats bridge: stream {} holds seq {} of host {} but the journal ends at {} (state directory reset?); "
                 "publishing the journal from its start",
                 options.stream.name, resume, options.host_token, head);
    resume = 0;
  } else if (cursor > resume) {
    spdlog::warn("nats bridge: stream {} lacks seqs {}..{} of host {} that it had acknowledged (broker store lost?); "
                 "republishing them from the journal",
                 options.stream.name, resume + 1, cursor, options.host_token);
  }
  // Still unanswered after the drain: timed out, as libnats's MaxWait
  // reported each before (isens_nats_publish_errors_total).
  counters.publish_errors += window.in_flight();
  window.reset(resume);
  next_after = resume;
  backlog = {};  // read from the journal for the old position: read again from the new one
  backlog_used = 0;
  backlog_tail_done = true;
  resync_needed = false;
  ++counters.resyncs;
  spdlog::debug("nats bridge: resuming after seq {} (journal head {})", resume, head);
  return true;
}

natsStatus bridge::impl::send(const std::string& subject, std::string_view body, const std::string& msg_id,
                              const std::string& boot_id, std::uint64_t position) {
  natsMsg* msg = nullptr;
  natsStatus status = natsMsg_Create(&msg, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  char position_text[24];
  *std::to_chars(position_text, position_text + sizeof position_text - 1, position).ptr = '\0';
  if (status == NATS_OK) status = natsMsgHeader_Set(msg, seq_header, position_text);
  if (status == NATS_OK && !boot_id.empty()) status = natsMsgHeader_Set(msg, boot_id_header, boot_id.c_str());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msg_id.c_str();
  // No MaxWait: libnats would track a deadline per message (two allocations,
  // and a timeout message created and dispatched for every one, acked or
  // not, when it expires: about 3 us of CPU an event). The window keeps each
  // run's send time instead and the thread fails an overdue ack itself
  // (time_out_lost_ack); a resync makes the client forget what is left.
  if (status == NATS_OK) status = js_PublishMsgAsync(connection->jetstream(), &msg, &po);
  if (status == NATS_OK) published_on_connection = true;
  if (status != NATS_OK) natsMsg_Destroy(msg);  // null once the client has taken it
  return status;
}

bool bridge::impl::link_dropped() const {
  return natsConnection_Status(connection->handle()) != NATS_CONN_STATUS_CONNECTED;
}

void bridge::impl::refused_locked(natsStatus status, bool link_down, const std::string& msg_id,
                                  std::uint64_t position) {
  window.failed(position);
  resync_needed = true;
  ++counters.publish_errors;
  // Refused because the link just dropped (the client has no reconnect
  // buffer, see bridge_state.hpp): the disconnect callback reports that.
  if (!link_down) report_problem_locked("publish", describe_nats_failure("cannot publish " + msg_id, status));
}

bool bridge::impl::publish(const std::string& subject, std::string_view body, const std::string& msg_id,
                           const std::string& boot_id, std::uint64_t after, std::uint64_t position) {
  {
    std::lock_guard lock(mutex);
    window.sent(after, position, std::chrono::steady_clock::now());  // before publishing: the ack may come at once
  }
  const auto status = send(subject, body, msg_id, boot_id, position);
  if (status == NATS_OK) return true;
  const bool link_down = link_dropped();  // asked before our lock: it takes the client's
  std::lock_guard lock(mutex);
  refused_locked(status, link_down, msg_id, position);
  return false;
}

void bridge::impl::publish_gap(std::uint64_t first, std::uint64_t last, const char* reason,
                               const std::string& boot_id) {
  gap_message gap{options.host, boot_id, first, last, reason};
  spdlog::warn("nats bridge: the journal no longer holds seqs {}..{} ({} events) that stream {} lacks: "
               "publishing a gap message",
               first, last, gap.count(), options.stream.name);
  publish(gap_subject(options.host_token), to_json_line(gap), gap_msg_id(options.host_token, first, last), boot_id,
          first - 1, last);
}

// Consecutive events (handed over by notify(), or read back from the
// journal): their window entries are recorded under one lock, then each is
// published with the journal's line.
bool bridge::impl::publish_fresh(std::vector<events::journal_record>& ready) {
  {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    for (const auto& r : ready) window.sent(r.ev.seq - 1, r.ev.seq, now);  // before publishing: the ack may come at once
  }
  for (std::size_t i = 0; i < ready.size(); ++i) {
    const auto& e = ready[i].ev;
    write_event_msg_id(msg_id_buffer, options.host_token, e.boot_id, e.seq);
    write_event_subject(subject_buffer, options.host_token, e.session_id, e.kind);
    const auto status = send(subject_buffer, ready[i].json(), msg_id_buffer, e.boot_id, e.seq);
    if (status == NATS_OK) {
      next_after = e.seq;
      continue;
    }
    // This one and those after it never left: the resync resends them.
    const bool link_down = link_dropped();  // asked before our lock: it takes the client's
    std::lock_guard lock(mutex);
    refused_locked(status, link_down, msg_id_buffer, e.seq);
    for (auto j = i + 1; j < ready.size(); ++j) window.failed(ready[j].ev.seq);
    return false;
  }
  return true;
}

void bridge::impl::publish_more() {
  std::size_t space = 0;
  {
    std::lock_guard lock(mutex);
    // Refill in large batches: a journal read per ack would cost more than the publish.
    if (resync_needed || !link_up || window_too_full_locked()) return;
    space = options.max_in_flight - window.in_flight();
  }
  // Caught up: the events notify() handed over, without reading them back.
  std::vector<events::journal_record> ready;
  while (space > 0) {
    ready.clear();
    {
      std::lock_guard lock(mutex);
      while (!fresh.empty() && fresh.front().ev.seq <= next_after) fresh.pop_front();
      for (auto expected = next_after + 1; ready.size() < space && !fresh.empty() && fresh.front().ev.seq == expected; ++expected) {
        ready.push_back(std::move(fresh.front()));
        fresh.pop_front();
      }
    }
    if (ready.empty()) break;
    if (!publish_fresh(ready)) return;
    space -= ready.size();
  }
  // Behind (a replay, or more than the queue held): from the journal,
  // read ahead so that each read serves many refills, and published as the
  // journal stored each line, a run at a time as above.
  while (space > 0) {
    if (backlog_used == backlog.records.size() && backlog_tail_done) {
      backlog = journal->read_records_since(next_after, read_ahead_events, backlog.position);
      backlog_used = 0;
      backlog_tail_done = false;
    }
    std::size_t sent = 0;
    ready.clear();
    for (; backlog_used < backlog.records.size() && sent < space; ++backlog_used) {
      auto& r = backlog.records[backlog_used];
      if (r.ev.seq <= next_after) continue;  // published meanwhile from the hand-over
      const auto expected = ready.empty() ? next_after + 1 : ready.back().ev.seq + 1;
      if (r.ev.seq > expected) {  // the journal lacks what lies between: say so, in its place
        if (!ready.empty() && !publish_fresh(ready)) return;
        ready.clear();
        publish_gap(expected, r.ev.seq - 1, r.ev.seq - 1 < backlog.oldest_available ? "journal_rotated" : "journal_hole",
                    r.ev.boot_id);
        ++sent;
      }
      ready.push_back(std::move(r));
      ++sent;
    }
    if (!ready.empty() && !publish_fresh(ready)) return;
    if (backlog_used == backlog.records.size() && !backlog_tail_done) {
      backlog_tail_done = true;
      if (backlog.gap && backlog.next_after > next_after) {
        publish_gap(next_after + 1, backlog.next_after,
                    backlog.next_after < backlog.oldest_available ? "journal_rotated" : "journal_hole",
                    options.boot_id);
        next_after = backlog.next_after;
        ++sent;
      }
    }
    if (sent == 0 && backlog.records.empty()) return;  // caught up
    space = sent >= space ? 0 : space - sent;
    std::lock_guard lock(mutex);
    if (resync_needed) return;
  }
}

void bridge::impl::on_publish_result(natsMsg* msg, jsPubAck* ack, jsPubAckErr* error) {
  const char* value = nullptr;
  std::uint64_t position = 0;
  if (natsMsgHeader_Get(msg, seq_header, &value) == NATS_OK && value)
    std::from_chars(value, value + std::strlen(value), position);
  std::optional<gap_message> gap;
  if (ack && !ack->Duplicate && std::string_view(natsMsg_GetSubject(msg)).ends_with(".gap"))
    gap = parse_gap_message(std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
  std::lock_guard lock(mutex);
  if (ack) {
    window.acked(position);
    last_ack = std::chrono::steady_clock::now();
    ++(ack->Duplicate ? counters.duplicates : counters.published);
    if (gap) {
      ++counters.gap_messages;
      counters.gap_events += gap->count();
    }
  } else {
    window.failed(position);
    resync_needed = true;
    ++counters.publish_errors;
    if (!outage_reported && link_up) {
      outage_reported = true;
      std::string why = error && error->ErrText ? error->ErrText : "no ack";
      if (error && error->ErrCode != 0) why += " (JetStream error " + std::to_string(error->ErrCode) + ")";
      else if (error) why = std::string(natsStatus_GetText(error->Err));
      spdlog::warn("nats bridge: publish of seq {} failed: {}; replaying from the stream's last message", position, why);
    }
  }
  // Wake the thread when a quarter of the window is free (it refills in batches),
  // when a resync is due, or for stop()'s drain.
  if (!ack || window.in_flight() == refill_mark() || window.in_flight() == 0) {
    woken = true;
    wake.notify_all();
  }
}

}  // namespace isens::fleet
