#include "services/label/scan_admission.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/common/grpc_read_auth.h"

namespace chemledger::label {

ScanCaller ScanCallerOf(const grpc::ServerContextBase& context) {
  ScanCaller caller;
  caller.address = ClientAddress(context.peer());
  // Any of the entries sent, even empty, means the caller meant to sign.
  const auto& metadata = context.client_metadata();
  for (const char* entry : {read_auth::kKeyIdHeader, read_auth::kTimeHeader,
                            read_auth::kNonceHeader, read_auth::kSignatureHeader}) {
    if (metadata.count(entry) > 0) {
      caller.credentials = read_auth::ReadCredentialsOf(context);
      break;
    }
  }
  return caller;
}

absl::StatusOr<Scanner> ScanAdmission::Identify(const storage::StateReader& state,
                                                const ScanCaller& caller, absl::string_view method,
                                                absl::string_view request_bytes,
                                                absl::Time now) const {
  if (!caller.credentials.has_value()) return Scanner::Anyone();
  if (reads_ == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", read_auth::kKeyIdHeader, ": this server takes no read credentials for ",
        method, ": call it without them to scan as anyone"));
  }
  absl::StatusOr<v1::Actor> actor =
      reads_->Authenticate(state, *caller.credentials, method, request_bytes);
  if (!actor.ok()) {
    // It cost a check, as an anonymous scan costs one: charged alike.
    anonymous_->Take(caller.address, 1, now);
    return actor.status();
  }
  return Scanner::Actor(*std::move(actor));
}

namespace {

std::string LimitsOf(const RateLimiter& allowance) {
  return absl::StrCat(allowance.rate(), " codes a second, bursts of ", allowance.burst());
}

}  // namespace

absl::Status ScanAdmission::CheckWithinBurst(const Scanner& scanner, double cost) const {
  const RateLimiter& allowance = scanner.registered() ? *signed_ : *anonymous_;
  if (cost <= allowance.burst()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("this call costs ", cost, " codes, more than ",
                   scanner.registered() ? "a signed call" : "an anonymous call", " may ever cost (",
                   LimitsOf(allowance), "): split it",
                   scanner.registered() ? "" : ", or sign the call as a registered actor"));
}

absl::Status ScanAdmission::Charge(const Scanner& scanner, const ScanCaller& caller, double cost,
                                   absl::Time now) const {
  RateLimiter& allowance = scanner.registered() ? *signed_ : *anonymous_;
  if (absl::Status within = CheckWithinBurst(scanner, cost); !within.ok()) return within;
  if (!allowance.Take(AllowanceHolder(scanner, caller), cost, now)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(scanner.registered() ? "this actor's scans are limited ("
                                          : "anonymous scans are limited per client address (",
                     LimitsOf(allowance), "): retry in a few seconds",
                     scanner.registered() ? "" : ", or sign the call as a registered actor"));
  }
  return absl::OkStatus();
}

std::string ScanAdmission::AllowanceHolder(const Scanner& scanner, const ScanCaller& caller) {
  if (!scanner.registered()) return caller.address;
  // The key id its credentials named (printable, as a refusal shows it);
  // a scanner made otherwise (a test's) by its whole key, in hex.
  return absl::StrCat("key ", caller.credentials
                                  ? caller.credentials->key_id
                                  : absl::BytesToHexString(scanner.actor()->public_key()));
}

}  // namespace chemledger::label
