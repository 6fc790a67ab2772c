// Waybill codes (电子运单二维码): the signed, upper-case HTTPS URL that the QR
// code of an e-waybill holds, on the driver's phone or the paper copy. A
// roadside inspector's phone opens it; an offline verifier (chemscan verify)
// checks its Ed25519 signature against the same label trust list that
// package labels are checked with. docs/waybill-code.md specifies it byte by
// byte.
//
//   HTTPS://<RESOLVER>/W/<WAYBILL NUMBER>/<SIGNED>
//
// SIGNED is Base32 (RFC 4648, no padding) of the binary claims (the
// revision of the waybill's content, the carrier, the vehicle and trailer
// plates, origin and destination regions, the planned days, and a summary of
// up to kMaxWaybillCodeLines goods lines) and an Ed25519 signature over
//   PAE("application/vnd.chemledger.waybill-code.v1",
//       "HTTPS://<RESOLVER>/W/<WAYBILL NUMBER>/" || claims)
// by a platform label key. The context differs from the labels' one, so a
// label's signature can never pass for a waybill code's, or the reverse.
//
// This file builds, parses and verifies codes; the waybill book
// (services/waybill) decides what a waybill's code says and signs it.
//
// Thread-safety: plain functions and value types; thread-safe.

#ifndef CHEMLEDGER_CRYPTO_WAYBILL_CODE_H_
#define CHEMLEDGER_CRYPTO_WAYBILL_CODE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"
#include "crypto/keys.h"
#include "crypto/trust_list.h"

namespace chemledger::crypto {

inline constexpr SignatureContext kWaybillCodeContext("application/vnd.chemledger.waybill-code.v1");

// Waybill code format version written by MakeWaybillCodeUrl.
inline constexpr uint8_t kWaybillCodeVersion = 1;

// Goods lines a code summarises; a waybill with more says how many it has.
inline constexpr size_t kMaxWaybillCodeLines = 8;

// The province abbreviations that begin a Chinese vehicle plate (GA 36), as
// UTF-8, in the order the code numbers them (1 to 31).
absl::Span<const absl::string_view> PlateProvinces();

struct WaybillCodeGoods {
  std::string un_number;      // 4 digits
  std::string hazard_class;   // "3", "2.3", "6.1", ... (class, or class.division)
  std::string packing_group;  // "", "I", "II" or "III"
  uint64_t quantity_milli = 0;  // thousandths of `unit`, below 2^48
  std::string unit;             // UNECE Rec 20 code, 3 characters
  uint32_t codes = 0;           // package or pallet codes on the line, below 2^24

  friend bool operator==(const WaybillCodeGoods& a, const WaybillCodeGoods& b);
  friend bool operator!=(const WaybillCodeGoods& a, const WaybillCodeGoods& b) {
    return !(a == b);
  }
};

// What a waybill code states. A plain value type.
struct WaybillCodeClaims {
  std::string resolver;        // as on labels, e.g. "CL.EXAMPLE.CN"
  std::string waybill_number;  // 1 to 40 of A-Z, 0-9, '-'
  // Which content of the waybill this is (the log index of its submission
  // or latest amendment, below 2^48): an amended waybill's old code shows
  // a lower revision than the platform's record.
  uint64_t revision = 0;
  std::string carrier_uscc;     // 18 characters
  std::string vehicle_plate;    // e.g. "闽A12345" (new-energy plates have 6 after the letter)
  uint8_t plate_colour = 0;     // chemledger.v1.PlateColour: 1 blue .. 6 yellow-green
  std::string trailer_plate;    // e.g. "闽A1234挂", or "" for none
  std::string origin_region;       // GB/T 2260, 6 digits
  std::string destination_region;  // GB/T 2260, 6 digits
  absl::CivilDay planned_departure = absl::CivilDay(2000, 1, 1);  // China time
  absl::CivilDay planned_arrival = absl::CivilDay(2000, 1, 1);
  std::vector<WaybillCodeGoods> goods;  // the first lines, at most kMaxWaybillCodeLines
  uint32_t goods_lines = 0;             // all lines of the waybill (>= goods.size()), <= 255

  friend bool operator==(const WaybillCodeClaims& a, const WaybillCodeClaims& b);
  friend bool operator!=(const WaybillCodeClaims& a, const WaybillCodeClaims& b) {
    return !(a == b);
  }
};

// Checks `claims` (InvalidArgument naming the field "waybill code <field>"
// and the rule) and returns the code's URL signed with `label_key`.
absl::StatusOr<std::string> MakeWaybillCodeUrl(const WaybillCodeClaims& claims,
                                               const SigningKey& label_key);

// A waybill code taken apart; its signature not yet checked.
struct ParsedWaybillCode {
  WaybillCodeClaims claims;
  uint8_t version = 0;
  KeyId key_id;
  Signature signature;
  std::string signed_message;  // the bytes the signature covers, before PAE

  absl::Status VerifySignature(const VerifyingKey& key) const;
};

// Parses a waybill code URL strictly: InvalidArgument saying what is
// malformed; Unimplemented for an unknown format version.
absl::StatusOr<ParsedWaybillCode> ParseWaybillCodeUrl(absl::string_view url);

// Whether `url` looks like a waybill code rather than a label: its path
// begins with "/W/". Says nothing about whether it is well formed.
bool IsWaybillCodeUrl(absl::string_view url);

struct WaybillCodeCheck {
  LabelVerdict verdict;  // the verdicts of labels, against the same trust list
  std::string detail;    // why, for people; empty when authentic
  absl::optional<ParsedWaybillCode> code;  // set whenever the URL parsed
};

// Verifies one waybill code URL offline against a trust list already opened
// with OpenTrustList: the resolver it names, a listed and unrevoked key, and
// the signature.
WaybillCodeCheck VerifyWaybillCode(absl::string_view url, const TrustList& trust);

}  // namespace chemledger::crypto

#endif  // CHEMLEDGER_CRYPTO_WAYBILL_CODE_H_
