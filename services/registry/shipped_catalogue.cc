#include "services/registry/shipped_catalogue.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "services/registry/catalogue_data.h"

namespace chemledger::registry {

const Catalogue& ShippedCatalogue() {
  static const Catalogue* const catalogue = [] {
    absl::StatusOr<Catalogue> parsed = Catalogue::Parse(kShippedCatalogueTsv);
    if (!parsed.ok()) {
      std::fprintf(stderr, "the compiled-in catalogue does not parse: %s\n",
                   std::string(parsed.status().message()).c_str());
      std::abort();
    }
    return new Catalogue(*std::move(parsed));
  }();
  return *catalogue;
}

}  // namespace chemledger::registry
