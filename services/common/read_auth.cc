#include "services/common/read_auth.h"

#include <algorithm>
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

bool IsLowerHex(absl::string_view text, size_t digits) {
  if (text.size() != digits) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// 16 lowercase hex digits as a number.
uint64_t HexValue(absl::string_view hex) {
  uint64_t v = 0;
  for (char c : hex) v = (v << 4) | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  return v;
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

namespace {

class LocalNonceMemory final : public NonceMemory {
 public:
  explicit LocalNonceMemory(NonceMemoryOptions options) : options_(options) {}

  absl::Status Remember(absl::string_view key_id, absl::string_view nonce, absl::Time signed_at,
                        int64_t expires, absl::Time at) override {
    if (!IsLowerHex(key_id, 16) || !IsLowerHex(nonce, 2 * kNonceBytes)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "metadata ", kKeyIdHeader, ", ", kNonceHeader, ": must be 16 and 32 lowercase hex "
          "digits"));
    }
    if (absl::ToUnixSeconds(signed_at) < absl::ToUnixSeconds(options_.not_before)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "metadata ", kTimeHeader, ": signed before the server's memory of used credentials "
          "began (", absl::FormatTime(options_.not_before), "); sign the call afresh"));
    }
    const Used used{HexValue(key_id), HexValue(nonce.substr(0, 16)), HexValue(nonce.substr(16))};
    const int64_t now = absl::ToUnixSeconds(at);
    absl::MutexLock lock(&mu_);
    // Forget what can no longer be accepted anyway.
    while (!expiry_.empty() && expiry_.begin()->first < now) {
      for (const Used& u : expiry_.begin()->second) {
        used_.erase(u);
        if (auto it = per_key_.find(u.key_id); it != per_key_.end() && --it->second == 0) {
          per_key_.erase(it);
        }
      }
      expiry_.erase(expiry_.begin());
    }
    forgotten_before_ = std::max(forgotten_before_, now);
    if (expires < forgotten_before_) {
      // Checked against an earlier clock while others moved on: its pair may
      // have been forgotten already.
      return absl::UnauthenticatedError(absl::StrCat(
          "metadata ", kTimeHeader, ": signed too long ago; sign the call afresh"));
    }
    if (used_.contains(used)) {
      return absl::UnauthenticatedError(absl::StrCat(
          "metadata ", kNonceHeader, ": these credentials were used already; sign every call "
          "afresh, with a new nonce"));
    }
    size_t& of_key = per_key_[used.key_id];
    if (used_.size() >= options_.max_remembered || of_key >= options_.max_remembered_per_key) {
      if (of_key == 0) per_key_.erase(used.key_id);
      return absl::ResourceExhaustedError(
          absl::StrCat("read credentials: too many reads in the last minute",
                       used_.size() >= options_.max_remembered ? "" : " by this key",
                       " to remember their nonces; retry shortly"));
    }
    ++of_key;
    used_.insert(used);
    expiry_[expires].push_back(used);
    return absl::OkStatus();
  }

 private:
  // A (key id, nonce) pair, as 24 bytes.
  struct Used {
    uint64_t key_id;
    uint64_t nonce_high;
    uint64_t nonce_low;
    friend bool operator==(const Used& a, const Used& b) {
      return a.key_id == b.key_id && a.nonce_high == b.nonce_high && a.nonce_low == b.nonce_low;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Used& u) {
      return H::combine(std::move(h), u.key_id, u.nonce_high, u.nonce_low);
    }
  };

  const NonceMemoryOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_set<Used> used_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::vector<Used>> expiry_ ABSL_GUARDED_BY(mu_);  // Unix seconds -> pairs
  absl::flat_hash_map<uint64_t, size_t> per_key_ ABSL_GUARDED_BY(mu_);
  // Pairs expiring before this (Unix seconds) may have been forgotten: a
  // credential whose pair expires before it is refused as too old.
  int64_t forgotten_before_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

std::unique_ptr<NonceMemory> NewLocalNonceMemory(NonceMemoryOptions options) {
  return std::make_unique<LocalNonceMemory>(options);
}

ReadCredentialChecker::ReadCredentialChecker(Options options)
    : options_(std::move(options)),
      memory_(options_.memory != nullptr
                  ? options_.memory
                  : std::shared_ptr<NonceMemory>(NewLocalNonceMemory(
                        {options_.max_remembered, options_.max_remembered_per_key,
                         absl::InfinitePast()}))) {}

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
  if (!IsLowerHex(credentials.key_id, 16)) {
    return absl::UnauthenticatedError(
        absl::StrCat("metadata ", kKeyIdHeader, ": must be 16 lowercase hex digits"));
  }
  if (credentials.signature.size() != 64) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kSignatureHeader, ": must be the 64 bytes of an Ed25519 signature (",
        credentials.signature.size(), " given)"));
  }
  const bool v1 = credentials.nonce.empty();
  if (v1 && !(options_.accept_v1 && now < EndOfReadV1())) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kNonceHeader, ": missing; read.v1 credentials (no nonce) are no longer "
        "accepted: sign read.v2 credentials, bound to the request (docs/signatures.md, "
        "CHANGELOG.md)"));
  }
  if (!v1 && !IsLowerHex(credentials.nonce, 2 * kNonceBytes)) {
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
  const absl::Duration lead = v1 ? kReadV1Window : kReadLead;
  const absl::Duration skew = absl::FromUnixSeconds(seconds) - now;
  if (skew > lead || -skew > window) {
    return absl::UnauthenticatedError(absl::StrCat(
        "metadata ", kTimeHeader, ": signed ", absl::FormatDuration(absl::AbsDuration(skew)),
        skew > absl::ZeroDuration() ? " ahead of" : " behind", " the server's clock; at most ",
        absl::FormatDuration(skew > absl::ZeroDuration() ? lead : window),
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
  return memory_->Remember(credentials.key_id, credentials.nonce, absl::FromUnixSeconds(seconds),
                           seconds + absl::ToInt64Seconds(window), now);
}

}  // namespace chemledger::read_auth
