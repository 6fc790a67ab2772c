// Online resolution of a scanned label: the verdict, and what the log says
// about the package, for the LabelService.ResolveLabel call that any phone
// may make.
//
// Only a label the log accounts for gets anything besides its verdict: an
// authentic label whose issuance the log holds (same claims, same key), or a
// label signed by a label key that was revoked after the log recorded its
// issuance (its safety information still holds; the revocation is a
// warning). A label with a bad signature, an unknown key, a resolver of
// another deployment, or claims the log does not hold gets the verdict and
// its detail, nothing else: an unauthenticated caller cannot read registry
// records by guessing label URLs.
//
// The verdict is authenticity plus the package's state: a warning for each
// of a voided code, a package consumed or disposed of (a possible copy), one
// reported lost or stolen, one on hold, one recalled, one in transit scanned
// by anyone but its carrier
// and consignee (and regulators), a supplier on the blacklist and a label key
// revoked after the issuance; and the assessment in one word (genuine,
// suspicious, fake). A registered actor's scan also gets the package's state.
//
// Pure functions of a state snapshot; thread-safe.

#ifndef CHEMLEDGER_SERVICES_LABEL_LABEL_RESOLUTION_H_
#define CHEMLEDGER_SERVICES_LABEL_LABEL_RESOLUTION_H_

#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "chemledger/v1/registry.pb.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "chemledger/v1/label_service.pb.h"
#include "crypto/trust_list.h"
#include "storage/store.h"

namespace chemledger::label {

// Who is scanning: anyone (the public scan: product, and the supplier's name,
// region and address), or a registered actor whose read credentials the
// caller has checked (the supplier's whole record, licences included, and
// the package's state).
class Scanner {
 public:
  static Scanner Anyone() { return Scanner(std::nullopt); }
  static Scanner Actor(v1::Actor actor) { return Scanner(std::move(actor)); }

  bool registered() const { return actor_.has_value(); }
  // Null for anyone.
  const v1::Actor* actor() const { return actor_ ? &*actor_ : nullptr; }

 private:
  explicit Scanner(std::optional<v1::Actor> actor) : actor_(std::move(actor)) {}
  std::optional<v1::Actor> actor_;
};

// Resolves `url` against the label keys registered in `state` as of `today`
// (China day). Errors only when `state` cannot be read.
absl::StatusOr<v1::ResolveLabelResponse> ResolveLabel(const storage::StateReader& state,
                                                      absl::string_view url, absl::CivilDay today,
                                                      const Scanner& scanner);
// The same against `trust`, the trust list of `state` made once for many
// labels (MakeTrustList in issuance.h).
absl::StatusOr<v1::ResolveLabelResponse> ResolveLabel(const storage::StateReader& state,
                                                      absl::string_view url,
                                                      const crypto::TrustList& trust,
                                                      const Scanner& scanner);

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_LABEL_RESOLUTION_H_
