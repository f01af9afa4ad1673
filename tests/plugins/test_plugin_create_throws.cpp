// A plugin that refuses its configuration, with a two-line message the
// loader must fold into one line.
#include <isens/events/plugin_api.hpp>

#include <stdexcept>

namespace {

// A type of the plugin's own: its destructor lives in the library, so the
// loader must be done with the exception before it unloads.
class config_rejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::shared_ptr<isens::events::subscriber> create(const char*) {
  throw config_rejected("missing key 'target'\nsee the README");
}

}  // namespace

ISENS_PLUGIN({isens::events::plugin_abi_version, "test_create_throws", "0.1.0", &create});
