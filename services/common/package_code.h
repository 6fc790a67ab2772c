// Package and aggregate codes (一码), as the ledger, the waybills and the
// labels name them:
//   package    "<USCC>.<PRODUCT>.<BATCH>.<SERIAL>"  e.g. 91350100M000100Y43.M01.B1.7
//              PRODUCT 1-16 and BATCH 1-20 of A-Z 0-9; SERIAL 1-999999999,
//              decimal without leading zeros
//   aggregate  "<USCC>.LU.<ID>"  (a pallet or container, 1-32 of A-Z 0-9)
// All of it is in the QR alphanumeric set.
//
// Value types and pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_PACKAGE_CODE_H_
#define CHEMLEDGER_SERVICES_COMMON_PACKAGE_CODE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "crypto/package_code_fields.h"

namespace chemledger::ids {

// The largest serial a batch reaches (crypto/package_code_fields.h).
inline constexpr uint64_t kMaxSerial = crypto::kMaxSerial;

struct PackageCode {
  std::string uscc;
  std::string product;
  std::string batch;
  uint64_t serial = 0;

  // "<USCC>.<PRODUCT>.<BATCH>.<SERIAL>"
  std::string ToString() const;
  // Parses a package code; nullopt unless it has exactly that form (the
  // USCC's check character included).
  static std::optional<PackageCode> Parse(absl::string_view code);
};

// Whether `code` is an aggregate code "<USCC>.LU.<ID>".
bool IsAggregateCode(absl::string_view code);

// The enterprise a package or aggregate code names (its first 18
// characters); empty for anything else.
std::string EnterpriseOfCode(absl::string_view code);

}  // namespace chemledger::ids

#endif  // CHEMLEDGER_SERVICES_COMMON_PACKAGE_CODE_H_
