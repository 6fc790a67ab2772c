// Label issuance's state: which codes were issued, by which request, with
// what claims and key. Read from the store (at a snapshot, or in the
// journal's view while an entry is checked); changed only by IssuanceRules
// (issuance_rules.h). Key layout in the .cc and docs/architecture.md.
//
// Pure functions over a storage::StateReader; thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_LABEL_ISSUANCE_STATE_H_
#define CHEMLEDGER_SERVICES_LABEL_ISSUANCE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "api/wire.h"
#include "absl/status/statusor.h"
#include "chemledger/state/state.pb.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "storage/store.h"

namespace chemledger::label {

using api::kIssueLabelsContext;
using api::kMaxPackagesPerRequest;

// One issuance: serials first_serial .. first_serial + count - 1 of a batch,
// recorded at `log_index`, signed with `label_key_id`.
struct IssuanceRecord {
  uint64_t log_index = 0;
  uint64_t first_serial = 0;
  uint32_t count = 0;
  crypto::LabelClaims claims;  // the batch's claims; claims.serial == first_serial
  crypto::KeyId label_key_id;
};

// The issuance that covers the package, if its code was issued.
absl::StatusOr<std::optional<IssuanceRecord>> FindIssuance(const storage::StateReader& state,
                                                           absl::string_view uscc,
                                                           absl::string_view product,
                                                           absl::string_view batch,
                                                           uint64_t serial);

// The next serial of a batch (1 for a batch never issued).
absl::StatusOr<uint64_t> NextSerial(const storage::StateReader& state, absl::string_view uscc,
                                    absl::string_view product, absl::string_view batch);

// The issuance a label (already verified against the trust list) belongs
// to: its code was issued, with exactly these claims, by this key. NotFound
// when the code was never issued; FailedPrecondition when it was, but with
// other claims or another key (a label made with a leaked key).
absl::StatusOr<IssuanceRecord> MatchIssuance(const storage::StateReader& state,
                                             const crypto::ParsedLabel& label);

namespace internal {
// For IssuanceRules: the state keys and record of one issuance.
std::string IssuanceKey(absl::string_view uscc, absl::string_view product,
                        absl::string_view batch, uint64_t last_serial);
std::string NextSerialKey(absl::string_view uscc, absl::string_view product,
                          absl::string_view batch);
}  // namespace internal

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_ISSUANCE_STATE_H_
