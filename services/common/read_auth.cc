#include "services/common/read_auth.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/envelope.h"

namespace chemledger::read_auth {
namespace {

std::string SignedText(absl::string_view method, absl::string_view time) {
  return absl::StrCat(method, "\n", time);
}

}  // namespace

ReadCredentials SignRead(absl::string_view method, const crypto::SigningKey& key, absl::Time now) {
  ReadCredentials c;
  c.time = absl::StrCat(absl::ToUnixSeconds(now));
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(kReadContext, SignedText(method, c.time), key);
  c.key_id = envelope->signatures(0).key_id();
  c.signature = envelope->signatures(0).sig();
  return c;
}

absl::StatusOr<v1::SignedEnvelope> ReadEnvelope(const ReadCredentials& credentials,
                                                absl::string_view method, absl::Time now) {
  if (credentials.key_id.empty() || credentials.time.empty() || credentials.signature.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kKeyIdHeader, ", ", kTimeHeader, ", ", kSignatureHeader,
        ": this read needs an actor's signature (chemctl: --key FILE)"));
  }
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(credentials.time, &seconds) ||
      absl::StrCat(seconds) != credentials.time) {
    return absl::UnauthenticatedError(
        absl::StrCat("metadata ", kTimeHeader, ": '", credentials.time, "' is not Unix seconds"));
  }
  const absl::Duration skew = absl::FromUnixSeconds(seconds) - now;
  if (skew > kReadCredentialsLifetime || -skew > kReadCredentialsLifetime) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kTimeHeader, ": signed ", absl::FormatDuration(absl::AbsDuration(skew)),
        " away from the server's clock; at most ",
        absl::FormatDuration(kReadCredentialsLifetime), " is accepted"));
  }
  v1::SignedEnvelope envelope;
  envelope.set_payload_type(std::string(kReadContext.payload_type()));
  envelope.set_payload(SignedText(method, credentials.time));
  v1::Signature* s = envelope.add_signatures();
  s->set_key_id(credentials.key_id);
  s->set_sig(credentials.signature);
  return envelope;
}

}  // namespace chemledger::read_auth
