#include "services/audit/stock_query.h"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/audit/audit_scope.h"
#include "services/common/status_macros.h"
#include "services/ledger/code_state.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit {
namespace {

struct LineKey {
  std::string enterprise, site, issuer, product, unit;
  bool operator<(const LineKey& o) const {
    return std::tie(enterprise, site, issuer, product, unit) <
           std::tie(o.enterprise, o.site, o.issuer, o.product, o.unit);
  }
};

}  // namespace

absl::StatusOr<v1::StockReport> QueryStock(const storage::StateReader& state,
                                           const v1::Actor& reader, const v1::StockQuery& q) {
  absl::StatusOr<AuditScope> resolved =
      AuditScope::Resolve(state, reader,
                          GoodsSelector{q.cas(), q.un_number(), q.catalogue_number(),
                                        q.control_flag(), q.product_uscc(), q.product_number()},
                          PlaceSelector{q.enterprise_uscc(), q.region_prefix(), q.park_id()},
                          // What is where is a site's record (as ListStock and GetSiteLoad read
                          // it): for the departments that read sites.
                          registry::RecordKind::kSites);
  if (!resolved.ok()) return resolved.status();
  AuditScope& scope = *resolved;
  // The enterprises whose stock is read.
  std::set<std::string> enterprises;
  if (scope.enterprises()) {
    enterprises = *scope.enterprises();
  } else {
    CL_ASSIGN_OR_RETURN(std::vector<registry::EnterpriseRecord> all,
                        registry::ListEnterprises(state));
    for (const registry::EnterpriseRecord& e : all) {
      CL_ASSIGN_OR_RETURN(bool covered, scope.Covers(e.enterprise.uscc()));
      if (covered) enterprises.insert(e.enterprise.uscc());
    }
  }
  std::map<LineKey, v1::StockLine> lines;
  size_t read = 0;
  for (const std::string& uscc : enterprises) {
    std::vector<std::string> codes;
    CL_RETURN_IF_ERROR(ledger::ScanStockCodes(state, uscc, q.site(), [&](absl::string_view code) {
      codes.emplace_back(code);
      return codes.size() + read <= kMaxStockCodes;
    }));
    read += codes.size();
    if (read > kMaxStockCodes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the stock asked for is over ", kMaxStockCodes,
          " codes: narrow the place (an enterprise, a region, a park or a site; the goods "
          "asked for are picked out of what the place holds and do not narrow the count)"));
    }
    for (const std::string& code : codes) {
      CL_ASSIGN_OR_RETURN(std::optional<ledger::CodeState> c, ledger::FindCode(state, code));
      if (!c) return absl::DataLossError(absl::StrCat("stock index names ", code, ", unknown"));
      if (c->aggregate || !scope.CoversProduct(c->enterprise, c->product)) continue;
      if (!q.site().empty() && c->site != q.site()) continue;
      v1::StockLine& line = lines[LineKey{uscc, c->site, c->enterprise, c->product, c->unit}];
      line.set_packages(line.packages() + 1);
      line.set_quantity_milli(line.quantity_milli() + c->remaining_milli);
      if (c->on_hold || c->recalled) line.set_on_hold(line.on_hold() + 1);
      if (c->waste) line.set_waste(line.waste() + 1);
      if (q.with_codes()) {
        if (line.codes_size() < kMaxCodesPerStockLine) {
          line.add_codes(code);
        } else {
          line.set_codes_truncated(true);
        }
      }
    }
  }
  v1::StockReport out;
  out.set_log_size(state.size());
  std::map<std::string, v1::StockLine> totals;
  for (auto& [key, line] : lines) {
    line.set_enterprise_uscc(key.enterprise);
    line.set_site(key.site);
    line.set_product_uscc(key.issuer);
    line.set_product_number(key.product);
    line.set_unit(key.unit);
    CL_ASSIGN_OR_RETURN(const v1::Product* p, scope.Product(key.issuer, key.product));
    if (p != nullptr) {
      line.set_product_name(p->name_zh());
      line.set_cas(p->cas());
    }
    v1::StockLine& t = totals[key.unit];
    t.set_unit(key.unit);
    t.set_packages(t.packages() + line.packages());
    t.set_quantity_milli(t.quantity_milli() + line.quantity_milli());
    t.set_on_hold(t.on_hold() + line.on_hold());
    t.set_waste(t.waste() + line.waste());
    *out.add_lines() = std::move(line);
  }
  for (auto& [unit, t] : totals) *out.add_totals() = std::move(t);
  return out;
}

}  // namespace chemledger::audit
