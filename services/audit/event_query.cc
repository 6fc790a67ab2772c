#include "services/audit/event_query.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "services/audit/audit_scope.h"
#include "services/common/identifiers.h"
#include "services/common/status_macros.h"

namespace chemledger::audit {
namespace {

// How many index records one page reads at most, over all its lists.
constexpr size_t kExaminedPerPage = 50000;

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

ledger::EventPosition PositionOf(const state::EventIndexRecord& r) {
  return {r.event_unix_micros(), r.log_index()};
}

// What one list gave: its matches, and how far it was read.
struct ListRead {
  std::vector<state::EventIndexRecord> matches;
  std::optional<ledger::EventPosition> last_examined;
  bool exhausted = true;
};

class Query {
 public:
  Query(const storage::StateReader& state, const v1::EventQuery& q, AuditScope scope)
      : state_(state), q_(q), scope_(std::move(scope)) {}

  absl::Status CheckAndBound() {
    if (q_.step() < 0 || !v1::BusinessStep_IsValid(q_.step())) {
      return Invalid("step", "not a business step");
    }
    if (q_.waybill_carrier_uscc().empty() != q_.waybill_number().empty()) {
      return Invalid(q_.waybill_number().empty() ? "waybill_number" : "waybill_carrier_uscc",
                     "waybill_carrier_uscc and waybill_number go together");
    }
    if (!q_.waybill_carrier_uscc().empty()) {
      CL_RETURN_IF_ERROR(ids::ValidateUscc("waybill_carrier_uscc", q_.waybill_carrier_uscc()));
    }
    from_ = absl::InfinitePast();
    to_ = absl::InfiniteFuture();
    if (q_.has_from()) {
      CL_ASSIGN_OR_RETURN(from_, PeriodBound(q_.from(), "from"));
    }
    if (q_.has_to()) {
      CL_ASSIGN_OR_RETURN(to_, PeriodBound(q_.to(), "to"));
    }
    if (to_ <= from_) return Invalid("to", "must be after from");
    return absl::OkStatus();
  }

  absl::StatusOr<EventQueryPage> Page(const std::optional<ledger::EventPosition>& after,
                                      size_t page_size) {
    std::vector<ListRead> reads;
    if (!q_.waybill_number().empty()) {
      CL_ASSIGN_OR_RETURN(ListRead read, ReadWaybill(after));
      reads.push_back(std::move(read));
    } else if (scope_.enterprises()) {
      // One budget for the page, shared by the lists (each reads at least
      // one record, so every page moves on).
      const size_t budget =
          std::max<size_t>(1, kExaminedPerPage / std::max<size_t>(1, scope_.enterprises()->size()));
      for (const std::string& e : *scope_.enterprises()) {
        CL_ASSIGN_OR_RETURN(ListRead read,
                            ReadList(ledger::EventList::kEnterprise, e, after, page_size, budget));
        reads.push_back(std::move(read));
      }
    } else if (scope_.products()) {
      const size_t budget =
          std::max<size_t>(1, kExaminedPerPage / std::max<size_t>(1, scope_.products()->size()));
      for (const ProductKey& p : *scope_.products()) {
        CL_ASSIGN_OR_RETURN(ListRead read,
                            ReadList(ledger::EventList::kProduct,
                                     absl::StrCat(p.first, "/", p.second), after, page_size,
                                     budget));
        reads.push_back(std::move(read));
      }
    } else {
      CL_ASSIGN_OR_RETURN(ListRead read, ReadList(ledger::EventList::kAll, "", after, page_size,
                                                  kExaminedPerPage));
      reads.push_back(std::move(read));
    }
    return Merge(std::move(reads), page_size);
  }

 private:
  // Whether `r` is one the query asks for and the reader may read.
  absl::StatusOr<bool> Matches(const state::EventIndexRecord& r) {
    if (q_.step() != v1::BUSINESS_STEP_UNSPECIFIED && r.step() != q_.step()) return false;
    if (!q_.site().empty() && r.site() != q_.site()) return false;
    if (scope_.products()) {
      bool any = false;
      for (const std::string& p : r.products()) {
        const size_t slash = p.find('/');
        any = any || scope_.CoversProduct(p.substr(0, slash), p.substr(slash + 1));
      }
      if (!any) return false;
    }
    return scope_.Covers(r.enterprise());
  }

  absl::StatusOr<ListRead> ReadList(ledger::EventList list, const std::string& key,
                                    const std::optional<ledger::EventPosition>& after,
                                    size_t page_size, size_t budget) {
    ListRead read;
    size_t examined = 0;
    absl::Status failed = absl::OkStatus();
    CL_RETURN_IF_ERROR(ledger::ScanEventIndex(
        state_, list, key, from_, to_, after ? &*after : nullptr,
        [&](const state::EventIndexRecord& r) {
          ++examined;
          read.last_examined = PositionOf(r);
          absl::StatusOr<bool> match = Matches(r);
          if (!match.ok()) {
            failed = match.status();
            return false;
          }
          if (*match) read.matches.push_back(r);
          if (read.matches.size() >= page_size || examined >= budget) {
            read.exhausted = false;
            return false;
          }
          return true;
        }));
    CL_RETURN_IF_ERROR(failed);
    return read;
  }

  // A waybill's events are few: read whole, put in time order.
  absl::StatusOr<ListRead> ReadWaybill(const std::optional<ledger::EventPosition>& after) {
    ListRead read;
    absl::Status failed = absl::OkStatus();
    CL_RETURN_IF_ERROR(ledger::ScanWaybillEvents(
        state_, q_.waybill_carrier_uscc(), q_.waybill_number(),
        [&](const state::EventIndexRecord& r) {
          const absl::Time when = absl::FromUnixMicros(r.event_unix_micros());
          if (when < from_ || when >= to_) return true;
          if (after && !(*after < PositionOf(r))) return true;
          absl::StatusOr<bool> match = Matches(r);
          if (!match.ok()) {
            failed = match.status();
            return false;
          }
          if (*match) read.matches.push_back(r);
          return true;
        }));
    CL_RETURN_IF_ERROR(failed);
    return read;
  }

  static EventQueryPage Merge(std::vector<ListRead> reads, size_t page_size) {
    std::vector<state::EventIndexRecord> all;
    std::optional<ledger::EventPosition> frontier;  // everything up to it was read
    bool complete = true;
    for (ListRead& read : reads) {
      for (state::EventIndexRecord& r : read.matches) all.push_back(std::move(r));
      if (!read.exhausted) {
        complete = false;
        if (!frontier || *read.last_examined < *frontier) frontier = read.last_examined;
      }
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return PositionOf(a) < PositionOf(b);
    });
    // An event touching several products is in several lists: once here.
    all.erase(std::unique(all.begin(), all.end(),
                          [](const auto& a, const auto& b) { return a.log_index() == b.log_index(); }),
              all.end());
    EventQueryPage page;
    size_t i = 0;
    for (; i < all.size() && page.events.size() < page_size; ++i) {
      if (frontier && *frontier < PositionOf(all[i])) break;  // a list not read that far
      page.events.push_back(PositionOf(all[i]));
    }
    if (page.events.size() == page_size) {
      // Full: the next page continues after its last event, unless nothing
      // is left anywhere.
      const bool nothing_left = complete && i == all.size();
      if (!nothing_left) page.next = PositionOf(all[i - 1]);
    } else if (!complete) {
      page.next = frontier;  // every list was read up to here
    }
    return page;
  }

  const storage::StateReader& state_;
  const v1::EventQuery& q_;
  AuditScope scope_;
  absl::Time from_, to_;
};

}  // namespace

absl::StatusOr<EventQueryPage> QueryEvents(const storage::StateReader& state,
                                           const v1::Actor& reader, const v1::EventQuery& query,
                                           const std::optional<ledger::EventPosition>& after,
                                           uint32_t page_size) {
  if (page_size == 0 || page_size > kMaxEventPageSize) {
    return Invalid("page_size", absl::StrCat("1 to ", kMaxEventPageSize));
  }
  absl::StatusOr<AuditScope> scope = AuditScope::Resolve(
      state, reader,
      GoodsSelector{query.cas(), query.un_number(), query.catalogue_number(),
                    query.control_flag(), query.product_uscc(), query.product_number()},
      PlaceSelector{query.enterprise_uscc(), query.region_prefix(), query.park_id()});
  if (!scope.ok()) return scope.status();
  Query q(state, query, *std::move(scope));
  CL_RETURN_IF_ERROR(q.CheckAndBound());
  return q.Page(after, page_size);
}

}  // namespace chemledger::audit
