// Authenticated reads. A write carries its own signature (envelope.h); a read
// proves who asks with three gRPC metadata entries, made by the caller's actor
// key for one method and one moment:
//
//   chemledger-key-id         the actor's key id (16 hex digits)
//   chemledger-time           Unix seconds when signed (decimal)
//   chemledger-signature-bin  Ed25519 signature (64 bytes) over
//                             PAE("application/vnd.chemledger.read.v1",
//                                 "<full method name>\n<chemledger-time>")
//
// The server accepts the signature for kReadCredentialsLifetime either side
// of its clock. It is not bound to the request message, so within that window
// it may be replayed for the same method: reads reveal, they change nothing.
// Writes never rely on it.
//
// Pure functions and value types; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_READ_AUTH_H_
#define CHEMLEDGER_SERVICES_COMMON_READ_AUTH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"

namespace chemledger::read_auth {

inline constexpr crypto::SignatureContext kReadContext("application/vnd.chemledger.read.v1");
inline constexpr absl::Duration kReadCredentialsLifetime = absl::Minutes(5);

inline constexpr char kKeyIdHeader[] = "chemledger-key-id";
inline constexpr char kTimeHeader[] = "chemledger-time";
inline constexpr char kSignatureHeader[] = "chemledger-signature-bin";

// The three metadata values.
struct ReadCredentials {
  std::string key_id;
  std::string time;
  std::string signature;  // raw 64 bytes
};

// Credentials for calling `method` (e.g. "/chemledger.v1.RegistryService/
// GetEnterprise") at `now` as `key`.
ReadCredentials SignRead(absl::string_view method, const crypto::SigningKey& key, absl::Time now);

// The credentials as a signed envelope of payload type kReadContext, for the
// registry to verify like any other signature (known key, not revoked,
// enterprise not blacklisted). UNAUTHENTICATED when they are missing or
// malformed, or when their time is more than kReadCredentialsLifetime from
// `now`.
absl::StatusOr<v1::SignedEnvelope> ReadEnvelope(const ReadCredentials& credentials,
                                                absl::string_view method, absl::Time now);

}  // namespace chemledger::read_auth

#endif  // CHEMLEDGER_SERVICES_COMMON_READ_AUTH_H_
