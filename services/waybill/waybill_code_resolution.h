// Online verification of a scanned waybill code (WaybillService.
// ResolveWaybillCode), open to anyone: the offline verdict, then the log's
// word on it. A correctly signed code is "not-issued" unless the log holds
// the waybill revision it names with exactly what it states; a code of a
// cancelled waybill is "cancelled", of a closed one "closed", of an amended-
// away revision "superseded"; only the current code of a waybill still in
// use is "authentic". A code the log holds also gets the waybill's public
// view (vehicle, masked crew, route, goods with their emergency information,
// permits): what a roadside inspector's phone shows. No one's qualification
// number or phone is shown whole.
//
// Pure functions of a state snapshot; thread-safe.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_CODE_RESOLUTION_H_
#define CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_CODE_RESOLUTION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "chemledger/v1/waybill_service.pb.h"
#include "crypto/trust_list.h"
#include "storage/store.h"

namespace chemledger::waybill {

// Resolves `url` against the label keys registered in `state` as of `today`
// (China day). Errors only when `state` cannot be read.
absl::StatusOr<v1::ResolveWaybillCodeResponse> ResolveWaybillCode(
    const storage::StateReader& state, absl::string_view url, absl::CivilDay today);
// The same against `trust`, the trust list of `state` made once for many
// codes (label::MakeTrustList).
absl::StatusOr<v1::ResolveWaybillCodeResponse> ResolveWaybillCode(
    const storage::StateReader& state, absl::string_view url, const crypto::TrustList& trust);

// `text` with every character but the first `keep_front` and the last
// `keep_back` replaced by '*' (characters, not bytes); of a text too short
// for both, at most its last half is kept. MaskMiddle("13812345678", 3, 4) is
// "138****5678".
std::string MaskMiddle(absl::string_view text, size_t keep_front, size_t keep_back);

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_WAYBILL_CODE_RESOLUTION_H_
