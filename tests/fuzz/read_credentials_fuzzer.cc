// Read credentials (services/common/read_auth.h, docs/signatures.md): the
// four metadata values a caller sends with a read, whatever they hold,
// checked for a fixed request at a fixed time against one registered key.
// The input is the four values separated by NUL bytes: key id, time, nonce,
// signature.

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "crypto/label_testing.h"
#include "services/common/envelope.h"
#include "services/common/read_auth.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
namespace {

constexpr char kOrigin[] = "fuzz.example/log";
constexpr char kMethod[] = "/chemledger.v1.RegistryService/GetEnterprise";
const absl::Time kNow = absl::FromUnixSeconds(1795000000);

std::string Joined(const read_auth::ReadCredentials& c) {
  return c.key_id + std::string(1, '\0') + c.time + std::string(1, '\0') + c.nonce +
         std::string(1, '\0') + c.signature;
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  const crypto::SigningKey key = crypto::testing::TestKey(2);
  std::vector<std::string> seeds;
  for (const char* body : {"request", ""}) {
    seeds.push_back(Joined(read_auth::SignRead(read_auth::ReadRequest{kOrigin, kMethod, body}, key, kNow)));
  }
  return seeds;
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chemledger;  // NOLINT
  static read_auth::ReadCredentialChecker* checker = [] {
    read_auth::ReadCredentialChecker::Options options;
    options.origin = fuzz::kOrigin;
    return new read_auth::ReadCredentialChecker(options);
  }();
  static const crypto::SigningKey* key = new crypto::SigningKey(crypto::testing::TestKey(2));
  const std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(reinterpret_cast<const char*>(data), size), '\0');
  read_auth::ReadCredentials c;
  if (parts.size() > 0) c.key_id = parts[0];
  if (parts.size() > 1) c.time = parts[1];
  if (parts.size() > 2) c.nonce = parts[2];
  if (parts.size() > 3) c.signature = parts[3];
  (void)checker->Check(
      c, fuzz::kMethod, "request", fuzz::kNow,
      [&](const v1::SignedEnvelope& envelope, const crypto::SignatureContext& context) {
        return envelope::Verify(envelope, context,
                                [&](const crypto::KeyId& id)
                                    -> absl::StatusOr<crypto::VerifyingKey> {
                                  if (id == key->key_id()) return key->verifying_key();
                                  return absl::UnauthenticatedError("unknown key");
                                })
            .status();
      });
  return 0;
}
