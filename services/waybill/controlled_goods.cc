#include "services/waybill/controlled_goods.h"

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "services/common/package_code.h"
#include "services/ledger/code_state.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"

namespace chemledger::waybill {
namespace {

// Whether package `code`'s product is controlled; each product read once.
absl::StatusOr<bool> PackageIsControlled(const storage::StateReader& state, const std::string& code,
                                         std::set<std::pair<std::string, std::string>>* read) {
  std::optional<ids::PackageCode> p = ids::PackageCode::Parse(code);
  if (!p) return false;
  if (!read->emplace(p->uscc, p->product).second) return false;  // told already
  absl::StatusOr<std::optional<v1::Product>> product =
      registry::FindProduct(state, p->uscc, p->product);
  if (!product.ok()) return product.status();
  return *product && registry::IsControlledGood(**product);
}

// The package codes packed on aggregate `code`, nested ones walked (nesting
// is bounded by the ledger).
absl::Status PackagesOn(const storage::StateReader& state, const std::string& code, int depth,
                        std::vector<std::string>* packages) {
  absl::StatusOr<std::optional<ledger::CodeState>> s = ledger::FindCode(state, code);
  if (!s.ok()) return s.status();
  if (!*s || !(*s)->aggregate || depth > ledger::kMaxNesting) return absl::OkStatus();
  for (const std::string& child : (*s)->children) {
    if (ids::PackageCode::Parse(child)) {
      packages->push_back(child);
    } else if (absl::Status st = PackagesOn(state, child, depth + 1, packages); !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AppendPackagesPackedOn(const storage::StateReader& state, const std::string& code,
                                    std::vector<std::string>* packages) {
  return PackagesOn(state, code, 0, packages);
}

absl::StatusOr<bool> CarriesControlledGoods(const storage::StateReader& state,
                                            const v1::Waybill& w) {
  if (!w.toxic_permit().empty() || !w.precursor_permit().empty()) return true;
  std::set<std::pair<std::string, std::string>> read;
  std::vector<const std::string*> pallets;
  for (const v1::GoodsLine& g : w.goods()) {
    for (const std::string& code : g.codes()) {
      if (!ids::PackageCode::Parse(code)) {
        pallets.push_back(&code);
        continue;
      }
      absl::StatusOr<bool> controlled = PackageIsControlled(state, code, &read);
      if (!controlled.ok() || *controlled) return controlled;
    }
  }
  for (const std::string* pallet : pallets) {
    std::vector<std::string> packages;
    if (absl::Status s = AppendPackagesPackedOn(state, *pallet, &packages); !s.ok()) return s;
    for (const std::string& code : packages) {
      absl::StatusOr<bool> controlled = PackageIsControlled(state, code, &read);
      if (!controlled.ok() || *controlled) return controlled;
    }
  }
  return false;
}

}  // namespace chemledger::waybill
