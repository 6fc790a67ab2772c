// Label issuance (一码): the core behind LabelService. An enterprise's actor
// signs an IssueLabelsRequest (proto/chemledger/v1/label.proto) for a batch of
// one registered product; the issuer checks it against the registry, assigns
// the next package serials of that batch, records the request and the
// assignment as one log entry, and then signs one label URL (crypto/label.h)
// per package with the platform's current label key.
//
// Codes are never issued twice: serials of a batch only grow, and the log
// entry is durable before any label is handed out. A retry of an accepted
// request (same request_id, same bytes) gets the same assignment back and so
// the same labels (Ed25519 signatures are deterministic): re-delivery, not
// reissue.
//
// Who may issue: an ENTERPRISE_ADMIN or ENTERPRISE_OPERATOR of the product's
// enterprise, which must be a producer or importer with a safety-production
// (producer) or hazardous-chemicals trade (importer) licence valid on the day
// of issue, and not blacklisted.
//
// Thread-safety: LabelIssuer and LabelKeyring are safe for concurrent use.
// Issue calls are serialised, and hold the registry's lock across their one
// synced log write (so registry changes wait for it); the labels themselves
// are signed afterwards, by SignLabels, outside any lock. The Log, Registry
// and LabelKeyring must outlive the issuer.

#ifndef CHEMLEDGER_SERVICES_LABEL_ISSUANCE_H_
#define CHEMLEDGER_SERVICES_LABEL_ISSUANCE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "crypto/trust_list.h"
#include "services/registry/registry.h"
#include "storage/log.h"

namespace chemledger::label {

inline constexpr crypto::SignatureContext kIssueLabelsContext(
    "application/vnd.chemledger.issue-labels.v1+protobuf");

// Most packages one request may ask for.
inline constexpr uint32_t kMaxPackagesPerRequest = 100000;

// The platform's private label keys: unsealed key files (mode 0600) named
// "label-<key id>.key" in one directory of the server's data directory. A
// key is used only once a platform administrator has registered its public
// half (RegistryRequest.add_label_key).
class LabelKeyring {
 public:
  // Loads every label key file in `dir` (which must exist). A file that does
  // not load makes only its own key unusable (Find says why).
  static absl::StatusOr<std::unique_ptr<LabelKeyring>> Open(const std::string& dir);

  // Generates a new label key and writes its file into `dir`; returns the
  // public half, for registering it.
  static absl::StatusOr<crypto::VerifyingKey> CreateKey(const std::string& dir);

  // The private key `id`, looking in the directory again if it is not loaded
  // yet (a key made by `chemledgerd label-key new` while the server runs).
  // NotFound if there is no file for it.
  absl::StatusOr<const crypto::SigningKey*> Find(const crypto::KeyId& id);

 private:
  explicit LabelKeyring(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Scan() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  absl::Mutex mu_;
  // Never erased, so returned pointers stay valid for the keyring's life.
  std::map<crypto::KeyId, std::unique_ptr<crypto::SigningKey>> keys_ ABSL_GUARDED_BY(mu_);
  // Key files that did not load (wrong mode, sealed, corrupt), and why.
  std::map<crypto::KeyId, absl::Status> broken_ ABSL_GUARDED_BY(mu_);
};

// The key the platform signs with on `today` (labels, waybill codes): a
// registered, unrevoked label key valid on that day whose private half
// `keyring` holds; the newest such (latest valid_from) when several are.
// FailedPrecondition when there is none.
absl::StatusOr<const crypto::SigningKey*> CurrentLabelKey(const registry::Registry::View& view,
                                                          LabelKeyring& keyring,
                                                          absl::CivilDay today);

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

// Where a code was issued, and what its labels state.
struct IssuanceRecord {
  uint64_t log_index = 0;
  uint64_t first_serial = 0;
  uint32_t count = 0;
  crypto::LabelClaims claims;  // the batch's claims; claims.serial == first_serial
  crypto::KeyId label_key_id;
};

class LabelIssuer {
 public:
  // Replays the issuance entries of `log` (opened registry's log).
  static absl::StatusOr<std::unique_ptr<LabelIssuer>> Open(storage::Log* log,
                                                           registry::Registry* registry,
                                                           LabelKeyring* keyring);

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

  // The issuance that covers the package, if its code was issued. Takes only
  // the issuance records' lock: safe to call under the registry's lock.
  std::optional<IssuanceRecord> FindIssuance(const std::string& uscc, const std::string& product,
                                             const std::string& batch, uint64_t serial) const;

  // The issuance a label (already verified against the trust list) belongs
  // to: its code was issued, with exactly these claims, by this key.
  // NotFound when the code was never issued; FailedPrecondition when it was,
  // but with other claims or another key (a label made with a leaked key).
  absl::StatusOr<IssuanceRecord> MatchIssuance(const crypto::ParsedLabel& label) const;

  // The label trust list as of `today`: the deployment's resolver and every
  // registered label key with its validity and revocation.
  crypto::TrustList MakeTrustList(absl::CivilDay today) const;

 private:
  using BatchKey = std::tuple<std::string, std::string, std::string>;  // uscc, product, batch

  LabelIssuer(storage::Log* log, registry::Registry* registry, LabelKeyring* keyring)
      : log_(log), registry_(registry), keyring_(keyring) {}

  // Checks `envelope` against the registry (inside Registry::AppendChecked);
  // fills `request` and returns the issuance (without log_index).
  absl::StatusOr<Issuance> Check(const registry::Registry::View& view,
                                 const v1::SignedEnvelope& envelope, absl::CivilDay today,
                                 v1::IssueLabelsRequest* request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Commit(const v1::IssueLabelsRequest& request, const Issuance& issuance,
              const std::string& payload) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds the Issuance of a logged request (for replay and retries).
  absl::StatusOr<Issuance> Reconstruct(const v1::IssueLabelsRequest& request,
                                       const v1::LabelAssignment& assignment,
                                       uint64_t log_index) const;

  storage::Log* const log_;
  registry::Registry* const registry_;
  LabelKeyring* const keyring_;
  // Serialises Issue (and replay). Lock order: mu_, then the registry's lock,
  // then records_mu_.
  mutable absl::Mutex mu_;
  // Guards only the issuance records, so that FindIssuance may be called
  // under the registry's lock (the ledger does) without a lock cycle.
  mutable absl::Mutex records_mu_ ABSL_ACQUIRED_AFTER(mu_);
  // Per batch: its issuances in serial order (the last one ends at the
  // highest serial issued).
  std::map<BatchKey, std::vector<IssuanceRecord>> batches_ ABSL_GUARDED_BY(records_mu_);
  // request_id -> (payload, issuance) for idempotent retries.
  std::map<std::string, std::pair<std::string, Issuance>> requests_ ABSL_GUARDED_BY(mu_);
};

// Parses a net quantity ("25", "0.5", "200.125") into thousandths.
// InvalidArgument naming `field` unless it is a decimal with at most 3
// fraction digits, more than 0 and at most 4294967.295.
absl::StatusOr<uint32_t> ParseNetQuantity(absl::string_view field, absl::string_view text);
// The inverse: 25000 -> "25", 500 -> "0.5".
std::string FormatNetQuantity(uint64_t milli);

// The quantity as people read it on a label: (25000, "KGM") -> "25 kg".
std::string NetQuantityText(uint32_t milli, absl::string_view unit);

// UNECE Recommendation 20 units accepted for a package's net quantity: KGM
// (kg), GRM (g), TNE (t), LTR (L), MLT (mL), MTQ (m³).
bool IsNetQuantityUnit(absl::string_view unit);

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_ISSUANCE_H_
