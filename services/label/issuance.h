// Label issuance (一码), the personality behind LabelService: an enterprise's
// actor signs an IssueLabelsRequest (proto/chemledger/v1/label.proto) for a
// batch of one registered product; Issue verifies the signature, proposes
// the platform's current label key (only this process holds the private
// keys), and submits the request to the ledger, where IssuanceRules
// (issuance_rules.h) checks it and assigns the next serials of the batch in
// the same log entry. Then SignLabels signs one label URL (crypto/label.h)
// per package, outside any lock.
//
// Codes are never issued twice: serials of a batch only grow, and the log
// entry is durable before any label is handed out. A retry of an accepted
// request (same request_id, same bytes) gets the same assignment back and so
// the same labels (Ed25519 signatures are deterministic): re-delivery, not
// reissue.
//
// Thread-safety: thread-safe. The ledger client and keyring must outlive
// the issuer.

#ifndef CHEMLEDGER_SERVICES_LABEL_ISSUANCE_H_
#define CHEMLEDGER_SERVICES_LABEL_ISSUANCE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "api/net_quantity.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "crypto/trust_list.h"
#include "journal/ledger_client.h"
#include "services/common/worker_pool.h"
#include "services/label/issuance_state.h"
#include "services/label/label_keyring.h"
#include "services/registry/signers.h"
#include "storage/store.h"

namespace chemledger::label {

// One accepted issuance: serials first_serial .. first_serial + count - 1 of
// a batch, recorded at `log_index`, signed with `label_key_id`.
struct Issuance {
  explicit Issuance(const crypto::KeyId& key_id) : label_key_id(key_id) {}

  uint64_t log_index = 0;
  bool replayed = false;       // a retry of an accepted request
  crypto::LabelClaims claims;  // the batch's claims; claims.serial == first serial
  uint32_t count = 0;
  crypto::KeyId label_key_id;
};

struct IssuedLabel {
  uint64_t serial = 0;
  std::string code;  // LabelClaims::Code()
  std::string url;   // the signed label URL
};

// Whether `reader` (an actor whose read credentials were checked) may
// receive the labels of `asked`: only an actor of the enterprise they are
// for. The signed request may be in the log (a refusal recorded, or an
// issuance accepted before), where more than its signer may read it, and be
// accepted when sent again; the labels go only to one who shows, with
// credentials of their own, that they are the enterprise's.
// PermissionDenied naming the actor otherwise.
absl::Status MayReceiveLabels(const v1::Actor& reader, const v1::IssueLabelsRequest& asked);

class LabelIssuer {
 public:
  // `clock` says what day it is (which label key is current); empty: the
  // real clock.
  // `refusals` (may be null) is told of each issuance refused for breaking
  // a rule, to record it (registry/signers.h).
  LabelIssuer(journal::LedgerClient* ledger, LabelKeyring* keyring,
              std::function<absl::Time()> clock = nullptr,
              registry::RefusalSink* refusals = nullptr)
      : ledger_(ledger),
        keyring_(keyring),
        clock_(clock ? std::move(clock) : [] { return absl::Now(); }),
        refusals_(refusals) {}

  // Verifies, checks, assigns and records one IssueLabelsRequest envelope.
  // Errors name the field: InvalidArgument (malformed envelope or field),
  // Unauthenticated (unknown key, bad signature), PermissionDenied (revoked
  // key, actor not of the enterprise, blacklisted enterprise), NotFound
  // (unknown enterprise or product), FailedPrecondition (no valid licence,
  // not a producer or importer, no usable label key), AlreadyExists
  // (request_id reused for another request), ResourceExhausted (the batch's
  // serials would pass 999999999). Nothing is written on any error.
  absl::StatusOr<Issuance> Issue(const v1::SignedEnvelope& request);

  // The labels of `issuance` at offsets [offset, offset + n) (clipped to its
  // count), signed with its label key. FailedPrecondition if that key's file
  // is gone.
  absl::StatusOr<std::vector<IssuedLabel>> SignLabels(const Issuance& issuance, uint32_t offset,
                                                      uint32_t n) const;

 private:
  journal::LedgerClient* const ledger_;
  LabelKeyring* const keyring_;
  const std::function<absl::Time()> clock_;
  registry::RefusalSink* const refusals_;
};

// Hands the labels of `issuance` to `write` in order, at most `per_message`
// at a time, signed by `issuer` on `pool` in chunks a few messages ahead of
// the one `write` is given, so that neither the signing workers nor the
// writer waits for the other (BENCHMARKS.md, "Label issuance signed ahead
// in chunks"). Returns how many labels `write` took: issuance.count, or
// fewer when it returned false (the client went away); or the first
// signing failure, before `write` is given anything of that message. Every
// signing task has finished when it returns.
absl::StatusOr<uint32_t> StreamLabels(const LabelIssuer& issuer, const Issuance& issuance,
                                      WorkerPool& pool, uint32_t per_message,
                                      absl::FunctionRef<bool(std::vector<IssuedLabel>)> write);

// How long a trust list the server signs may be relied on: offline verifiers
// fetch a new one at least this often, so a revocation reaches them.
inline constexpr int kTrustListValidDays = 7;

// The label trust list as of `today`, expiring kTrustListValidDays later:
// the deployment's resolver and every label key registered in `state`, with
// its validity and revocation.
absl::StatusOr<crypto::TrustList> MakeTrustList(const storage::StateReader& state,
                                                absl::CivilDay today);

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_ISSUANCE_H_
