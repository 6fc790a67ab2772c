#include "services/audit/reconciliation.h"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/ledger/code_state.h"
#include "services/ledger/quantity_flows.h"
#include "chemledger/v1/log.pb.h"
#include "services/audit/audit_scope.h"
#include "services/common/status_macros.h"
#include "services/ledger/lifecycle_rules.h"
#include "services/registry/catalogue.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"

namespace chemledger::audit {
namespace {

// Most codes a row names behind its differences.
constexpr size_t kMaxCodesBehind = 100;
// Most packages (per enterprise) one reconciliation follows.
constexpr size_t kMaxTracks = 2000000;
// How often a scan looks whether the caller gave up.
constexpr uint64_t kCancelCheckEvery = 4096;

// What one position puts in an enterprise's three holdings.
struct Holdings {
  int64_t stock = 0;
  int64_t transit = 0;
  int64_t lost = 0;
  bool operator==(const Holdings& o) const {
    return stock == o.stock && transit == o.transit && lost == o.lost;
  }
  bool operator!=(const Holdings& o) const { return !(*this == o); }
};

Holdings Of(const state::PackagePosition& p, const std::string& enterprise) {
  Holdings h;
  if (p.holder() != enterprise) return h;
  const int64_t q = static_cast<int64_t>(p.quantity_milli());
  switch (p.kind()) {
    case state::POSITION_STOCK: h.stock = q; break;
    case state::POSITION_IN_TRANSIT: h.transit = q; break;
    case state::POSITION_LOST: h.lost = q; break;
    default: break;
  }
  return h;
}

// One row's figures while they add up (signed: a wrong sign is a difference).
struct Figures {
  int64_t opening_stock = 0, produced = 0, received = 0, repackaged_in = 0, found = 0;
  int64_t shipped = 0, consumed = 0, repackaged_out = 0, process_loss = 0, disposed = 0;
  int64_t lost = 0, voided = 0, stock_corrections = 0, closing_stock = 0;
  int64_t opening_transit = 0, delivered = 0, lost_in_transit = 0, transit_corrections = 0;
  int64_t closing_transit = 0;
  int64_t opening_lost = 0, lost_corrections = 0, closing_lost = 0;
  int64_t waste_declared = 0, waste_disposed = 0, closing_waste_stock = 0,
          closing_waste_transit = 0;
  std::set<std::string> codes_behind;

  void AddAll(const Figures& o) {
    opening_stock += o.opening_stock; produced += o.produced; received += o.received;
    repackaged_in += o.repackaged_in; found += o.found; shipped += o.shipped;
    consumed += o.consumed; repackaged_out += o.repackaged_out;
    process_loss += o.process_loss; disposed += o.disposed; lost += o.lost;
    voided += o.voided; stock_corrections += o.stock_corrections;
    closing_stock += o.closing_stock; opening_transit += o.opening_transit;
    delivered += o.delivered; lost_in_transit += o.lost_in_transit;
    transit_corrections += o.transit_corrections; closing_transit += o.closing_transit;
    opening_lost += o.opening_lost; lost_corrections += o.lost_corrections;
    closing_lost += o.closing_lost;
    waste_declared += o.waste_declared; waste_disposed += o.waste_disposed;
    closing_waste_stock += o.closing_waste_stock;
    closing_waste_transit += o.closing_waste_transit;
    for (const std::string& c : o.codes_behind) {
      if (codes_behind.size() >= kMaxCodesBehind) break;
      codes_behind.insert(c);
    }
  }
  int64_t StockDifference() const {
    return opening_stock + produced + received + repackaged_in + found + stock_corrections -
           shipped - consumed - repackaged_out - process_loss - disposed - lost - voided -
           closing_stock;
  }
  int64_t TransitDifference() const {
    return opening_transit + shipped - delivered - lost_in_transit + transit_corrections -
           closing_transit;
  }
  int64_t LostDifference() const {
    return opening_lost + lost + lost_in_transit - found + lost_corrections - closing_lost;
  }
  void Behind(const std::string& code) {
    if (codes_behind.size() < kMaxCodesBehind) codes_behind.insert(code);
  }
};

// Books what one event did to an enterprise's holdings (`d`, after minus
// before) in the columns of its step. Returns false when the step cannot
// have moved quantity so (the difference then shows in the balance).
bool Book(const state::FlowRecord& f, const Holdings& d, Figures* out) {
  // Whether only the holdings `moved` changed.
  auto only = [&](bool stock, bool transit, bool lost) {
    return (stock || d.stock == 0) && (transit || d.transit == 0) && (lost || d.lost == 0);
  };
  switch (f.step()) {
    case v1::COMMISSIONING:
      out->produced += d.stock;
      return only(true, false, false) && d.stock >= 0;
    case v1::REPACKAGING:
      if (f.before().kind() == state::POSITION_NONE) {
        out->repackaged_in += d.stock;
        return only(true, false, false) && d.stock >= 0;
      } else {
        const int64_t loss = static_cast<int64_t>(f.process_loss_milli());
        out->process_loss += loss;
        out->repackaged_out += -d.stock - loss;
        return only(true, false, false) && -d.stock >= loss;
      }
    case v1::SHIPPING:
      out->shipped += d.transit;
      return only(true, true, false) && d.transit >= 0 && d.stock == -d.transit;
    case v1::RECEIVING:
      // The consignee's stock grows; the shipper's shipments in transit end.
      out->received += d.stock;
      out->delivered += -d.transit;
      return only(true, true, false) && d.stock >= 0 && d.transit <= 0;
    case v1::CONSUMING:
      out->consumed += -d.stock;
      return only(true, false, false) && d.stock <= 0;
    case v1::DESTROYING:
      out->disposed += -d.stock;
      if (f.before().waste()) out->waste_disposed += -d.stock;
      return only(true, false, false) && d.stock <= 0;
    case v1::WASTE_DECLARING:
      // The package stays where it is; it is now waste.
      if (f.after().waste() && !f.before().waste()) {
        out->waste_declared += static_cast<int64_t>(f.after().quantity_milli());
      }
      return only(false, false, false);
    case v1::LOSS_REPORT:
      out->lost += -d.stock;
      out->lost_in_transit += -d.transit;
      return d.stock <= 0 && d.transit <= 0 && d.lost == -(d.stock + d.transit);
    case v1::FOUND:
      out->found += d.stock;
      return only(true, false, true) && d.stock >= 0 && d.lost == -d.stock;
    case v1::VOIDING:
      out->voided += -d.stock;
      return only(true, false, false) && d.stock <= 0;
    case v1::ERROR_DECLARATION:
      out->stock_corrections += d.stock;
      out->transit_corrections += d.transit;
      out->lost_corrections += d.lost;
      // A waste declaration undone takes its quantity out of the waste
      // declared; a destruction of waste undone, out of the waste disposed.
      if (f.before().waste() && !f.after().waste()) {
        out->waste_declared -= static_cast<int64_t>(f.before().quantity_milli());
      }
      if (f.before().kind() == state::POSITION_ENDED && f.after().waste() && d.stock > 0) {
        out->waste_disposed -= d.stock;
      }
      return true;
    default:
      return false;
  }
}

struct RowKey {
  std::string enterprise, issuer, product, unit;
  bool operator<(const RowKey& o) const {
    return std::tie(enterprise, issuer, product, unit) <
           std::tie(o.enterprise, o.issuer, o.product, o.unit);
  }
};

// One package as one enterprise's books see it.
struct Track {
  RowKey row;
  Holdings opening;
  Holdings last;
  bool last_waste = false;  // declared waste, as its last flow left it
  bool ended = false;  // its last flow ended it: nothing changes it any more
};


absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

// When the latest entry of `state` was recorded.
absl::StatusOr<absl::Time> LatestRecordTime(const storage::StateReader& state) {
  if (state.size() == 0) return absl::InfinitePast();
  absl::StatusOr<std::string> bytes = state.Entry(state.size() - 1);
  if (!bytes.ok()) return bytes.status();
  v1::LogEntry entry;
  if (!entry.ParseFromString(*bytes)) return absl::DataLossError("the latest entry does not parse");
  return absl::FromUnixSeconds(entry.record_time().seconds()) +
         absl::Nanoseconds(entry.record_time().nanos());
}

class Reconciler {
 public:
  Reconciler(const storage::StateReader& state, const v1::Actor& reader,
             const v1::ReconcileRequest& request, const std::function<bool()>& cancelled)
      : state_(state),
        reader_(reader),
        request_(request),
        cancelled_(cancelled) {}

  absl::StatusOr<v1::Reconciliation> Run() {
    CL_RETURN_IF_ERROR(CheckPeriod());
    const v1::ReconcileRequest& r = request_;
    absl::StatusOr<AuditScope> scope = AuditScope::Resolve(
        state_, reader_,
        GoodsSelector{r.cas(), "", r.catalogue_number(), r.control_flag(), r.product_uscc(),
                      r.product_number()},
        PlaceSelector{r.enterprise_uscc(), r.region_prefix(), r.park_id()});
    if (!scope.ok()) return scope.status();
    scope_.emplace(*std::move(scope));
    const std::optional<std::set<ProductKey>>& products = scope_->products();
    // Every enterprise the reader oversees, when neither goods nor a place
    // narrow the request.
    std::optional<std::set<std::string>> enterprises = scope_->enterprises();
    if (!enterprises && !products) {
      CL_ASSIGN_OR_RETURN(std::vector<registry::EnterpriseRecord> all,
                          registry::ListEnterprises(state_));
      enterprises.emplace();
      for (const registry::EnterpriseRecord& e : all) {
        CL_ASSIGN_OR_RETURN(bool covered, scope_->Covers(e.enterprise.uscc()));
        if (covered) enterprises->insert(e.enterprise.uscc());
      }
    }
    const bool by_enterprise = enterprises.has_value() &&
                               (!products.has_value() || enterprises->size() <= products->size());
    if (by_enterprise) {
      for (const std::string& e : *enterprises) {
        CL_RETURN_IF_ERROR(ledger::ScanEnterpriseFlows(
            state_, e, absl::InfinitePast(), to_, [&](const state::FlowRecord& f) {
              if (!scope_->CoversProduct(f.issuer(), f.product())) return true;
              status_ = Visit(f, e);
              return status_.ok();
            }));
        CL_RETURN_IF_ERROR(status_);
      }
    } else {
      for (const ProductKey& p : *products) {
        CL_RETURN_IF_ERROR(ledger::ScanProductFlows(
            state_, p.first, p.second, absl::InfinitePast(), to_,
            [&](const state::FlowRecord& f) {
              std::set<std::string> holders = {f.before().holder(), f.after().holder()};
              for (const std::string& holder : holders) {
                if (holder.empty()) continue;
                absl::StatusOr<bool> in = scope_->Covers(holder);
                if (!in.ok()) {
                  status_ = in.status();
                  return false;
                }
                if (!*in) continue;
                status_ = Visit(f, holder);
                if (!status_.ok()) return false;
              }
              return true;
            }));
        CL_RETURN_IF_ERROR(status_);
      }
    }
    return Report();
  }

 private:
  absl::Status CheckPeriod() {
    const v1::ReconcileRequest& r = request_;
    from_ = absl::InfinitePast();
    to_ = absl::InfiniteFuture();
    if (r.has_from()) {
      CL_ASSIGN_OR_RETURN(from_, PeriodBound(r.from(), "from"));
    }
    if (r.has_to()) {
      CL_ASSIGN_OR_RETURN(to_, PeriodBound(r.to(), "to"));
    }
    if (to_ <= from_) return Invalid("to", "must be after from");
    // A period that runs past every event recorded (and the clock skew
    // events may be dated ahead by) ends with each package's state now.
    CL_ASSIGN_OR_RETURN(const absl::Time latest, LatestRecordTime(state_));
    check_states_ = !r.has_to() || to_ > latest + ledger::kClockSkew;
    return absl::OkStatus();
  }

  absl::Status Visit(const state::FlowRecord& f, const std::string& enterprise) {
    if (++visited_ % kCancelCheckEvery == 0 && cancelled_ && cancelled_()) {
      return absl::CancelledError("the reconciliation was cancelled");
    }
    const absl::Time when = absl::FromUnixMicros(f.event_unix_micros());
    auto [it, added] = tracks_.try_emplace({enterprise, f.code()});
    if (added && tracks_.size() > kMaxTracks) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the request covers more than ", kMaxTracks,
          " packages' books: narrow it to a chemical, a product or a place"));
    }
    Track& t = it->second;
    t.ended = f.after().kind() == state::POSITION_ENDED;
    t.last_waste = f.after().waste();
    if (t.row.enterprise.empty()) t.row = RowKey{enterprise, f.issuer(), f.product(), f.unit()};
    const Holdings before = Of(f.before(), enterprise);
    const Holdings after = Of(f.after(), enterprise);
    if (when < from_) {
      t.opening = after;
      t.last = after;
      return absl::OkStatus();
    }
    Figures& row = rows_[t.row];
    // The event must start from where the previous one left the package.
    if (before != t.last) row.Behind(f.code());
    const Holdings d{after.stock - before.stock, after.transit - before.transit,
                     after.lost - before.lost};
    if (!Book(f, d, &row)) row.Behind(f.code());
    if (f.step() == v1::SHIPPING && d.transit > 0 && !f.waybill().empty()) {
      const std::string carrier = f.waybill().substr(0, f.waybill().find('/'));
      CarrierTotal& c = carriers_[{carrier, f.unit()}];
      c.shipped += d.transit;
      c.waybills.insert(f.waybill());
    }
    t.last = after;
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Reconciliation> Report() {
    // Opening and closing positions, per row.
    for (auto& [key, t] : tracks_) {
      Holdings closing = t.last;
      bool waste = t.last_waste;
      if (check_states_ && !t.ended) {
        CL_ASSIGN_OR_RETURN(std::optional<ledger::CodeState> now,
                            ledger::FindCode(state_, key.second));
        closing = now ? Of(ledger::PositionOf(*now), key.first) : Holdings();
        // (Waste counts for whoever holds it at the end, and only then.)
        waste = now && now->waste && closing != Holdings();
        if (closing != t.last || (closing != Holdings() && waste != t.last_waste)) {
          rows_[t.row].Behind(key.second);
        }
      }
      if (t.opening == Holdings() && closing == Holdings() && !rows_.count(t.row)) continue;
      Figures& row = rows_[t.row];
      row.opening_stock += t.opening.stock;
      row.opening_transit += t.opening.transit;
      row.opening_lost += t.opening.lost;
      row.closing_stock += closing.stock;
      row.closing_transit += closing.transit;
      row.closing_lost += closing.lost;
      if (waste) {
        row.closing_waste_stock += closing.stock;
        row.closing_waste_transit += closing.transit;
      }
    }
    v1::Reconciliation out;
    out.set_format(std::string(kReconciliationFormat));
    *out.mutable_request() = request_;
    out.set_log_size(state_.size());
    out.set_checked_against_package_states(check_states_);
    out.set_enterprises_outside_scope(scope_->enterprises_outside_scope());
    std::map<std::string, Figures> totals;  // by unit
    for (const auto& [key, figures] : rows_) {
      v1::ReconciliationRow* row = out.add_rows();
      row->set_enterprise_uscc(key.enterprise);
      CL_ASSIGN_OR_RETURN(std::string name, EnterpriseName(key.enterprise));
      row->set_enterprise_name(name);
      row->set_product_uscc(key.issuer);
      row->set_product_number(key.product);
      CL_ASSIGN_OR_RETURN(const v1::Product* p, scope_->Product(key.issuer, key.product));
      if (p != nullptr) {
        row->set_product_name(p->name_zh());
        row->set_cas(p->cas());
      }
      row->set_unit(key.unit);
      Fill(figures, row);
      // The totals add up the rows as reported, so that anyone can re-add
      // them from the report alone (reconciliation_check.h).
      totals[key.unit].AddAll(Reported(*row));
    }
    for (const auto& [unit, figures] : totals) {
      v1::ReconciliationRow* row = out.add_totals();
      row->set_unit(unit);
      if (!request_.cas().empty()) row->set_cas(request_.cas());
      Fill(figures, row);
    }
    for (const auto& [key, c] : carriers_) {
      v1::CarrierFigures* f = out.add_carriers();
      f->set_carrier_uscc(key.first);
      CL_ASSIGN_OR_RETURN(std::string name, EnterpriseName(key.first));
      f->set_carrier_name(name);
      f->set_unit(key.second);
      f->set_shipped_milli(static_cast<uint64_t>(c.shipped));
      f->set_waybills(c.waybills.size());
    }
    return out;
  }

  static uint64_t U(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

  // A row's figures as the report states them.
  static Figures Reported(const v1::ReconciliationRow& row) {
    const v1::QuantityFigures& q = row.figures();
    const auto S = [](uint64_t v) { return static_cast<int64_t>(v); };
    Figures f;
    f.opening_stock = S(q.opening_stock_milli());
    f.produced = S(q.produced_milli());
    f.received = S(q.received_milli());
    f.repackaged_in = S(q.repackaged_in_milli());
    f.found = S(q.found_milli());
    f.shipped = S(q.shipped_milli());
    f.consumed = S(q.consumed_milli());
    f.repackaged_out = S(q.repackaged_out_milli());
    f.process_loss = S(q.process_loss_milli());
    f.disposed = S(q.disposed_milli());
    f.lost = S(q.lost_milli());
    f.voided = S(q.voided_milli());
    f.stock_corrections = q.stock_corrections_milli();
    f.closing_stock = S(q.closing_stock_milli());
    f.opening_transit = S(q.opening_in_transit_milli());
    f.delivered = S(q.delivered_milli());
    f.lost_in_transit = S(q.lost_in_transit_milli());
    f.transit_corrections = q.transit_corrections_milli();
    f.closing_transit = S(q.closing_in_transit_milli());
    f.opening_lost = S(q.opening_lost_milli());
    f.lost_corrections = q.lost_corrections_milli();
    f.closing_lost = S(q.closing_lost_milli());
    f.waste_declared = S(q.waste_declared_milli());
    f.waste_disposed = S(q.waste_disposed_milli());
    f.closing_waste_stock = S(q.closing_waste_stock_milli());
    f.closing_waste_transit = S(q.closing_waste_in_transit_milli());
    f.codes_behind.insert(row.codes_behind_differences().begin(),
                          row.codes_behind_differences().end());
    return f;
  }

  static void Fill(const Figures& f, v1::ReconciliationRow* row) {
    v1::QuantityFigures* q = row->mutable_figures();
    q->set_opening_stock_milli(U(f.opening_stock));
    q->set_produced_milli(U(f.produced));
    q->set_received_milli(U(f.received));
    q->set_repackaged_in_milli(U(f.repackaged_in));
    q->set_found_milli(U(f.found));
    q->set_shipped_milli(U(f.shipped));
    q->set_consumed_milli(U(f.consumed));
    q->set_repackaged_out_milli(U(f.repackaged_out));
    q->set_process_loss_milli(U(f.process_loss));
    q->set_disposed_milli(U(f.disposed));
    q->set_lost_milli(U(f.lost));
    q->set_voided_milli(U(f.voided));
    q->set_stock_corrections_milli(f.stock_corrections);
    q->set_closing_stock_milli(U(f.closing_stock));
    q->set_opening_in_transit_milli(U(f.opening_transit));
    q->set_delivered_milli(U(f.delivered));
    q->set_lost_in_transit_milli(U(f.lost_in_transit));
    q->set_transit_corrections_milli(f.transit_corrections);
    q->set_closing_in_transit_milli(U(f.closing_transit));
    q->set_opening_lost_milli(U(f.opening_lost));
    q->set_lost_corrections_milli(f.lost_corrections);
    q->set_closing_lost_milli(U(f.closing_lost));
    q->set_waste_declared_milli(U(f.waste_declared));
    q->set_waste_disposed_milli(U(f.waste_disposed));
    q->set_closing_waste_stock_milli(U(f.closing_waste_stock));
    q->set_closing_waste_in_transit_milli(U(f.closing_waste_transit));
    // Of the figures as reported (a column that added up to a negative
    // figure reads zero), as a reader recomputes it (reconciliation_check.h).
    q->set_waste_disposal_rate(q->waste_declared_milli() > 0
                                   ? static_cast<double>(q->waste_disposed_milli()) /
                                         static_cast<double>(q->waste_declared_milli())
                                   : 0.0);
    // A column that added up to a negative figure is reported as zero: the
    // balance is taken from the reported figures, so the difference shows.
    v1::QuantityFigures& r = *q;
    const auto S = [](uint64_t v) { return static_cast<int64_t>(v); };
    q->set_stock_difference_milli(
        S(r.opening_stock_milli()) + S(r.produced_milli()) + S(r.received_milli()) +
        S(r.repackaged_in_milli()) + S(r.found_milli()) + r.stock_corrections_milli() -
        S(r.shipped_milli()) - S(r.consumed_milli()) - S(r.repackaged_out_milli()) -
        S(r.process_loss_milli()) - S(r.disposed_milli()) - S(r.lost_milli()) -
        S(r.voided_milli()) - S(r.closing_stock_milli()));
    q->set_transit_difference_milli(S(r.opening_in_transit_milli()) + S(r.shipped_milli()) -
                                    S(r.delivered_milli()) - S(r.lost_in_transit_milli()) +
                                    r.transit_corrections_milli() -
                                    S(r.closing_in_transit_milli()));
    q->set_lost_difference_milli(S(r.opening_lost_milli()) + S(r.lost_milli()) +
                                 S(r.lost_in_transit_milli()) - S(r.found_milli()) +
                                 r.lost_corrections_milli() - S(r.closing_lost_milli()));
    for (const std::string& code : f.codes_behind) row->add_codes_behind_differences(code);
  }

  absl::StatusOr<std::string> EnterpriseName(const std::string& uscc) {
    if (auto it = names_.find(uscc); it != names_.end()) return it->second;
    CL_ASSIGN_OR_RETURN(std::optional<registry::EnterpriseRecord> e,
                        registry::FindEnterprise(state_, uscc));
    return names_[uscc] = e ? e->enterprise.name() : std::string();
  }

  struct CarrierTotal {
    int64_t shipped = 0;
    std::set<std::string> waybills;
  };

  const storage::StateReader& state_;
  const v1::Actor& reader_;
  const v1::ReconcileRequest& request_;
  const std::function<bool()>& cancelled_;
  std::optional<AuditScope> scope_;
  uint64_t visited_ = 0;
  absl::Time from_, to_;
  bool check_states_ = false;
  std::map<std::string, std::string> names_;
  std::map<std::pair<std::string, std::string>, Track> tracks_;  // enterprise, code
  std::map<RowKey, Figures> rows_;
  std::map<std::pair<std::string, std::string>, CarrierTotal> carriers_;  // carrier, unit
  absl::Status status_;
};

}  // namespace

absl::StatusOr<v1::Reconciliation> Reconcile(const storage::StateReader& state,
                                             const v1::Actor& reader,
                                             const v1::ReconcileRequest& request,
                                             const std::function<bool()>& cancelled) {
  return Reconciler(state, reader, request, cancelled).Run();
}

}  // namespace chemledger::audit
