#include "services/audit/anomalies.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/refusal.pb.h"
#include "crypto/keys.h"
#include "services/audit/audit_scope.h"
#include "services/audit/refusals.h"
#include "services/common/status_macros.h"
#include "services/ledger/code_state.h"
#include "services/ledger/event_index.h"
#include "services/ledger/major_hazard.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"
#include "services/waybill/controlled_goods.h"
#include "services/waybill/waybill_state.h"

namespace chemledger::audit {
namespace {

// How many records one page reads at most, per source.
constexpr size_t kExaminedPerSource = 20000;

// What one source gave: its anomalies, and whether it was read to its end
// (else up to `last_examined`).
struct SourceRead {
  std::vector<v1::Anomaly> found;
  bool exhausted = true;
  uint64_t last_examined = 0;
};

// Whether `reader` is a regulator whose department reads no packages, or
// only disposed waste (交通运输, 生态环境: registry/oversight.h): of the
// anomalies it reads only the overdue shipments of the waybills it reads.
bool ReadsOverdueShipmentsOnly(const v1::Actor& reader) {
  if (registry::IsEnterpriseRole(reader.role()) || !registry::HasOversightRole(reader)) {
    return false;
  }
  const registry::Reads packages =
      registry::DepartmentReads(reader, registry::RecordKind::kPackages);
  return packages == registry::Reads::kNone || packages == registry::Reads::kWaste;
}

class Lister {
 public:
  Lister(const storage::StateReader& state, const v1::Actor& reader,
         const v1::ListAnomaliesRequest& request, AuditScope scope)
      : state_(state), reader_(reader), request_(request), scope_(std::move(scope)) {}

  absl::StatusOr<v1::Anomalies> Run(uint32_t page_size, absl::Time now) {
    const registry::Reads packages = registry::DepartmentReads(reader_, registry::RecordKind::kPackages);
    const bool enterprise_actor = registry::IsEnterpriseRole(reader_.role());
    controlled_only_ = !enterprise_actor && packages == registry::Reads::kControlledGoods;
    full_reasons_ = !enterprise_actor;
    const bool packages_read = !ReadsOverdueShipmentsOnly(reader_);
    std::vector<SourceRead> reads;
    if (packages_read && Wants(v1::REFUSED_REQUEST)) {
      CL_ASSIGN_OR_RETURN(SourceRead r, ReadRefusals(page_size));
      reads.push_back(std::move(r));
    }
    if (packages_read && Wants(v1::CLONE_SIGNAL) &&
        (enterprise_actor ||
         registry::DepartmentReads(reader_, registry::RecordKind::kScanSignals) !=
             registry::Reads::kNone)) {
      CL_ASSIGN_OR_RETURN(SourceRead r, ReadCloneSignals(page_size));
      reads.push_back(std::move(r));
    }
    if (packages_read && Wants(v1::CONTROLLED_GOODS_LOST)) {
      CL_ASSIGN_OR_RETURN(SourceRead r, ReadControlledLosses(page_size));
      reads.push_back(std::move(r));
    }
    if (packages_read && Wants(v1::MAJOR_HAZARD_ALERT) &&
        (enterprise_actor || registry::DepartmentReads(reader_, registry::RecordKind::kSites) !=
                                 registry::Reads::kNone)) {
      CL_ASSIGN_OR_RETURN(SourceRead r, ReadMajorHazardAlerts(page_size));
      reads.push_back(std::move(r));
    }
    // Merged in log order, up to where every source was read.
    std::optional<uint64_t> frontier;
    std::vector<v1::Anomaly> all;
    for (SourceRead& r : reads) {
      if (!r.exhausted && (!frontier || r.last_examined < *frontier)) frontier = r.last_examined;
      for (v1::Anomaly& a : r.found) all.push_back(std::move(a));
    }
    std::stable_sort(all.begin(), all.end(), [](const v1::Anomaly& a, const v1::Anomaly& b) {
      return a.log_index() < b.log_index();
    });
    v1::Anomalies out;
    out.set_log_size(state_.size());
    if (Wants(v1::OVERDUE_SHIPMENT)) {
      CL_RETURN_IF_ERROR(AddOverdue(now, &out));
    }
    size_t i = 0;
    for (; i < all.size() && static_cast<uint32_t>(out.anomalies_size()) < page_size; ++i) {
      if (frontier && all[i].log_index() > *frontier) break;
      *out.add_anomalies() = std::move(all[i]);
    }
    if (static_cast<uint32_t>(out.anomalies_size()) == page_size) {
      // Full: go on after the last one given (a log index holds several
      // anomalies only for one scan of several packages: all are given).
      while (i < all.size() && all[i].log_index() == out.anomalies().rbegin()->log_index()) {
        *out.add_anomalies() = std::move(all[i++]);
      }
      if (i < all.size() || frontier) out.set_next_after_log_index(out.anomalies().rbegin()->log_index());
    } else if (frontier) {
      out.set_next_after_log_index(*frontier);
    }
    return out;
  }

 private:
  bool Wants(v1::AnomalyKind kind) const {
    return request_.kinds().empty() ||
           std::find(request_.kinds().begin(), request_.kinds().end(), kind) !=
               request_.kinds().end();
  }

  absl::StatusOr<bool> Covers(const std::string& uscc) {
    if (uscc.empty()) return registry::OverseesEverything(reader_) && !scope_.enterprises();
    return scope_.Covers(uscc);
  }

  absl::StatusOr<SourceRead> ReadRefusals(uint32_t page_size) {
    SourceRead read;
    size_t examined = 0;
    absl::Status failed = absl::OkStatus();
    // An enterprise's own refusals are listed under it.
    const std::string by =
        registry::IsEnterpriseRole(reader_.role()) ? reader_.enterprise_uscc() : "";
    CL_RETURN_IF_ERROR(ScanRefusals(
        state_, by, request_.after_log_index(), [&](const state::RefusalIndexRecord& r) {
          ++examined;
          read.last_examined = r.log_index();
          absl::StatusOr<bool> covered = Covers(r.enterprise());
          if (!covered.ok()) {
            failed = covered.status();
            return false;
          }
          const bool kind_read =
              !controlled_only_ || r.kind() == v1::CONTROLLED_GOODS_WITHOUT_PERMIT;
          if (*covered && kind_read) {
            v1::Anomaly& a = read.found.emplace_back();
            a.set_kind(v1::REFUSED_REQUEST);
            a.set_log_index(r.log_index());
            a.set_enterprise_uscc(r.enterprise());
            // What the signer was not told stays with the regulators.
            a.set_refusal_kind(r.redacted() && !full_reasons_
                                   ? v1::REFUSAL_KIND_UNSPECIFIED
                                   : static_cast<v1::RefusalKind>(r.kind()));
            a.set_signer_key_id(r.key_id());
            a.set_refusal_code(r.code());
            a.set_refused_payload_type(r.payload_type());
            a.mutable_refused_at()->set_seconds(r.refused_unix_micros() / 1000000);
            if (full_reasons_) {
              absl::StatusOr<std::string> reason = ReasonOf(r.log_index());
              if (!reason.ok()) {
                failed = reason.status();
                return false;
              }
              a.set_detail(*reason);
            }
          }
          if (read.found.size() >= page_size || examined >= kExaminedPerSource) {
            read.exhausted = false;
            return false;
          }
          return true;
        }));
    CL_RETURN_IF_ERROR(failed);
    return read;
  }

  absl::Status AddOverdue(absl::Time now, v1::Anomalies* out) {
    const uint32_t grace = request_.grace_minutes() == 0 ? 120 : request_.grace_minutes();
    // What the reader's department reads of waybills (registry/oversight.h).
    const registry::Reads reads = registry::IsEnterpriseRole(reader_.role())
                                      ? registry::Reads::kAll
                                      : registry::DepartmentReads(reader_,
                                                                  registry::RecordKind::kWaybills);
    if (reads == registry::Reads::kNone) return absl::OkStatus();
    // The reader's own kept up to kMaxOverdueShipments, from at most
    // kMaxOverdueExamined of everyone's (the filter before the bound: the
    // oldest overdue waybills of other regions never hide a reader's own).
    size_t examined = 0;
    return waybill::VisitShipmentsDueBefore(
        state_, now - absl::Minutes(grace),
        [&](const waybill::WaybillState& w) -> absl::StatusOr<bool> {
          if (static_cast<size_t>(out->overdue_shipments_size()) >= kMaxOverdueShipments ||
              ++examined > kMaxOverdueExamined) {
            out->set_overdue_truncated(true);
            return false;
          }
          if (reads == registry::Reads::kControlledGoods) {
            absl::StatusOr<bool> controlled = waybill::CarriesControlledGoods(state_, w.waybill);
            if (!controlled.ok()) return controlled.status();
            if (!*controlled) return true;
          }
          if (reads == registry::Reads::kWaste && !registry::CarriesWaste(w.waybill)) return true;
          std::vector<std::string> missing;
          for (const std::string& code : w.shipped) {
            if (!w.received.count(code)) missing.push_back(code);
          }
          if (missing.empty()) return true;
          const v1::Waybill& b = w.waybill;
          std::string whose;
          for (const std::string* party :
               {&b.consignor().uscc(), &b.consignee().uscc(), &b.carrier_uscc()}) {
            CL_ASSIGN_OR_RETURN(bool covered, Covers(*party));
            if (covered) {
              whose = *party;
              break;
            }
          }
          if (whose.empty()) return true;
          v1::Anomaly* a = out->add_overdue_shipments();
          a->set_kind(v1::OVERDUE_SHIPMENT);
          a->set_log_index(w.log_index);
          a->set_enterprise_uscc(whose);
          a->set_waybill(waybill::WaybillRef(b.carrier_uscc(), b.waybill_number()));
          *a->mutable_planned_arrival() = b.planned_arrival();
          a->set_code(missing.front());
          a->set_detail(absl::StrCat(missing.size(), " of ", w.shipped.size(),
                                     " shipped codes not received; from ", b.consignor().uscc(),
                                     " to ", b.consignee().uscc(), ", carried by ",
                                     b.carrier_uscc()));
          return true;
        });
  }

  absl::StatusOr<std::string> ReasonOf(uint64_t index) {
    CL_ASSIGN_OR_RETURN(std::string bytes, state_.Entry(index));
    v1::LogEntry entry;
    v1::RefusedRequest refused;
    if (!entry.ParseFromString(bytes) || !refused.ParseFromString(entry.envelope().payload())) {
      return absl::DataLossError(absl::StrCat("refusal entry ", index, " does not parse"));
    }
    return refused.reason();
  }

  absl::StatusOr<SourceRead> ReadCloneSignals(uint32_t page_size) {
    SourceRead read;
    CL_ASSIGN_OR_RETURN(std::vector<ledger::ScanSignal> signals,
                        ledger::ListScanSignals(state_, request_.after_log_index() + 1, "",
                                                kExaminedPerSource + 1));
    if (signals.size() > kExaminedPerSource) {
      // More beyond: read up to the last whole log index (one scan's
      // signals are never split between pages).
      const uint64_t last = signals[kExaminedPerSource - 1].log_index;
      while (!signals.empty() && signals.back().log_index >= last) signals.pop_back();
      read.exhausted = false;
      read.last_examined = last - 1;
    }
    for (const ledger::ScanSignal& s : signals) {
      if (read.found.size() >= page_size && read.found.back().log_index() != s.log_index) {
        read.exhausted = false;
        read.last_examined = read.found.back().log_index();
        break;
      }
      // An enterprise hears of the public scans of its own lost goods only
      // (as a scanner it would learn who holds what it scanned; as the
      // custodian of a package seen again after it ended, or in two places,
      // it may be the one who copied the label: those are the regulators'),
      // as LedgerService.ListScanSignals tells it.
      if (registry::IsEnterpriseRole(reader_.role()) && s.kind != ledger::kLostPackageScanned) {
        continue;
      }
      CL_ASSIGN_OR_RETURN(bool custodian, Covers(s.custodian));
      bool scanner = false;
      if (!registry::IsEnterpriseRole(reader_.role())) {
        CL_ASSIGN_OR_RETURN(scanner, Covers(s.seen_by));
      }
      if (!custodian && !scanner) continue;
      v1::Anomaly& a = read.found.emplace_back();
      a.set_kind(v1::CLONE_SIGNAL);
      a.set_log_index(s.log_index);
      a.set_enterprise_uscc(custodian ? s.custodian : s.seen_by);
      a.set_code(s.code);
      a.set_detail(absl::StrCat(s.kind, ": scanned by ", s.seen_by, ", custodian ", s.custodian,
                                ", ", s.status));
    }
    return read;
  }

  absl::StatusOr<SourceRead> ReadControlledLosses(uint32_t page_size) {
    SourceRead read;
    size_t examined = 0;
    uint64_t previous_index = 0;
    absl::Status failed = absl::OkStatus();
    CL_RETURN_IF_ERROR(ledger::ScanControlledLosses(
        state_, request_.after_log_index(), [&](const ledger::ControlledLoss& loss) {
          // Stop only between log indexes (one report may lose several).
          if (loss.log_index != previous_index && previous_index != 0 &&
              (read.found.size() >= page_size || examined >= kExaminedPerSource)) {
            read.exhausted = false;
            read.last_examined = previous_index;
            return false;
          }
          previous_index = loss.log_index;
          ++examined;
          absl::StatusOr<bool> covered = Covers(loss.custodian);
          if (!covered.ok()) {
            failed = covered.status();
            return false;
          }
          if (*covered) {
            v1::Anomaly& a = read.found.emplace_back();
            a.set_kind(v1::CONTROLLED_GOODS_LOST);
            a.set_log_index(loss.log_index);
            a.set_enterprise_uscc(loss.custodian);
            a.set_code(loss.code);
            a.set_detail(absl::StrCat("reported lost or stolen by ", loss.custodian));
          }
          return true;
        }));
    CL_RETURN_IF_ERROR(failed);
    return read;
  }

  absl::StatusOr<SourceRead> ReadMajorHazardAlerts(uint32_t page_size) {
    SourceRead read;
    size_t examined = 0;
    absl::Status failed = absl::OkStatus();
    const std::string by =
        registry::IsEnterpriseRole(reader_.role()) ? reader_.enterprise_uscc() : "";
    CL_RETURN_IF_ERROR(ledger::ScanMajorHazardAlerts(
        state_, by, request_.after_log_index(), [&](const v1::RecordedMajorHazardAlert& r) {
          if (read.found.size() >= page_size || examined >= kExaminedPerSource) {
            read.exhausted = false;
            return false;
          }
          ++examined;
          read.last_examined = r.log_index();
          absl::StatusOr<bool> covered = Covers(r.alert().enterprise_uscc());
          if (!covered.ok()) {
            failed = covered.status();
            return false;
          }
          if (*covered) {
            v1::Anomaly& a = read.found.emplace_back();
            a.set_kind(v1::MAJOR_HAZARD_ALERT);
            a.set_log_index(r.log_index());
            a.set_enterprise_uscc(r.alert().enterprise_uscc());
            a.set_detail(ledger::MajorHazardAlertText(r.alert()));
            *a.mutable_major_hazard_alert() = r.alert();
          }
          return true;
        }));
    CL_RETURN_IF_ERROR(failed);
    return read;
  }

  const storage::StateReader& state_;
  const v1::Actor& reader_;
  const v1::ListAnomaliesRequest& request_;
  AuditScope scope_;
  bool controlled_only_ = false;
  bool full_reasons_ = false;
};

// The enterprise whose record `entry` is, for telling who may read it
// whole: an event's recorder; for the server's own entries (a refusal, an
// alert, a public scan) the anomaly's enterprise (the refused signer's, the
// alerted site's, the scanned package's custodian). Empty: the platform's.
std::string EntryOwner(const std::string& entry, const v1::Anomaly& anomaly) {
  v1::LogEntry parsed;
  if (parsed.ParseFromString(entry) &&
      parsed.envelope().payload_type() == api::kEventContext.payload_type()) {
    v1::Event event;
    if (event.ParseFromString(parsed.envelope().payload())) {
      return event.location().enterprise_uscc();
    }
  }
  return anomaly.enterprise_uscc();
}

// Anomalies.evidence of `page`: the entry of each log index its anomalies
// name, once, in log order, where `reader` reads the entry's enterprise's
// records whole (an observation recorded outside its scope comes without:
// the anomaly names it, the entry would show the rest); the page cut after
// a whole log index before the entries pass kMaxAnomalyEvidenceBytes
// (never before the first).
absl::Status AttachEvidence(const storage::StateReader& state, const v1::Actor& reader,
                            v1::Anomalies* page) {
  size_t bytes = 0;
  int kept = 0;
  std::optional<uint64_t> previous;
  for (; kept < page->anomalies_size(); ++kept) {
    const v1::Anomaly& anomaly = page->anomalies(kept);
    const uint64_t index = anomaly.log_index();
    if (previous == index) continue;
    CL_ASSIGN_OR_RETURN(std::string entry, state.Entry(index));
    if (previous && bytes + entry.size() > kMaxAnomalyEvidenceBytes) break;
    previous = index;
    const std::string owner = EntryOwner(entry, anomaly);
    bool whole = registry::OverseesEverything(reader);
    if (!whole && !owner.empty()) {
      CL_ASSIGN_OR_RETURN(
          whole, registry::OverseesAllOf(state, reader, registry::RecordKind::kPackages, owner));
    }
    if (!whole) continue;
    bytes += entry.size();
    v1::AnomalyEvidence* evidence = page->add_evidence();
    evidence->set_log_index(index);
    evidence->set_entry(std::move(entry));
  }
  if (kept < page->anomalies_size()) {
    page->mutable_anomalies()->DeleteSubrange(kept, page->anomalies_size() - kept);
    page->set_next_after_log_index(page->anomalies(kept - 1).log_index());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckAnomalyKinds(const v1::ListAnomaliesRequest& request) {
  for (int kind : request.kinds()) {
    if (kind == v1::ANOMALY_KIND_UNSPECIFIED || !v1::AnomalyKind_IsValid(kind)) {
      return absl::InvalidArgumentError(
          "kinds: REFUSED_REQUEST, CLONE_SIGNAL, CONTROLLED_GOODS_LOST, OVERDUE_SHIPMENT or "
          "MAJOR_HAZARD_ALERT");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Anomalies> ListAnomalies(const storage::StateReader& state,
                                            const v1::Actor& reader,
                                            const v1::ListAnomaliesRequest& request,
                                            absl::Time now) {
  if (request.grace_minutes() > 10080) {
    return absl::InvalidArgumentError("grace_minutes: at most 10080 (a week)");
  }
  if (request.after_log_index() >= state.size() && request.after_log_index() > 0) {
    return absl::InvalidArgumentError(absl::StrCat("after_log_index: ", request.after_log_index(),
                                                   " is not below the log size, ", state.size()));
  }
  if (request.page_size() > kMaxAnomalyPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: at most ", kMaxAnomalyPageSize));
  }
  if (absl::Status s = CheckAnomalyKinds(request); !s.ok()) return s;
  if (request.with_evidence()) {
    // An entry holds the whole request or event: what only a reader of
    // every package and waybill in its scope reads whole.
    if (registry::DepartmentReads(reader, registry::RecordKind::kPackages) !=
            registry::Reads::kAll ||
        registry::DepartmentReads(reader, registry::RecordKind::kWaybills) !=
            registry::Reads::kAll) {
      return absl::PermissionDeniedError(
          "with_evidence: the entries are for platform administrators and regulators whose "
          "department reads every package and waybill (应急管理, 园区管委会, or none assigned)");
    }
    if (request.page_size() > kMaxAnomalyPageSizeWithEvidence) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_size: at most ", kMaxAnomalyPageSizeWithEvidence, " with_evidence"));
    }
  }
  // The place, as the audit reads it; no goods (every product). A
  // department that reads waybills but not packages reads overdue
  // shipments: admitted as a reader of waybills.
  absl::StatusOr<AuditScope> scope = AuditScope::Resolve(
      state, reader, GoodsSelector{},
      PlaceSelector{request.enterprise_uscc(), request.region_prefix(), request.park_id()},
      ReadsOverdueShipmentsOnly(reader) ? registry::RecordKind::kWaybills
                                        : registry::RecordKind::kPackages);
  if (!scope.ok()) return scope.status();
  Lister lister(state, reader, request, *std::move(scope));
  absl::StatusOr<v1::Anomalies> page =
      lister.Run(request.page_size() == 0 ? kDefaultAnomalyPageSize : request.page_size(), now);
  if (!page.ok() || !request.with_evidence()) return page;
  if (absl::Status s = AttachEvidence(state, reader, &*page); !s.ok()) return s;
  return page;
}

AnomalyFeed::AnomalyFeed(v1::ListAnomaliesRequest request, uint64_t size, uint32_t page_size,
                         int pages_per_round)
    : request_(std::move(request)), pages_per_round_(std::max(pages_per_round, 1)) {
  request_.set_page_size(page_size);
  if (request_.after_log_index() == 0 && size > 0) {
    request_.set_after_log_index(size - 1);
    told_size_ = size;
  }
}

absl::StatusOr<bool> AnomalyFeed::Round(uint64_t size, Lister list,
                                        absl::FunctionRef<bool(const v1::Anomaly&)> tell) {
  if (CaughtUp(size)) return true;
  for (int pages = 0; pages < pages_per_round_; ++pages) {
    absl::StatusOr<v1::Anomalies> page = list(request_);
    if (!page.ok()) return page.status();
    for (const v1::Anomaly& a : page->anomalies()) {
      if (!tell(a)) return false;
      request_.set_after_log_index(a.log_index());
    }
    if (page->next_after_log_index() == 0) {
      // Everything up to this log is told.
      if (size > 0) request_.set_after_log_index(size - 1);
      told_size_ = size;
      return true;
    }
    request_.set_after_log_index(page->next_after_log_index());
  }
  return true;
}

bool OverdueShipmentFeed::Look(const v1::Anomalies& look,
                               absl::FunctionRef<bool(const v1::Anomaly&)> tell) {
  std::set<std::string> overdue_now;
  for (const v1::Anomaly& a : look.overdue_shipments()) {
    overdue_now.insert(a.waybill());
    if (!told_.insert(a.waybill()).second) continue;
    if (!tell(a)) return false;
  }
  if (!look.overdue_truncated() || told_.size() > kMaxToldOverdue) told_ = std::move(overdue_now);
  return true;
}

absl::StatusOr<AnomalySubscription> AnomalySubscription::Start(
    v1::Actor reader, const v1::ListAnomaliesRequest& request, uint64_t size, absl::Time now) {
  CL_RETURN_IF_ERROR(CheckAnomalyKinds(request));
  if (request.with_evidence()) {
    return absl::InvalidArgumentError("with_evidence: read the entries with ListAnomalies");
  }
  const auto wants = [&](v1::AnomalyKind kind) {
    return request.kinds().empty() ||
           std::find(request.kinds().begin(), request.kinds().end(), kind) != request.kinds().end();
  };
  v1::ListAnomaliesRequest entries = request;
  entries.clear_kinds();
  for (v1::AnomalyKind kind :
       {v1::REFUSED_REQUEST, v1::CLONE_SIGNAL, v1::CONTROLLED_GOODS_LOST, v1::MAJOR_HAZARD_ALERT}) {
    if (wants(kind)) entries.add_kinds(kind);
  }
  const bool want_entries = entries.kinds_size() > 0;
  v1::ListAnomaliesRequest overdue = request;
  overdue.clear_kinds();
  overdue.add_kinds(v1::OVERDUE_SHIPMENT);
  overdue.set_after_log_index(0);
  overdue.set_page_size(1);
  return AnomalySubscription(std::move(reader), std::move(entries), std::move(overdue),
                             want_entries, wants(v1::OVERDUE_SHIPMENT), size, now);
}

AnomalySubscription::AnomalySubscription(v1::Actor reader, v1::ListAnomaliesRequest entries,
                                         v1::ListAnomaliesRequest overdue, bool want_entries,
                                         bool want_overdue, uint64_t size, absl::Time now)
    : reader_(std::move(reader)),
      feed_(std::move(entries), size),
      overdue_(std::move(overdue)),
      want_entries_(want_entries),
      want_overdue_(want_overdue),
      reader_looked_at_(now) {}

absl::StatusOr<bool> AnomalySubscription::Round(const storage::Snapshot& snapshot, absl::Time now,
                                                Lister list,
                                                absl::FunctionRef<bool(const v1::Anomaly&)> tell) {
  if (now - reader_looked_at_ > kReaderLookEvery) {
    reader_looked_at_ = now;
    CL_ASSIGN_OR_RETURN(crypto::VerifyingKey key,
                        crypto::VerifyingKey::FromBytes(reader_.public_key()));
    CL_ASSIGN_OR_RETURN(reader_, registry::ActiveSigner(snapshot, key.key_id()));
  }
  if (want_entries_) {
    CL_ASSIGN_OR_RETURN(
        bool listening,
        feed_.Round(
            snapshot.size(),
            [&](const v1::ListAnomaliesRequest& r) { return list(snapshot, reader_, r); }, tell));
    if (!listening) return false;
  }
  if (want_overdue_ && now - overdue_looked_at_ > kOverdueLookEvery) {
    overdue_looked_at_ = now;
    CL_ASSIGN_OR_RETURN(v1::Anomalies look, list(snapshot, reader_, overdue_));
    if (!overdue_feed_.Look(look, tell)) return false;
  }
  return true;
}

}  // namespace chemledger::audit
