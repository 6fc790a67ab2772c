// Site loads: how much of each hazard class an enterprise holds at each of
// its sites, kept beside the stock index as events move goods, and the
// flags a site raises when its load passes a registered capacity.
//
// GB 15603 and the 重大危险源 rules care about what a storage area holds per
// class, so the ledger keeps, per custodian and site, the summed remaining
// quantity of the active packages there per hazard class (the product's
// GB 6944 class or division) and unit:
//
//   l/load/<custodian>/<site>/<class>/<unit>   decimal thousandths of <unit>
//
// An event that takes a site's load over a capacity of the registered site
// (v1::Site.capacities), or brings it a chemical that is not among those it
// is licensed to hold (v1::Site.licensed_cas, when it lists any), is
// recorded, never refused (goods that arrived are always booked), and
// raises a flag for the enterprise and its regulators:
//
//   l/siteflag/<index, 16 hex>/<custodian>/<site>/<subject>   state::SiteFlagRecord
//   l/siteflag-by/<custodian>/<index, 16 hex>/<site>/<subject>   the same record
//
// (<subject>: "class-<class>" or "cas-<CAS>").
//
// A capacity given for a class ("2") covers its divisions ("2.1", "2.2");
// a capacity counts the goods in its own unit only (KGM capacity, goods in
// TNE: not counted; docs/sites.md).
//
// Which classes may not share a site (GB 15603's segregation) depends on a
// reference table and is assessed when read (AssessSiteLoad), not here.
//
// Thread-safe: free functions over a state reader; SiteLoadChanges is used
// by one thread.

#ifndef CHEMLEDGER_SERVICES_LEDGER_SITE_LOAD_H_
#define CHEMLEDGER_SERVICES_LEDGER_SITE_LOAD_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/state/state.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "reference/reference_tables.h"
#include "services/ledger/code_state.h"
#include "services/ledger/major_hazard.h"
#include "storage/store.h"

namespace chemledger::ledger {

// One class and unit's load at a site.
struct ClassLoad {
  std::string hazard_class;
  std::string unit;
  uint64_t milli = 0;
};

// The loads at `site` of `custodian`, by class and unit.
absl::StatusOr<std::vector<ClassLoad>> SiteLoads(const storage::StateReader& state,
                                                 absl::string_view custodian,
                                                 absl::string_view site);

// What one event does to site loads: Remove each touched code's state
// before the event and Add its state after, then Write once.
class SiteLoadChanges {
 public:
  void Add(const CodeState& c) { Count(c, +1); }
  void Remove(const CodeState& c) { Count(c, -1); }

  // Writes the changed loads into `changes` (reading the products' classes
  // and the sites' capacities from `state`), and a flag for each registered
  // capacity the event takes its site's load over and each chemical it
  // brings to a site not licensed for it; and the per-product stock and
  // GB 18218 identification of the sites (major_hazard.h). `index` and
  // `when` are the event's log index and time.
  absl::Status Write(const storage::StateReader& state, uint64_t index, absl::Time when,
                     uint32_t rules_epoch, storage::StateWrites* changes) const;

 private:
  void Count(const CodeState& c, int sign);
  ProductLoadDeltas deltas_;
};

// Whether capacity class `capacity_class` covers goods of `hazard_class`:
// the same class, or a division of it ("2" covers "2.1").
bool CapacityCovers(absl::string_view capacity_class, absl::string_view hazard_class);

// A site's flags, oldest first: all of them (`custodian` empty) or one
// enterprise's, of events after log index `after_index` (0: from the
// start), at most `limit` (more when one event's flags would be split).
absl::StatusOr<std::vector<state::SiteFlagRecord>> ListSiteFlags(const storage::StateReader& state,
                                                                 absl::string_view custodian,
                                                                 uint64_t after_index,
                                                                 size_t limit, bool* more);

// A site's load against its registration and the segregation table.
struct SiteAssessment {
  struct Capacity {
    v1::StorageCapacity capacity;
    uint64_t load_milli = 0;  // of the classes it covers, in its unit
    bool over = false;
  };
  std::vector<Capacity> capacities;
  // Loads no capacity of the site covers (or every load, for an
  // unregistered site).
  std::vector<ClassLoad> uncovered;
  struct Incompatible {
    std::string class_a, class_b;
    std::string requirement;  // the table's words
  };
  std::vector<Incompatible> incompatible;
  bool segregation_table_available = false;
};
SiteAssessment AssessSiteLoad(const v1::Site* site, const std::vector<ClassLoad>& loads,
                              const reference::ReferenceTables& tables);

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_SITE_LOAD_H_
