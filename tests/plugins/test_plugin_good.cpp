// A well-behaved test plugin. It counts what it sees in globals the test
// reads through extra extern "C" symbols, so the test observes the very
// instance the daemon's loader made.
#include <isens/events/plugin_api.hpp>

#include <atomic>
#include <string>

namespace {

std::atomic<std::uint64_t> events_seen{0};
std::atomic<std::uint64_t> disconnects_seen{0};
std::atomic<int> live_instances{0};
std::string config_seen;  // written by create, read by the test afterwards

class counting_subscriber final : public isens::events::subscriber {
 public:
  counting_subscriber() { ++live_instances; }
  ~counting_subscriber() override { --live_instances; }
  void on_event(const isens::events::event&) override { ++events_seen; }
  void on_session_disconnect(const isens::events::event&) override { ++disconnects_seen; }
};

std::shared_ptr<isens::events::subscriber> create(const char* config_json) {
  config_seen = config_json;
  return std::make_shared<counting_subscriber>();
}

}  // namespace

extern "C" std::uint64_t isens_test_events_seen() { return events_seen.load(); }
extern "C" std::uint64_t isens_test_disconnects_seen() { return disconnects_seen.load(); }
extern "C" int isens_test_live_instances() { return live_instances.load(); }
extern "C" const char* isens_test_config_seen() { return config_seen.c_str(); }

ISENS_PLUGIN({isens::events::plugin_abi_version, "test_good", "0.1.0", &create});
