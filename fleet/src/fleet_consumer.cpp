// One pull consumer of the fleet stream: created or bound, fetched from,
// filtered, checked for per-host order, acknowledged.
#include "isens/fleet/fleet_consumer.hpp"

#include "isens/events/event_json.hpp"
#include "isens/fleet/nats_error.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <set>

namespace isens::fleet {
namespace {

constexpr std::int64_t ns_per_ms = 1'000'000;
// An ephemeral consumer outlives a broker restart or a network cut this long
// (the server's default, 5 s, would lose it in every real outage).
constexpr std::int64_t ephemeral_inactive_ns = 120'000 * ns_per_ms;

std::string invalid_durable_message(const std::string& name) {
  return "durable name \"" + name + "\" is not valid: use letters, digits, '-' and '_' (at most 64)";
}

std::string consumer_failure(const std::string& what, natsStatus status, jsErrCode code) {
  return describe_nats_failure(what, status, code);
}

struct consumer_info_handle {
  jsConsumerInfo* info = nullptr;
  ~consumer_info_handle() { jsConsumerInfo_Destroy(info); }
};

struct stream_info_handle {
  jsStreamInfo* info = nullptr;
  ~stream_info_handle() { jsStreamInfo_Destroy(info); }
};

struct msg_list_handle {
  natsMsgList list{};
  ~msg_list_handle() { natsMsgList_Destroy(&list); }
};

struct metadata_handle {
  jsMsgMetaData* meta = nullptr;
  ~metadata_handle() { jsMsgMetaData_Destroy(meta); }
};

}  // namespace

bool is_consumer_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::string consumer_filter_subject(const consumer_options& options) {
  const std::string host = options.hosts.size() == 1 ? escape_host_token(options.hosts.front()) : "*";
  if (options.kinds.size() == 1 && !options.gaps)
    return std::string(event_subject_prefix) + host + ".*." + std::string(events::to_string(options.kinds.front()));
  if (options.hosts.size() == 1) return host_filter(host);
  return std::string(default_stream_subjects);
}

struct fleet_consumer::state {
  consumer_options options;
  std::string filter;
  std::string name;  // the consumer's name on the server
  std::set<std::string> hosts;
  std::set<events::event_kind> kinds;
  host_order order{true};
  consumer_stats stats;
  std::uint64_t last_stream_seq = 0;  // the newest message fetched

  // Woken by the connection's callbacks, so fetch() waits out an outage
  // instead of spinning on failed pull requests.
  std::mutex mutex;
  std::condition_variable link_changed;
  bool link_up = true;
  bool link_closed = false;

  // Declared last: the subscription goes before the connection it uses.
  std::unique_ptr<nats_connection> connection;
  natsSubscription* subscription = nullptr;

  ~state() {
    if (subscription != nullptr) {
      // An ephemeral consumer is deleted now rather than when its inactivity
      // threshold passes; a durable keeps its position for the next run.
      if (options.durable.empty() && connection && connection->is_connected())
        natsSubscription_Unsubscribe(subscription);
      natsSubscription_Destroy(subscription);
    }
  }

  void notice(const std::string& line) const {
    if (options.notice) options.notice(line);
  }

  jsCtx* js() const { return connection->jetstream(); }

  void check_stream() {
    stream_info_handle si;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_GetStreamInfo(&si.info, js(), options.stream.c_str(), nullptr, &code);
    if (status == NATS_OK) return;
    if (code == JSStreamNotFoundErr)
      throw consumer_error("no stream " + options.stream + " at " + redacted_urls(options.nats) +
                           ": no isensd has published there yet, or its [nats] stream has another name");
    if (status == NATS_NO_RESPONDERS)
      throw consumer_error("JetStream is not enabled at " + redacted_urls(options.nats) +
                           " (nats-server runs without -js?)");
    throw consumer_error(consumer_failure("cannot read stream " + options.stream, status, code));
  }

  void fill_config(jsConsumerConfig& config) const {
    jsConsumerConfig_Init(&config);
    config.FilterSubject = filter.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = options.ack_wait.count() * ns_per_ms;
    switch (options.start) {
      case start_from::new_messages: config.DeliverPolicy = js_DeliverNew; break;
      case start_from::everything: config.DeliverPolicy = js_DeliverAll; break;
      case start_from::after_stream_seq:
        config.DeliverPolicy = js_DeliverByStartSequence;
        config.OptStartSeq = options.after_stream_seq + 1;
        break;
      case start_from::since_time:
        config.DeliverPolicy = js_DeliverByStartTime;
        config.OptStartTime =
            std::chrono::duration_cast<std::chrono::nanoseconds>(options.since_time.time_since_epoch()).count();
        break;
    }
  }

  void add_durable(jsConsumerConfig& config) {
    consumer_info_handle ci;
    jsErrCode code = static_cast<jsErrCode>(0);
    config.Durable = options.durable.c_str();
    const natsStatus status = js_AddConsumer(&ci.info, js(), options.stream.c_str(), &config, nullptr, &code);
    if (status != NATS_OK)
      throw consumer_error(consumer_failure("cannot create durable consumer " + options.durable, status, code));
  }

  // Creates the durable, or checks the one that exists and, for a sole
  // reader, moves what a previous run fetched but never acknowledged to the
  // front again.
  void prepare_durable() {
    consumer_info_handle ci;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status =
        js_GetConsumerInfo(&ci.info, js(), options.stream.c_str(), options.durable.c_str(), nullptr, &code);
    jsConsumerConfig config;
    fill_config(config);
    if (status != NATS_OK) {
      if (code != JSConsumerNotFoundErr)
        throw consumer_error(consumer_failure("cannot look up durable consumer " + options.durable, status, code));
      add_durable(config);
      return;
    }
    const char* existing = ci.info->Config != nullptr ? ci.info->Config->FilterSubject : nullptr;
    if (filter != (existing ? existing : ""))
      throw consumer_error("durable consumer " + options.durable + " follows " + (existing ? existing : "everything") +
                           ", not " + filter + ": give the same hosts and kinds as when it was created, or another name");
    if (options.refuse_start_for_existing && options.start != start_from::new_messages)
      throw consumer_error("durable consumer " + options.durable +
                           " exists and resumes where it stopped; a start position only applies when it is created "
                           "(choose another name)");
    if (!options.sole_reader || ci.info->NumAckPending == 0) return;
    // Unacknowledged messages would come again only after ack_wait, behind
    // newer ones: out of order. The server has no rewind, so the consumer is
    // made anew right after its acknowledged floor.
    const std::uint64_t floor = ci.info->AckFloor.Stream;
    if (js_DeleteConsumer(js(), options.stream.c_str(), options.durable.c_str(), nullptr, &code) != NATS_OK)
      throw consumer_error("cannot rewind durable consumer " + options.durable);
    if (floor > 0) {
      config.DeliverPolicy = js_DeliverByStartSequence;
      config.OptStartSeq = floor + 1;
      config.OptStartTime = 0;
    } else if (ci.info->Config != nullptr) {
      config.DeliverPolicy = ci.info->Config->DeliverPolicy;
      config.OptStartSeq = ci.info->Config->OptStartSeq;
      config.OptStartTime = ci.info->Config->OptStartTime;
    }
    add_durable(config);
  }

  void subscribe() {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = options.stream.c_str();
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status;
    if (options.durable.empty()) {
      fill_config(so.Config);
      so.Config.InactiveThreshold = ephemeral_inactive_ns;
      status = js_PullSubscribe(&subscription, js(), filter.c_str(), nullptr, nullptr, &so, &code);
    } else {
      so.Consumer = options.durable.c_str();
      status = js_PullSubscribe(&subscription, js(), filter.c_str(), options.durable.c_str(), nullptr, &so, &code);
    }
    if (status != NATS_OK) {
      subscription = nullptr;
      throw consumer_error(consumer_failure("cannot subscribe to stream " + options.stream, status, code));
    }
    consumer_info_handle ci;
    if (natsSubscription_GetConsumerInfo(&ci.info, subscription, nullptr, &code) == NATS_OK && ci.info->Name)
      name = ci.info->Name;
  }

  // After the server lost the consumer (a broker restarted without it, an
  // ephemeral past its threshold): the same consumer again, right after the
  // last message fetched.
  void recreate() {
    if (subscription != nullptr) natsSubscription_Destroy(subscription);
    subscription = nullptr;
    const auto start = options.start;
    if (last_stream_seq > 0) {
      options.start = start_from::after_stream_seq;
      options.after_stream_seq = last_stream_seq;
    }
    if (!options.durable.empty()) {
      jsConsumerConfig config;
      fill_config(config);
      add_durable(config);
    }
    subscribe();
    options.start = start;
    notice("consumer " + name + " was gone on the server; made again after stream sequence " +
           std::to_string(last_stream_seq));
  }

  bool consumer_exists() {
    consumer_info_handle ci;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_GetConsumerInfo(&ci.info, js(), options.stream.c_str(), name.c_str(), nullptr, &code);
    return status == NATS_OK || code != JSConsumerNotFoundErr;
  }

  // Turns one delivered message into a fleet_message, or skips it (acked).
  std::optional<fleet_message> admit(natsMsg* raw) {
    std::shared_ptr<natsMsg> msg(raw, natsMsg_Destroy);
    fleet_message out;
    {
      metadata_handle meta;
      if (natsMsg_GetMetaData(&meta.meta, raw) == NATS_OK) out.stream_seq = meta.meta->Sequence.Stream;
    }
    last_stream_seq = std::max(last_stream_seq, out.stream_seq);
    const auto skip = [&](std::uint64_t& counter) -> std::optional<fleet_message> {
      ++counter;
      natsMsg_Ack(raw, nullptr);
      return std::nullopt;
    };
    std::uint64_t filtered = 0;
    const auto subject = parse_subject(natsMsg_GetSubject(raw));
    if (!subject || subject->is_heartbeat) return skip(stats.foreign);
    if (!hosts.empty() && !hosts.contains(subject->host)) return skip(filtered);
    out.host = subject->host;
    const char* data = natsMsg_GetData(raw);
    out.payload.assign(data ? data : "", static_cast<std::size_t>(natsMsg_GetDataLength(raw)));
    if (subject->is_gap) {
      if (!options.gaps) return skip(filtered);
      out.gap = parse_gap_message(out.payload);
      if (!out.gap) return skip(stats.foreign);
      out.order = order.see_gap(out.host, out.gap->boot_id, out.gap->first_seq, out.gap->last_seq);
    } else {
      if (!kinds.empty() && !kinds.contains(*subject->kind)) return skip(filtered);
      try {
        out.event = events::parse_event_json(out.payload);
      } catch (const events::event_format_error&) {
        return skip(stats.foreign);
      }
      out.order = order.see_event(out.host, out.event->boot_id, out.event->seq);
    }
    if (out.order.verdict == order_verdict::duplicate) return skip(stats.duplicates);
    out.delivery_ = std::move(msg);
    ++stats.delivered;
    return out;
  }

  // Waits until the link is back or `deadline` passes.
  void wait_for_link(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex);
    link_changed.wait_until(lock, deadline, [&] { return link_up || link_closed; });
  }
};

fleet_consumer::fleet_consumer(consumer_options options, connection_callbacks callbacks)
    : state_(std::make_unique<state>()) {
  auto& s = *state_;
  s.options = std::move(options);
  if (!s.options.durable.empty() && !is_consumer_name(s.options.durable))
    throw consumer_error(invalid_durable_message(s.options.durable));
  if (s.options.stream.empty() || s.options.stream.find_first_of(".*> \t") != std::string::npos)
    throw consumer_error("stream name \"" + s.options.stream + "\" is not valid (no '.', '*', '>' or spaces)");
  if (s.options.batch < 1) throw consumer_error("batch must be at least 1");
  for (const auto& host : s.options.hosts) {
    if (host.empty()) throw consumer_error("an empty host name matches no host");
    s.hosts.insert(host);
  }
  s.kinds.insert(s.options.kinds.begin(), s.options.kinds.end());
  s.order = host_order(s.kinds.empty());
  s.filter = consumer_filter_subject(s.options);

  state* self = &s;
  auto user = std::move(callbacks);
  connection_callbacks wrapped = user;
  wrapped.disconnected = [self, user] {
    {
      std::lock_guard lock(self->mutex);
      self->link_up = false;
    }
    if (user.disconnected) user.disconnected();
  };
  wrapped.reconnected = [self, user] {
    {
      std::lock_guard lock(self->mutex);
      self->link_up = true;
    }
    self->link_changed.notify_all();
    if (user.reconnected) user.reconnected();
  };
  wrapped.closed = [self, user] {
    {
      std::lock_guard lock(self->mutex);
      self->link_closed = true;
    }
    self->link_changed.notify_all();
    if (user.closed) user.closed();
  };
  try {
    s.connection = nats_connection::connect(s.options.nats, std::move(wrapped));
  } catch (const nats_error& e) {
    throw consumer_error(e.what());
  }
  s.check_stream();
  if (!s.options.durable.empty()) s.prepare_durable();
  s.subscribe();
}

fleet_consumer::~fleet_consumer() = default;

std::vector<fleet_message> fleet_consumer::fetch(std::chrono::milliseconds timeout) {
  auto& s = *state_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<fleet_message> out;
  while (out.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    {
      std::lock_guard lock(s.mutex);
      if (s.link_closed) throw consumer_error("the connection to NATS was closed");
    }
    if (!s.connection->is_connected()) {
      s.wait_for_link(deadline);
      continue;
    }
    msg_list_handle batch;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = natsSubscription_Fetch(&batch.list, s.subscription, s.options.batch,
                                                     std::max<std::int64_t>(1, left.count()), &code);
    if (status == NATS_OK) {
      for (int i = 0; i < batch.list.Count; ++i) {
        natsMsg* raw = batch.list.Msgs[i];
        batch.list.Msgs[i] = nullptr;  // owned by admit() from here
        if (auto message = s.admit(raw)) out.push_back(std::move(*message));
      }
      continue;
    }
    if (status == NATS_TIMEOUT) break;
    if (status == NATS_CONNECTION_CLOSED) throw consumer_error("the connection to NATS was closed");
    // A pull refused while connected: the link went down under it (then
    // wait for it), or the server no longer has the consumer (make it again).
    if (!s.connection->is_connected()) continue;
    if (!s.consumer_exists()) {
      s.recreate();
      continue;
    }
    // Anything else (JetStream briefly unavailable): try again shortly,
    // without spinning, until the caller's deadline.
    s.wait_for_link(std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
  }
  return out;
}

bool fleet_consumer::ack(const fleet_message& message) {
  return message.delivery_ && natsMsg_Ack(message.delivery_.get(), nullptr) == NATS_OK;
}

bool fleet_consumer::ack_sync(const fleet_message& message) {
  jsErrCode code = static_cast<jsErrCode>(0);
  return message.delivery_ && natsMsg_AckSync(message.delivery_.get(), nullptr, &code) == NATS_OK;
}

const std::string& fleet_consumer::filter_subject() const noexcept { return state_->filter; }
const std::string& fleet_consumer::consumer_name() const noexcept { return state_->name; }
consumer_stats fleet_consumer::stats() const noexcept { return state_->stats; }
nats_connection& fleet_consumer::connection() noexcept { return *state_->connection; }

}  // namespace isens::fleet
