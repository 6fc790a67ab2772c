#include "services/common/read_auth.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "services/common/envelope.h"

namespace chemledger::read_auth {
namespace {

constexpr size_t kNonceBytes = 16;

std::string SignedTextV1(absl::string_view method, absl::string_view time) {
  return absl::StrCat(method, "\n", time);
}

bool IsNonce(absl::string_view nonce) {
  if (nonce.size() != 2 * kNonceBytes) return false;
  for (char c : nonce) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The first moment read.v1 is refused whatever the options say: the day
// after kReadV1AcceptedUntil, in China Standard Time.
absl::Time EndOfReadV1() {
  return absl::FromCivil(absl::CivilSecond(2027, 7, 1, 0, 0, 0),
                         absl::FixedTimeZone(8 * 60 * 60));
}

}  // namespace

std::string SignedText(const ReadRequest& request, absl::string_view time,
                       absl::string_view nonce) {
  return absl::StrCat(request.origin, "\n", request.method, "\n", time, "\n", nonce, "\n",
                      crypto::Sha256(request.request_bytes).ToHex());
}

ReadCredentials SignRead(const ReadRequest& request, const crypto::SigningKey& key,
                         absl::Time now) {
  ReadCredentials c;
  c.time = absl::StrCat(absl::ToUnixSeconds(now));
  c.nonce = absl::BytesToHexString(crypto::RandomBytes(kNonceBytes));
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(kReadContext, SignedText(request, c.time, c.nonce), key);
  c.key_id = envelope->signatures(0).key_id();
  c.signature = envelope->signatures(0).sig();
  return c;
}

ReadCredentialChecker::ReadCredentialChecker(Options options) : options_(std::move(options)) {}

absl::Status ReadCredentialChecker::Check(
    const ReadCredentials& credentials, absl::string_view method,
    absl::string_view request_bytes, absl::Time now,
    absl::FunctionRef<absl::Status(const v1::SignedEnvelope&, const crypto::SignatureContext&)>
        verify_signer) {
  if (credentials.key_id.empty() || credentials.time.empty() || credentials.signature.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kKeyIdHeader, ", ", kTimeHeader, ", ", kNonceHeader, ", ", kSignatureHeader,
        ": this call needs an actor's read credentials (docs/signatures.md; chemctl: --key "
        "FILE)"));
  }
  const bool v1 = credentials.nonce.empty();
  if (v1 && !(options_.accept_v1 && now < EndOfReadV1())) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kNonceHeader, ": missing; read.v1 credentials (no nonce) are no longer "
        "accepted: sign read.v2 credentials, bound to the request (docs/signatures.md, "
        "CHANGELOG.md)"));
  }
  if (!v1 && !IsNonce(credentials.nonce)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kNonceHeader, ": must be 32 lowercase hex digits (16 random bytes)"));
  }
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(credentials.time, &seconds) ||
      absl::StrCat(seconds) != credentials.time) {
    return absl::UnauthenticatedError(
        absl::StrCat("metadata ", kTimeHeader, ": '", credentials.time, "' is not Unix seconds"));
  }
  const absl::Duration window = v1 ? kReadV1Window : kReadWindow;
  const absl::Duration skew = absl::FromUnixSeconds(seconds) - now;
  if (skew > window || -skew > window) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kTimeHeader, ": signed ", absl::FormatDuration(absl::AbsDuration(skew)),
        " away from the server's clock; at most ", absl::FormatDuration(window),
        " is accepted"));
  }
  if (!v1 && absl::FromUnixSeconds(seconds) < absl::FromUnixSeconds(absl::ToUnixSeconds(
                                                    options_.not_before))) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kTimeHeader, ": signed before this server started (",
        absl::FormatTime(options_.not_before), "); sign the call afresh"));
  }
  v1::SignedEnvelope envelope;
  const crypto::SignatureContext& context = v1 ? kReadContextV1 : kReadContext;
  envelope.set_payload_type(std::string(context.payload_type()));
  envelope.set_payload(
      v1 ? SignedTextV1(method, credentials.time)
         : SignedText(ReadRequest{options_.origin, method, request_bytes}, credentials.time,
                      credentials.nonce));
  v1::Signature* s = envelope.add_signatures();
  s->set_key_id(credentials.key_id);
  s->set_sig(credentials.signature);
  if (absl::Status verified = verify_signer(envelope, context); !verified.ok()) return verified;
  if (v1) return absl::OkStatus();
  return Remember(absl::StrCat(credentials.key_id, "/", credentials.nonce),
                  seconds + absl::ToInt64Seconds(window), now);
}

absl::Status ReadCredentialChecker::Remember(const std::string& key, int64_t expires,
                                             absl::Time at) {
  const int64_t now = absl::ToUnixSeconds(at);
  absl::MutexLock lock(&mu_);
  // Forget what can no longer be accepted anyway.
  while (!expiry_.empty() && expiry_.begin()->first < now) {
    used_.erase(expiry_.begin()->second);
    expiry_.erase(expiry_.begin());
  }
  if (used_.contains(key)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kNonceHeader, ": these credentials were used already; sign every call "
        "afresh, with a new nonce"));
  }
  if (used_.size() >= options_.max_remembered) {
    return absl::ResourceExhaustedError(
        "read credentials: too many reads in the last two minutes to remember their nonces; "
        "retry shortly");
  }
  used_.insert(key);
  expiry_.emplace(expires, key);
  return absl::OkStatus();
}

}  // namespace chemledger::read_auth
