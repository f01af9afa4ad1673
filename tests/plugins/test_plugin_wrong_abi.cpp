// A plugin built "for another isens": its descriptor names the next ABI
// version. The loader must refuse it without calling create.
#include <isens/events/plugin_api.hpp>

#include <cstdlib>

namespace {

std::shared_ptr<isens::events::subscriber> create(const char*) {
  std::abort();  // reaching this means the loader trusted a foreign ABI
}

}  // namespace

ISENS_PLUGIN({isens::events::plugin_abi_version + 1, "test_wrong_abi", "0.1.0", &create});
