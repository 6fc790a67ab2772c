// Label URLs (crypto/label.h, docs/label-format.md): parsed strictly and
// verified against a trust list, whatever bytes a camera or a caller hands
// over.

#include "absl/strings/string_view.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "crypto/trust_list.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
std::vector<std::string> FuzzSeeds() {
  std::vector<std::string> seeds;
  for (uint64_t serial : {uint64_t{1}, uint64_t{17}, uint64_t{999999}}) {
    seeds.push_back(*crypto::MakeLabelUrl(crypto::testing::ExampleLabelClaims(serial),
                                          crypto::testing::TestKey(2)));
  }
  return seeds;
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view url(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<chemledger::crypto::ParsedLabel> parsed = chemledger::crypto::ParseLabelUrl(url);
  if (parsed.ok()) (void)parsed->VerifySignature(chemledger::crypto::testing::TestKey(2).verifying_key());
  (void)chemledger::crypto::VerifyLabel(url, chemledger::fuzz::FuzzTrustList());
  return 0;
}
