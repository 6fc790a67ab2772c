#include "services/registry/shipped_catalogue.h"

#include <utility>

#include "services/registry/catalogue_data.h"

namespace chemledger::registry {

absl::StatusOr<const Catalogue*> ShippedCatalogue() {
  static const absl::StatusOr<Catalogue>* const parsed =
      new absl::StatusOr<Catalogue>(Catalogue::Parse(kShippedCatalogueTsv));
  if (!parsed->ok()) return parsed->status();
  return &**parsed;
}

}  // namespace chemledger::registry
