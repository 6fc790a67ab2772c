// What an audit request covers: the goods it names (a CAS number, a UN
// number, a 危险化学品目录 entry, a control flag or one product) and the
// place (an enterprise, a GB/T 2260 region prefix or a park), narrowed to
// what the reader may read: a regulator, the enterprises of its
// jurisdiction and the goods its department reads as packages (公安 the
// 剧毒, 易制爆 and 易制毒 products; registry/oversight.h); a platform
// administrator, everything; an enterprise's actor, its own enterprise.
// Shared by the reconciliation (reconciliation.h) and the event queries
// (event_query.h), so both read the same scope the same way.
//
// Not thread-safe: an AuditScope lives for one request.

#ifndef CHEMLEDGER_SERVICES_AUDIT_AUDIT_SCOPE_H_
#define CHEMLEDGER_SERVICES_AUDIT_AUDIT_SCOPE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/registry.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/registry/oversight.h"
#include "storage/store.h"

namespace chemledger::audit {

// The goods a request names: at most one of these (none: every product).
struct GoodsSelector {
  std::string cas;
  std::string un_number;
  int catalogue_number = 0;
  std::string control_flag;
  std::string product_uscc;  // with product_number
  std::string product_number;
};

// The place a request names: at most one of these (none: everywhere the
// reader oversees).
struct PlaceSelector {
  std::string enterprise_uscc;
  std::string region_prefix;
  std::string park_id;
};

// The issuer and number of a product.
using ProductKey = std::pair<std::string, std::string>;

class AuditScope {
 public:
  // The scope of `goods` and `place` for `reader` at `state` (both must
  // outlive it). InvalidArgument naming the field for a malformed
  // selector; PermissionDenied when the reader may not read what it names
  // (an unregistered enterprise reads as one outside the jurisdiction);
  // NotFound for an unknown product or park.
  // `records`: what is read; for packages (events, flows, stock) the
  // department's reads narrow the products, for other kinds (waybills) the
  // caller filters the records and the department must read some of them.
  static absl::StatusOr<AuditScope> Resolve(
      const storage::StateReader& state, const v1::Actor& reader, const GoodsSelector& goods,
      const PlaceSelector& place,
      registry::RecordKind records = registry::RecordKind::kPackages);

  // The products covered; nullopt: every product.
  const std::optional<std::set<ProductKey>>& products() const { return products_; }
  // The enterprises covered; nullopt: any the reader oversees (ask Covers).
  const std::optional<std::set<std::string>>& enterprises() const { return enterprises_; }
  // Whether enterprise `uscc`'s records are covered.
  absl::StatusOr<bool> Covers(const std::string& uscc);
  // Whether `issuer`'s product `number` is covered.
  bool CoversProduct(const std::string& issuer, const std::string& number) const {
    return !products_ || products_->count({issuer, number}) > 0;
  }
  // The registered product, if known (from the resolution, or read now).
  absl::StatusOr<const v1::Product*> Product(const std::string& issuer, const std::string& number);
  // With a region or park: the enterprises there the reader does not
  // oversee, left out.
  uint64_t enterprises_outside_scope() const { return outside_; }

 private:
  AuditScope(const storage::StateReader& state, const v1::Actor& reader)
      : state_(&state), reader_(&reader), memo_(state, reader) {}
  absl::Status Check(const GoodsSelector& goods, const PlaceSelector& place,
                     registry::RecordKind records);
  absl::Status ResolveProducts(const GoodsSelector& goods);
  absl::Status ResolveEnterprises(const PlaceSelector& place);

  const storage::StateReader* state_;
  const v1::Actor* reader_;
  registry::OversightMemo memo_;
  bool controlled_only_ = false;
  std::optional<std::set<ProductKey>> products_;
  std::optional<std::set<std::string>> enterprises_;
  std::map<ProductKey, v1::Product> product_info_;
  uint64_t outside_ = 0;
};

// A period bound of a request, rounded up to the microsecond events are
// dated in; InvalidArgument naming `field` for a time outside 1970-9999.
absl::StatusOr<absl::Time> PeriodBound(const google::protobuf::Timestamp& t,
                                       absl::string_view field);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_AUDIT_SCOPE_H_
