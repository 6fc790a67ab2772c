// absl::Status to and from chemledger.internal.StatusProto, payloads
// included: a refusal's full reason and kind (services/common/refusal.h)
// cross from ledgerd to the personality that records and answers it.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGERD_WIRE_STATUS_H_
#define CHEMLEDGER_SERVICES_LEDGERD_WIRE_STATUS_H_

#include "absl/status/status.h"
#include "chemledger/internal/ledger_store.pb.h"

namespace chemledger::ledgerd {

internal::StatusProto ToStatusProto(const absl::Status& status);
// Code 0 is OK; a code outside absl's canonical codes becomes Unknown.
absl::Status FromStatusProto(const internal::StatusProto& proto);

}  // namespace chemledger::ledgerd

#endif  // CHEMLEDGER_SERVICES_LEDGERD_WIRE_STATUS_H_
