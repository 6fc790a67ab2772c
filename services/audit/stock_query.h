// Stock on hand: what the ledger says the enterprises in a reader's scope
// hold now, by enterprise, site, product and unit, from the stock index
// (services/ledger/code_state.h: active packages at the site their custodian
// last put them), with totals per unit (never added across units). Packages
// only: a pallet holds nothing of its own, the packages on it are counted.
// The scope (goods, place, department, jurisdiction) is audit_scope.h's.
//
// Thread-safe: a pure function of a state reader.

#ifndef CHEMLEDGER_SERVICES_AUDIT_STOCK_QUERY_H_
#define CHEMLEDGER_SERVICES_AUDIT_STOCK_QUERY_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "storage/store.h"

namespace chemledger::audit {

// Most codes one report reads; beyond, ResourceExhausted (narrow it).
inline constexpr size_t kMaxStockCodes = 2000000;
// Most codes listed on one line (with_codes).
inline constexpr int kMaxCodesPerStockLine = 1000;

// The stock `query` asks for, as `reader` may read it, at `state`. Errors
// as AuditScope::Resolve.
absl::StatusOr<v1::StockReport> QueryStock(const storage::StateReader& state,
                                           const v1::Actor& reader, const v1::StockQuery& query);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_STOCK_QUERY_H_
