#include "fleet_watch.hpp"

#include "event_output.hpp"
#include "secret_source.hpp"

#include <isens/events/event_json.hpp>
#include <isens/fleet/fleet_consumer.hpp>

#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace isensctl {
namespace {

using json = nlohmann::ordered_json;
using namespace isens;

// A bad option: exit 2 with its one line.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<std::string> split_urls(const std::string& text) {
  std::vector<std::string> urls;
  std::stringstream in(text);
  for (std::string url; std::getline(in, url, ',');)
    if (!url.empty()) urls.push_back(url);
  if (urls.empty()) throw usage_error("--nats needs a URL, e.g. nats://127.0.0.1:4222");
  return urls;
}

// RFC 3339 UTC, with or without the microseconds the events carry.
std::chrono::system_clock::time_point parse_since_time(std::string text) {
  if (text.size() == 20 && text.back() == 'Z') text.insert(19, ".000000");
  try {
    return events::parse_timestamp(text);
  } catch (const events::event_format_error&) {
    throw usage_error("--since-time: expected a UTC time like 2026-12-03T09:00:00Z or 2026-12-03T09:00:00.250000Z");
  }
}

// A secret from a file (mode 0600) or the environment; never from the command line.
std::string secret(const std::filesystem::path& file, const char* variable) {
  if (!file.empty()) {
    try {
      return apps::read_secret_file(file);
    } catch (const apps::secret_error& e) {
      throw usage_error(e.what());
    }
  }
  const char* value = std::getenv(variable);
  return value ? value : "";
}

fleet::consumer_options consumer_options_from(const fleet_watch_request& r) {
  fleet::consumer_options o;
  o.nats.urls = split_urls(r.urls);
  o.nats.name = "isensctl";
  auto& c = o.nats.credentials;
  c.user = r.user;
  if (!r.user.empty()) c.password = secret(r.password_file, "ISENS_NATS_PASSWORD");
  else if (!r.password_file.empty()) throw usage_error("--nats-password-file needs --nats-user");
  c.token = secret(r.token_file, "ISENS_NATS_TOKEN");
  if (!c.user.empty() && !c.token.empty())
    throw usage_error("--nats-user and a token ($ISENS_NATS_TOKEN, --nats-token-file) exclude each other");
  c.nkey_public = r.nkey;
  c.nkey_seed_file = r.nkey_seed_file;
  if (r.nkey.empty() != r.nkey_seed_file.empty()) throw usage_error("--nats-nkey and --nats-nkey-seed-file go together");
  c.creds_file = r.creds_file;
  o.nats.tls.enabled = r.tls || !r.tls_ca_file.empty() || !r.tls_cert_file.empty();
  o.nats.tls.ca_file = r.tls_ca_file;
  o.nats.tls.cert_file = r.tls_cert_file;
  o.nats.tls.key_file = r.tls_key_file;
  if (r.tls_cert_file.empty() != r.tls_key_file.empty())
    throw usage_error("--nats-tls-cert-file and --nats-tls-key-file go together");

  o.stream = r.stream;
  o.hosts = r.hosts;
  for (const auto& name : r.kinds) {
    const auto kind = events::parse_event_kind(name);
    if (!kind) throw usage_error("--kind: unknown event kind \"" + name + "\" (docs/events.md lists them)");
    o.kinds.push_back(*kind);
  }
  if (r.since_seq) {
    o.start = fleet::start_from::after_stream_seq;
    o.after_stream_seq = *r.since_seq;
  } else if (r.since_time) {
    o.start = fleet::start_from::since_time;
    o.since_time = parse_since_time(*r.since_time);
  }
  if (!r.durable.empty() && !fleet::is_consumer_name(r.durable))
    throw usage_error("--durable \"" + r.durable + "\": use letters, digits, '-' and '_' (at most 64)");
  o.durable = r.durable;
  o.refuse_start_for_existing = true;
  o.notice = [](const std::string& line) { std::cerr << "isensctl: " << line << '\n'; };
  return o;
}

// The local watch's line with the host in front.
void print_event(const fleet::fleet_message& m, bool as_json) {
  if (as_json) {
    auto j = json::parse(m.payload);
    j["host"] = m.host;
    j["stream_seq"] = m.stream_seq;
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << std::left << std::setw(16) << m.host << ' ' << event_line(*m.event) << std::endl;
  }
}

// Holes the stream should not have, and journals started anew, as the local
// watch reports gaps.
void print_order_notice(const fleet::fleet_message& m, bool as_json) {
  const auto& order = m.order;
  if (order.verdict == fleet::order_verdict::after_missing) {
    print_gap(json{{"host", m.host},
                   {"first_seq", order.expected_seq},
                   {"last_seq", order.expected_seq + order.missing - 1},
                   {"count", order.missing},
                   {"reason", "not_in_stream"}},
              as_json);
  } else if (order.verdict == fleet::order_verdict::late && m.event) {
    std::cerr << "isensctl: host " << m.host << " seq " << m.event->seq << " arrived late (after seq "
              << order.expected_seq - 1 << ")\n";
  } else if (order.verdict == fleet::order_verdict::journal_reset && m.event) {
    std::cerr << "isensctl: host " << m.host << " started a new journal (boot " << m.event->boot_id << ", seq "
              << m.event->seq << ")\n";
  }
}

}  // namespace

CLI::Option* add_fleet_watch_options(CLI::App& watch, fleet_watch_request& r) {
  auto* nats = watch.add_option("--nats", r.urls,
                                "Follow the fleet from NATS JetStream at URL[,URL…] instead of isensd's socket");
  const auto needs_nats = [&](CLI::Option* option) { option->needs(nats); };
  needs_nats(watch.add_option("--host", r.hosts, "With --nats: only this host (repeatable)"));
  auto* since_time = watch.add_option("--since-time", r.since_time,
                                      "With --nats: start at this UTC time, e.g. 2026-12-03T09:00:00Z");
  auto* since_seq = watch.add_option("--since-seq", r.since_seq,
                                     "With --nats: start after this stream sequence (stream_seq in --json; 0: all)");
  needs_nats(since_time);
  needs_nats(since_seq);
  since_time->excludes(since_seq);
  needs_nats(watch.add_option("--durable", r.durable,
                              "With --nats: a durable consumer of this name remembers what was shown; run again to "
                              "resume there"));
  needs_nats(watch.add_option("--stream", r.stream, "With --nats: the JetStream stream")->capture_default_str());
  needs_nats(watch.add_option("--nats-user", r.user, "NATS user; the password from $ISENS_NATS_PASSWORD or a file"));
  needs_nats(watch.add_option("--nats-password-file", r.password_file, "Read the NATS password from FILE (mode 0600)"));
  needs_nats(watch.add_option("--nats-token-file", r.token_file,
                              "Read the NATS token from FILE (mode 0600); or $ISENS_NATS_TOKEN"));
  needs_nats(watch.add_option("--nats-nkey", r.nkey, "The NATS user's public NKey (U…), with --nats-nkey-seed-file"));
  needs_nats(watch.add_option("--nats-nkey-seed-file", r.nkey_seed_file, "The NKey seed file"));
  needs_nats(watch.add_option("--nats-creds-file", r.creds_file, "A NATS .creds file (user JWT and NKey seed)"));
  needs_nats(watch.add_flag("--nats-tls", r.tls, "Use TLS (also implied by tls:// URLs)"));
  needs_nats(watch.add_option("--nats-tls-ca-file", r.tls_ca_file, "Trusted CA certificates (default: the system's)"));
  needs_nats(watch.add_option("--nats-tls-cert-file", r.tls_cert_file, "Client certificate chain (mutual TLS)"));
  needs_nats(watch.add_option("--nats-tls-key-file", r.tls_key_file, "Client private key (mutual TLS)"));
  return nats;
}

int cmd_fleet_watch(const fleet_watch_request& r) {
  fleet::consumer_options options;
  try {
    options = consumer_options_from(r);
  } catch (const usage_error& e) {
    std::cerr << "isensctl: " << e.what() << '\n';
    return 2;
  }
  if (r.count && *r.count == 0) return 0;

  std::unique_ptr<fleet::fleet_consumer> consumer;
  try {
    fleet::connection_callbacks callbacks;
    callbacks.disconnected = [] { std::cerr << "isensctl: lost the connection to NATS; reconnecting\n"; };
    callbacks.reconnected = [] { std::cerr << "isensctl: connected to NATS again\n"; };
    consumer = std::make_unique<fleet::fleet_consumer>(std::move(options), std::move(callbacks));
  } catch (const fleet::consumer_error& e) {
    std::cerr << "isensctl: " << e.what() << '\n';
    return 3;
  }

  std::uint64_t shown = 0, foreign = 0;
  try {
    while (true) {
      const auto batch = consumer->fetch(std::chrono::seconds(5));
      if (const auto now = consumer->stats().foreign; now != foreign) {
        std::cerr << "isensctl: skipped " << now - foreign
                  << " message(s) of the stream that are not isens events (unknown subject or unreadable body)\n";
        foreign = now;
      }
      const fleet::fleet_message* last = nullptr;
      for (const auto& m : batch) {
        print_order_notice(m, r.json);
        if (m.gap) {
          print_gap(json::parse(m.payload), r.json);
        } else {
          print_event(m, r.json);
          ++shown;
        }
        consumer->ack(m);
        last = &m;
        if (r.count && shown >= *r.count) break;
      }
      // Confirms this batch's acks, so a durable resumes after it.
      if (last != nullptr) consumer->ack_sync(*last);
      if (r.count && shown >= *r.count) return 0;
    }
  } catch (const fleet::consumer_error& e) {
    std::cerr << "isensctl: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace isensctl
