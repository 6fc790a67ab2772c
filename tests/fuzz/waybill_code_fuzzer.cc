// Waybill-code URLs (crypto/waybill_code.h, docs/waybill-code.md), as a
// roadside inspector's phone hands them over.

#include "absl/strings/string_view.h"
#include "crypto/label_testing.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
std::vector<std::string> FuzzSeeds() {
  return {*crypto::MakeWaybillCodeUrl(crypto::testing::ExampleWaybillCodeClaims(),
                                      crypto::testing::TestKey(2))};
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view url(reinterpret_cast<const char*>(data), size);
  (void)chemledger::crypto::ParseWaybillCodeUrl(url);
  (void)chemledger::crypto::VerifyWaybillCode(url, chemledger::fuzz::FuzzTrustList());
  return 0;
}
