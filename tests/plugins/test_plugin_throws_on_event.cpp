// A plugin whose callback throws on every event: the bus must catch and
// count it and keep serving every other subscriber.
#include <isens/events/plugin_api.hpp>

#include <stdexcept>

namespace {

class throwing_subscriber final : public isens::events::subscriber {
 public:
  void on_event(const isens::events::event&) override { throw std::runtime_error("test plugin fails on purpose"); }
};

std::shared_ptr<isens::events::subscriber> create(const char*) { return std::make_shared<throwing_subscriber>(); }

}  // namespace

ISENS_PLUGIN({isens::events::plugin_abi_version, "test_throws_on_event", "0.1.0", &create});
