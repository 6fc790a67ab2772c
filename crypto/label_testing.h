// Test-only: the example label of docs/label-format.md (a 25 kg package of
// ammonium nitrate), and deterministic keys, shared by the label tests.

#ifndef CHEMLEDGER_CRYPTO_LABEL_TESTING_H_
#define CHEMLEDGER_CRYPTO_LABEL_TESTING_H_

#include <cstdint>
#include <string>

#include "crypto/keys.h"
#include "crypto/label.h"

namespace chemledger::crypto::testing {

// The worked example's claims: resolver CL.EXAMPLE.CN, enterprise
// 91350100M000100Y43, product AN01, batch B2026112301, serial 17, produced
// 2026-11-23, 25 KGM, UN 1942, CAS 6484-52-2, flags 易制爆 + 重点监管 + 高危.
inline LabelClaims ExampleLabelClaims(uint64_t serial = 17) {
  LabelClaims c;
  c.resolver = "CL.EXAMPLE.CN";
  c.enterprise = "91350100M000100Y43";
  c.product = "AN01";
  c.batch = "B2026112301";
  c.serial = serial;
  c.production_date = absl::CivilDay(2026, 11, 23);
  c.quantity_milli = 25000;
  c.unit = "KGM";
  c.un_number = "1942";
  c.cas = "6484-52-2";
  c.control_flags = kExplosivesPrecursor | kKeySupervised | kHighHazard;
  return c;
}

// A key from a seed of 32 equal bytes: deterministic, distinct per byte.
inline SigningKey TestKey(uint8_t seed_byte) {
  return SigningKey::FromSeed(
      *SecretSeed::FromBytes(std::string(32, static_cast<char>(seed_byte))));
}

}  // namespace chemledger::crypto::testing

#endif  // CHEMLEDGER_CRYPTO_LABEL_TESTING_H_
