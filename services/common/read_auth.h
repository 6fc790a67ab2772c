// Authenticated reads. A write carries its own signature (envelope.h); a read
// proves who asks with four gRPC metadata entries, made by the caller's actor
// key for one request to one deployment at one moment (docs/signatures.md,
// "Authenticated reads"):
//
//   chemledger-key-id         the actor's key id (16 hex digits)
//   chemledger-time           Unix seconds when signed (decimal)
//   chemledger-nonce          32 lowercase hex digits, fresh for every call
//   chemledger-signature-bin  Ed25519 signature (64 bytes) over
//     PAE("application/vnd.chemledger.read.v2",
//         "<origin>\n<full method name>\n<chemledger-time>\n<chemledger-nonce>\n"
//         "<lowercase hex SHA-256 of the request message's bytes>")
//
// `origin` is the deployment's checkpoint origin (Deployment.checkpoint_origin),
// so credentials made for one deployment never read another. The request's
// bytes are the serialized request message exactly as the client sent it and
// the server received it; the server hashes the bytes it received and never
// re-serializes a parsed message (serializations differ between languages).
// A stream is opened before any message is sent: its credentials are made
// over no bytes (the SHA-256 of the empty string).
//
// The server accepts credentials signed at most kReadWindow before its clock
// and kReadLead after it, and each (key id, nonce) once: it remembers them
// until they expire, so a captured credential cannot be replayed, nor used
// for another request, method or deployment. The servers keep that memory
// on disk (ephemeral_store.h), so it survives a restart; a memory that may
// have lost pairs (after a power loss) refuses credentials signed before it
// began, so only one used within kReadLead before a power loss could be
// replayed once after it, still for its one request.
//
// The first version, read.v1 (no nonce; the method and the time only, five
// minutes either side) is accepted only when the server is told to
// (ReadCredentialChecker::Options::accept_v1, chemledgerd
// --read-credentials=v1-accepted) until kReadV1AcceptedUntil (CHANGELOG.md).
//
// SignRead is a pure function (but for its random nonce); the checker is
// thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_READ_AUTH_H_
#define CHEMLEDGER_SERVICES_COMMON_READ_AUTH_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/keys.h"

namespace chemledger::read_auth {

inline constexpr crypto::SignatureContext kReadContext("application/vnd.chemledger.read.v2");
inline constexpr absl::Duration kReadWindow = absl::Seconds(60);
inline constexpr absl::Duration kReadLead = absl::Seconds(10);

// Deprecated: the first form, bound to the method and the time only.
inline constexpr crypto::SignatureContext kReadContextV1("application/vnd.chemledger.read.v1");
inline constexpr absl::Duration kReadV1Window = absl::Minutes(5);
// The last day (China Standard Time) on which a server may accept read.v1.
inline constexpr char kReadV1AcceptedUntil[] = "2027-06-30";

inline constexpr char kKeyIdHeader[] = "chemledger-key-id";
inline constexpr char kTimeHeader[] = "chemledger-time";
inline constexpr char kNonceHeader[] = "chemledger-nonce";
inline constexpr char kSignatureHeader[] = "chemledger-signature-bin";

// What read credentials are bound to. The views must outlive the call they
// are passed to.
struct ReadRequest {
  absl::string_view origin;         // Deployment.checkpoint_origin
  absl::string_view method;         // e.g. "/chemledger.v1.LedgerService/GetHistory"
  absl::string_view request_bytes;  // the serialized request as sent; empty for a stream
};

// The metadata values (empty where absent).
struct ReadCredentials {
  std::string key_id;
  std::string time;
  std::string nonce;      // empty: read.v1
  std::string signature;  // raw 64 bytes
};

// The text signed for `request` (see the top of this file): what a client in
// another language builds.
std::string SignedText(const ReadRequest& request, absl::string_view time,
                       absl::string_view nonce);

// Credentials for `request` at `now` as `key`, with a fresh random nonce.
ReadCredentials SignRead(const ReadRequest& request, const crypto::SigningKey& key,
                         absl::Time now);

// Where used (key id, nonce) pairs are remembered until they expire, so
// that a replay is refused: in this process (NewLocalNonceMemory, what
// chemledgerd uses), or shared by every instance of a cluster's services
// (ledgerd keeps it; the personalities ask it through its internal port,
// services/ledgerd/remote_ledger.h).
//
// Thread-safety: implementations are thread-safe.
class NonceMemory {
 public:
  virtual ~NonceMemory() = default;
  // Remembers `key_id` (16 lowercase hex digits) with `nonce` (32) until
  // `expires` (Unix seconds), as of `now`, for credentials signed at
  // `signed_at`. UNAUTHENTICATED, naming the metadata entry, for a pair
  // already remembered or one that may have been forgotten (signed too long
  // ago, or before the memory began); RESOURCE_EXHAUSTED when it is full.
  virtual absl::Status Remember(absl::string_view key_id, absl::string_view nonce,
                                absl::Time signed_at, int64_t expires, absl::Time now) = 0;
};

struct NonceMemoryOptions {
  // How many unexpired (key id, nonce) pairs are remembered at most, in
  // all and per key (about 60 bytes each). When full, reads are refused
  // with RESOURCE_EXHAUSTED until some expire: the memory never forgets one
  // early. The bound per key keeps one actor from taking them all.
  size_t max_remembered = size_t{1} << 21;
  size_t max_remembered_per_key = 100000;
  // Credentials signed before this second are refused: the pairs used
  // before the memory began are not in it.
  absl::Time not_before = absl::InfinitePast();
};
std::unique_ptr<NonceMemory> NewLocalNonceMemory(NonceMemoryOptions options);

// The server's half: checks the form, time and signature of credentials and
// refuses a replay.
class ReadCredentialChecker {
 public:
  struct Options {
    std::string origin;  // this deployment's checkpoint origin
    bool accept_v1 = false;
    // Where used nonces are remembered; null: a memory of this checker's
    // own (NewLocalNonceMemory with the bounds below).
    std::shared_ptr<NonceMemory> memory;
    // How many unexpired (key id, nonce) pairs are remembered at most, in
    // all and per key (about 60 bytes each). When full, reads are refused
    // with RESOURCE_EXHAUSTED until some expire: the server never forgets
    // one early. The bound per key keeps one actor from taking them all.
    size_t max_remembered = size_t{1} << 21;
    size_t max_remembered_per_key = 100000;
    // Credentials signed before this second are refused: for a memory that
    // may have lost the nonces used before it began (ephemeral_store.h sets
    // it after a power loss).
    absl::Time not_before = absl::InfinitePast();
  };
  explicit ReadCredentialChecker(Options options);
  ReadCredentialChecker(const ReadCredentialChecker&) = delete;
  ReadCredentialChecker& operator=(const ReadCredentialChecker&) = delete;

  const std::string& origin() const { return options_.origin; }

  // Checks `credentials` for a call of `method` carrying `request_bytes`,
  // received at `now`. `verify_signer` checks the signature envelope they
  // make against the registry (known key, not revoked, ...) for the context
  // given. Only after it succeeds is the nonce remembered, so credentials
  // nobody could sign never fill the memory.
  //
  // UNAUTHENTICATED, naming the metadata entry, when credentials are missing
  // or malformed, signed too far from `now`, already used, or of read.v1 when
  // that is not accepted; what `verify_signer` returns when it fails;
  // RESOURCE_EXHAUSTED when the memory of used nonces is full.
  absl::Status Check(
      const ReadCredentials& credentials, absl::string_view method,
      absl::string_view request_bytes, absl::Time now,
      absl::FunctionRef<absl::Status(const v1::SignedEnvelope&, const crypto::SignatureContext&)>
          verify_signer);

 private:
  const Options options_;
  const std::shared_ptr<NonceMemory> memory_;
};

}  // namespace chemledger::read_auth

#endif  // CHEMLEDGER_SERVICES_COMMON_READ_AUTH_H_
