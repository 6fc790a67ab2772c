// The catalogue compiled into the server (services/registry/data/
// catalogue.tsv, sources in data/SOURCES.md): what product registrations are
// checked against until a platform administrator imports a catalogue
// (reference_tables.h), and what RegistryService.FindCatalogueEntries
// answers until then.
//
// Thread-safety: parsed once, on first use; immutable after. The one place
// the compiled-in text is parsed (the server's rules and its reads share it).

#ifndef CHEMLEDGER_SERVICES_REGISTRY_SHIPPED_CATALOGUE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_SHIPPED_CATALOGUE_H_

#include "absl/status/statusor.h"
#include "services/registry/catalogue.h"

namespace chemledger::registry {

// The compiled-in catalogue (lives as long as the process). Its text is
// checked by catalogue_test; a build whose text does not parse gets the
// parse error, naming the line, at every call.
absl::StatusOr<const Catalogue*> ShippedCatalogue();

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_SHIPPED_CATALOGUE_H_
