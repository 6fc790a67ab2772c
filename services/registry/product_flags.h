// The control flags of registered products after their registration
// (docs/reference-data.md): products whose flags are provisional because
// their CAS number is in no catalogue in force, a regulator's decision on a
// product's flags, and the flags an imported catalogue version adds to
// products registered before it. Every change is recorded for the
// product's enterprise and its regulators; from the entry that makes it,
// the product record carries the new flags, so every later entry (labels,
// events, waybills, permits) follows them.
//
// State keys (the registry's; docs/architecture.md):
//   r/pend/<uscc>/<product>                     state::PendingProductRecord
//   r/flagchg/<uscc>/<product>/<index, 16 hex>  v1::ProductFlagChange
//
// Pure functions over a storage::StateReader; thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_PRODUCT_FLAGS_H_
#define CHEMLEDGER_SERVICES_REGISTRY_PRODUCT_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/registry_service.pb.h"
#include "journal/state_machine.h"
#include "services/registry/reference_tables.h"
#include "storage/store.h"

namespace chemledger::registry {

// Writes `product`, registered by entry `entry_index`, as provisional:
// flags_provisional set, and its pending record (the catalogue version in
// force that does not hold its CAS number).
void PutProvisionalProduct(uint64_t entry_index, v1::Product product,
                           absl::string_view catalogue_version, storage::StateWrites* changes);

// The rule of RegistryRequest.decide_product_flags, for an actor the caller
// found may act: from rules epoch 6; a REGULATOR of EMERGENCY_MANAGEMENT
// with a national or regional jurisdiction that holds the enterprise; a
// reason of 1 to 512 bytes; a registered product; a catalogue imported and
// in force (FailedPrecondition before: the compiled-in catalogue's flags
// stand); known flags, including every flag the catalogue in force gives the
// product's CAS number; for a product whose flags are not provisional, its
// flags and at least one more. Writes the product with these flags (not
// provisional), removes its pending record, and records the change.
absl::Status DecideProductFlags(const journal::EntryContext& entry,
                                const v1::ProductFlagsDecision& decision, const v1::Actor& actor,
                                const storage::StateReader& state, storage::StateWrites* changes);

// For the import of catalogue or control list `imported` at `entry`: every
// registered product whose CAS number it lists gets the flags of its row
// that it does not carry (none is taken away); a provisional one stops
// waiting when a catalogue's row is its own (its entry number, and UN
// number and class where the row gives them). Each change is recorded.
// `state` is the journal's view of the entry (its own writes so far on top
// of the state before it); the products read there are not written by the
// import's own rows.
absl::Status AddImportedFlags(const journal::EntryContext& entry, const ImportedTable& imported,
                              const storage::StateReader& state, storage::StateWrites* changes);

// The provisional products of `uscc` ("": of every enterprise), by
// enterprise and product number.
absl::StatusOr<std::vector<v1::PendingProduct>> ListPendingProducts(
    const storage::StateReader& state, absl::string_view uscc);

// The recorded flag changes of `uscc`'s products ("": every enterprise's),
// by enterprise, product, then log index.
absl::StatusOr<std::vector<v1::ProductFlagChange>> ListProductFlagChanges(
    const storage::StateReader& state, absl::string_view uscc);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_PRODUCT_FLAGS_H_
