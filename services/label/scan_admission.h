// Who is scanning a label, and whether the scan is within their allowance:
// the one admission rule of the scan calls (LabelService.ResolveLabel and
// VerifyService.Verify), so that a scan is admitted alike whichever call it
// came through.
//
//   - A call that carries no read credentials is anyone's, and is charged
//     to its client address's allowance (rate_limiter.h; in chemledgerd the
//     one that the scan pages, ResolveWaybillCode and ListBlacklist share).
//   - A call that carries read credentials (any of the metadata entries of
//     read_auth.h) is the registered actor's whose credentials hold, for the
//     call's method over the request's bytes as received, and is charged to
//     that actor key's allowance. Credentials that do not hold are refused
//     (UNAUTHENTICATED or PERMISSION_DENIED, naming the metadata entry),
//     never answered as anyone's: a caller that meant to sign is told why
//     it was not believed, rather than shown less without a word. Such a
//     call is charged to its client address as an anonymous scan is.
//   - A cost above what an allowance can ever hold (its burst) is
//     INVALID_ARGUMENT: no wait lets it through. A cost above what it holds
//     now is RESOURCE_EXHAUSTED. Either way nothing is taken.
//
// The core is given the call's credentials and client address (ScanCaller)
// and is tested without the network; ScanCallerOf takes them from a gRPC
// call.
//
// Thread-safety: thread-safe. The authenticator and the allowances are not
// owned and must outlive the admission.

#ifndef CHEMLEDGER_SERVICES_LABEL_SCAN_ADMISSION_H_
#define CHEMLEDGER_SERVICES_LABEL_SCAN_ADMISSION_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "services/common/rate_limiter.h"
#include "services/common/read_auth.h"
#include "services/label/label_resolution.h"
#include "services/registry/read_access.h"
#include "storage/store.h"

namespace chemledger::label {

// What a scan call says of its caller.
struct ScanCaller {
  // Absent when the call carries none of the read credentials' entries.
  std::optional<read_auth::ReadCredentials> credentials;
  // The client address the call came from (ClientAddress in rate_limiter.h).
  std::string address;
};

// The caller of a gRPC call.
ScanCaller ScanCallerOf(const grpc::ServerContextBase& context);

class ScanAdmission {
 public:
  // `reads` may be null: then a call with credentials is refused
  // (UNAUTHENTICATED: this server takes none).
  ScanAdmission(registry::ReadAuthenticator* reads, RateLimiter* anonymous,
                RateLimiter* signed_scans)
      : reads_(reads), anonymous_(anonymous), signed_(signed_scans) {}

  // The scanner `caller` is, in `state`, for a call of `method` whose
  // request arrived as `request_bytes`, at `now`. Charges nothing, but a
  // scan whose credentials failed (1, to the caller's address). Besides
  // the refusals above, RESOURCE_EXHAUSTED when the server's memory of
  // used credentials is full (read_auth.h).
  absl::StatusOr<Scanner> Identify(const storage::StateReader& state, const ScanCaller& caller,
                                   absl::string_view method, absl::string_view request_bytes,
                                   absl::Time now) const;

  // InvalidArgument (as above) when `cost` is more than the allowance of
  // `scanner` can ever hold (its burst); takes nothing. For a call charged
  // in parts: the whole of what it costs.
  absl::Status CheckWithinBurst(const Scanner& scanner, double cost) const;

  // Takes `cost` codes from the allowance of `scanner` (its key's when
  // registered, `caller`'s address's otherwise) at `now`.
  absl::Status Charge(const Scanner& scanner, const ScanCaller& caller, double cost,
                      absl::Time now) const;

  // Whose allowance a scan of `scanner` from `caller` is charged to: "key "
  // and the key id its credentials named (16 hex digits), or the client
  // address. Printable: a refusal may name it. (A name for what else is
  // kept per caller, such as one call's photos read at a time.)
  static std::string AllowanceHolder(const Scanner& scanner, const ScanCaller& caller);

 private:
  registry::ReadAuthenticator* const reads_;
  RateLimiter* const anonymous_;  // by client address
  RateLimiter* const signed_;     // by actor key
};

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_SCAN_ADMISSION_H_
