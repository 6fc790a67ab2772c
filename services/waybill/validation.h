// Field rules of an e-waybill (proto/chemledger/v1/waybill.proto), checked
// before anything else looks at it: formats, presence, and the rules between
// fields. Rules that need the registry or the ledger (the goods match the
// registered products of the codes, the codes are in the consignor's
// custody, permits for 剧毒 and 易制毒 goods) are the waybill service's.
//
// Errors are InvalidArgument naming the field ("waybill.vehicle.plate: ...").
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_VALIDATION_H_
#define CHEMLEDGER_SERVICES_WAYBILL_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chemledger/v1/waybill.pb.h"

namespace chemledger::waybill {

// Limits that keep every waybill expressible in its code (crypto/waybill_code.h).
inline constexpr int kMaxGoodsLines = 255;
inline constexpr uint64_t kMaxQuantityMilli = (uint64_t{1} << 48) - 1;
// How far ahead a departure may be planned, and how long a journey may last.
inline constexpr absl::Duration kMaxPlanAhead = absl::Hours(24 * 366);
inline constexpr absl::Duration kMaxJourney = absl::Hours(24 * 30);
// Codes on one waybill: what one SHIPPING event may carry, so one event can
// ship a whole waybill.
inline constexpr int kMaxCodesPerWaybill = 1000;  // = ledger::kMaxCodesPerEvent

// A Chinese motor vehicle plate (GA 36): a province abbreviation (京, 沪,
// 闽, ...), a letter (not I or O), then 5 letters or digits (6 for a
// new-energy plate). InvalidArgument naming `field` otherwise.
absl::Status ValidatePlate(absl::string_view field, absl::string_view plate);

// A trailer plate: province, letter, 4 letters or digits, then 挂.
absl::Status ValidateTrailerPlate(absl::string_view field, absl::string_view plate);

// A hazardous-waste code of 国家危险废物名录: 8 digits as NNN-NNN-NN.
absl::Status ValidateWasteCode(absl::string_view field, absl::string_view code);

// A phone number: 7 to 20 of digits, '-', ' ', leading '+'.
absl::Status ValidatePhone(absl::string_view field, absl::string_view phone);

// A 道路运输证号 (a vehicle's road transport certificate): 12 digits, the
// issuing authority's 6-digit GB/T 2260 region code and a 6-digit serial,
// optionally written with the authority's abbreviation before them and 号
// after ("闽交运管榕字350100123456号").
absl::Status ValidateTransportCertificate(absl::string_view field, absl::string_view number);

// A 居民身份证号 (GB 11643): 17 digits (a GB/T 2260 region code, a birth date
// YYYYMMDD from 1900, a 3-digit sequence) and a check character (0-9 or X)
// that matches them. Road transport 从业资格证 numbers are the holder's
// 居民身份证号; other identity documents are not accepted yet.
absl::Status ValidateResidentIdNumber(absl::string_view field, absl::string_view number);

// Every field rule of a waybill submitted or amended at `now` (the entry's
// record time: how far ahead a departure may be planned counts from it).
absl::Status ValidateWaybill(const v1::Waybill& waybill, absl::Time now);

// The formats of the document numbers a waybill states (rules epoch 2): the
// vehicle's and trailer's 道路运输证号, the driver's and escort's
// 从业资格证号 (their 居民身份证号).
absl::Status ValidateDocumentNumbers(const v1::Waybill& waybill);

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_VALIDATION_H_
