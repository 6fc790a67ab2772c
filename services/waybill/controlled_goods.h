// Whether a waybill carries controlled goods (剧毒, 易制爆, 易制毒:
// registry::IsControlledGood), for the departments that read only those
// (公安: registry/oversight.h). Told from the waybill's permits and from the
// products of what it lists: its package codes, and the packages packed on
// the pallets (or containers) it lists. 易制爆 goods need no permit, so a
// waybill of ammonium nitrate names none: the products say it. A pallet is
// read as it is packed now: one unpacked at its destination no longer tells
// what it carried (its waybill's permits and package codes still do).
//
// Thread-safety: a pure function of the state it is given.

#ifndef CHEMLEDGER_SERVICES_WAYBILL_CONTROLLED_GOODS_H_
#define CHEMLEDGER_SERVICES_WAYBILL_CONTROLLED_GOODS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chemledger/v1/waybill.pb.h"
#include "storage/store.h"

namespace chemledger::waybill {

// True when `w` names a 剧毒 or 易制毒 permit, or a package it lists (or one
// packed on a pallet it lists) is of a controlled product. Reads each
// product once, and a pallet's packages only while nothing controlled was
// found.
absl::StatusOr<bool> CarriesControlledGoods(const storage::StateReader& state,
                                            const v1::Waybill& w);

// Appends the package codes packed on aggregate `code` (a pallet or
// container; nested ones walked, nesting bounded by the ledger) to
// `packages`, in code order; nothing for a code that is not an aggregate
// or not known.
absl::Status AppendPackagesPackedOn(const storage::StateReader& state, const std::string& code,
                                    std::vector<std::string>* packages);

}  // namespace chemledger::waybill

#endif  // CHEMLEDGER_SERVICES_WAYBILL_CONTROLLED_GOODS_H_
