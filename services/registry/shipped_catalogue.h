// The catalogue compiled into the server (services/registry/data/
// catalogue.tsv, sources in data/SOURCES.md): what product registrations are
// checked against until a platform administrator imports a catalogue
// (reference_tables.h), and what RegistryService.FindCatalogueEntries
// answers until then.
//
// Thread-safety: parsed once, on first use; immutable after.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_SHIPPED_CATALOGUE_H_
#define CHEMLEDGER_SERVICES_REGISTRY_SHIPPED_CATALOGUE_H_

#include "services/registry/catalogue.h"

namespace chemledger::registry {

// The compiled-in catalogue. Its text is checked by catalogue_test; a build
// whose text does not parse stops the process at first use, naming the line.
const Catalogue& ShippedCatalogue();

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_SHIPPED_CATALOGUE_H_
