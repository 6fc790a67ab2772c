// What a reader is shown of a logged event (LedgerService.GetEvent and
// GetHistory; see EventRecord in proto/chemledger/v1/ledger_service.proto).
//
// Regulators and platform administrators, the enterprise that recorded the
// event, and a reader that may read every code the event touched
// (code_state.h, MayRead) see it whole: the entry's exact bytes with it. Any
// other reader sees it with the codes it may not read taken out, no
// signatures, and the real leaf hash, so a past custodian reading its
// package's history learns nothing of the other packages a shipment or a
// pallet carried.
//
// Pure functions of a state snapshot; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_EVENT_VIEW_H_
#define CHEMLEDGER_SERVICES_LEDGER_EVENT_VIEW_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::ledger {

// Log entry `index` (an event) as `reader` may see it. DataLoss when the
// entry is not an event.
absl::StatusOr<v1::EventRecord> ViewEvent(const storage::StateReader& state,
                                          const v1::Actor& reader, uint64_t index);

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_EVENT_VIEW_H_
