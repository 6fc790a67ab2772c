// The test keys the fuzz targets check inputs against (never real ones): a
// label trust list naming one label key, and a log's note signer.

#ifndef CHEMLEDGER_TESTS_FUZZ_FUZZ_KEYS_H_
#define CHEMLEDGER_TESTS_FUZZ_FUZZ_KEYS_H_

#include "absl/time/civil_time.h"
#include "crypto/checkpoint.h"
#include "crypto/label_testing.h"
#include "crypto/trust_list.h"

namespace chemledger::fuzz {

// Resolver CL.EXAMPLE.CN; label key crypto::testing::TestKey(2), valid
// 2026-01-01 to 2027-12-31.
inline const crypto::TrustList& FuzzTrustList() {
  static const crypto::TrustList* trust = [] {
    auto* t = new crypto::TrustList;
    t->resolver = "CL.EXAMPLE.CN";
    t->issued = absl::CivilDay(2026, 11, 23);
    t->keys.push_back({crypto::testing::TestKey(2).verifying_key(), absl::CivilDay(2026, 1, 1),
                       absl::CivilDay(2027, 12, 31), absl::nullopt});
    return t;
  }();
  return *trust;
}

// The log "fuzz.example/log", signing with crypto::testing::TestKey(3).
inline const crypto::NoteSigner& FuzzNoteSigner() {
  static const crypto::NoteSigner* signer = new crypto::NoteSigner(
      *crypto::NoteSigner::Create("fuzz.example/log", crypto::testing::TestKey(3)));
  return *signer;
}

}  // namespace chemledger::fuzz

#endif  // CHEMLEDGER_TESTS_FUZZ_FUZZ_KEYS_H_
