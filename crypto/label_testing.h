// Test-only: the example label of docs/label-format.md (a 25 kg package of
// ammonium nitrate), the example waybill code of docs/waybill-code.md, and
// deterministic keys, shared by the label and waybill-code tests.

#ifndef CHEMLEDGER_CRYPTO_LABEL_TESTING_H_
#define CHEMLEDGER_CRYPTO_LABEL_TESTING_H_

#include <cstdint>
#include <string>

#include "crypto/keys.h"
#include "crypto/label.h"
#include "crypto/waybill_code.h"

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

// The worked example of docs/waybill-code.md: methanol from Fuzhou to
// Ningbo on a yellow-plated truck with a trailer.
inline WaybillCodeClaims ExampleWaybillCodeClaims() {
  WaybillCodeClaims c;
  c.resolver = "CL.EXAMPLE.CN";
  c.waybill_number = "YD350100-20261123-0001";
  c.revision = 4711;
  c.carrier_uscc = "91110105MA0000007L";
  c.vehicle_plate = "闽A12345";
  c.plate_colour = 2;  // yellow
  c.trailer_plate = "闽A1234挂";
  c.origin_region = "350100";
  c.destination_region = "330200";
  c.planned_departure = absl::CivilDay(2026, 11, 23);
  c.planned_arrival = absl::CivilDay(2026, 11, 24);
  c.goods.push_back({"1230", "3", "II", 4000000, "LTR", 20});
  c.goods_lines = 1;
  return c;
}

}  // namespace chemledger::crypto::testing

#endif  // CHEMLEDGER_CRYPTO_LABEL_TESTING_H_
