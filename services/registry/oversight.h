// Oversight: what a regulator's jurisdiction covers (docs/audit.md, "Who
// reads"). Every service asks here before it shows a regulator another
// enterprise's records, so one rule holds everywhere:
//
//   - platform administrators oversee everything;
//   - a regulator with a national jurisdiction oversees every enterprise;
//   - one with a region prefix, every enterprise whose registered region
//     (Enterprise.region_code, GB/T 2260) begins with it;
//   - one with a park, every enterprise that has a registered site in the
//     park, and the park itself;
//   - a regulator registered before jurisdictions existed (rules epoch 3 or
//     earlier) and not yet assigned one (RegistryRequest.assign_regulator)
//     oversees everything, as all regulators did then.
// Anyone else oversees nothing (their own enterprise's records are theirs to
// read by other rules).
//
// The department is recorded but does not narrow what a regulator reads
// yet: every department reads all records within its jurisdiction.
//
// Thread-safe: pure functions of a state reader.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_OVERSIGHT_H_
#define CHEMLEDGER_SERVICES_REGISTRY_OVERSIGHT_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::registry {

// Whether `reader` is a platform administrator or a regulator (the roles
// oversight applies to).
bool HasOversightRole(const v1::Actor& reader);

// Whether `reader` oversees everything (no lookups needed).
bool OverseesEverything(const v1::Actor& reader);

// Whether `reader` oversees the enterprise `uscc` (false for an unknown one,
// unless `reader` oversees everything).
absl::StatusOr<bool> OverseesEnterprise(const storage::StateReader& state,
                                        const v1::Actor& reader, absl::string_view uscc);

// Whether `reader` oversees the park `park_id`: its own park, or a region
// that holds the park's registered region.
absl::StatusOr<bool> OverseesPark(const storage::StateReader& state, const v1::Actor& reader,
                                  absl::string_view park_id);

// "national", "region 3501" or "park FZ-JIANGYIN", for refusals.
std::string JurisdictionText(const v1::Actor& reader);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_OVERSIGHT_H_
