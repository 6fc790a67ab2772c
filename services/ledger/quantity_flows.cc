#include "services/ledger/quantity_flows.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/ledger/time_key.h"

namespace chemledger::ledger {
namespace {

constexpr absl::string_view kFlowPrefix = "l/flow/";
constexpr absl::string_view kProductFlowPrefix = "l/pflow/";

std::string Suffix(const state::FlowRecord& f) {
  return absl::StrCat(TimeKey(f.event_unix_micros()), "/", IndexKey(f.log_index()), "/", f.code());
}

bool SamePosition(const state::PackagePosition& a, const state::PackagePosition& b) {
  return a.kind() == b.kind() && a.holder() == b.holder() &&
         a.consignee() == b.consignee() && a.quantity_milli() == b.quantity_milli() &&
         a.waste() == b.waste();
}

// Scans [prefix + from, prefix + to).
absl::Status ScanRange(const storage::StateReader& state, const std::string& prefix,
                       absl::Time from, absl::Time to, const FlowVisitor& visit) {
  if (to <= from) return absl::OkStatus();
  const std::string begin = absl::StrCat(prefix, TimeKey(from));
  // Everything at `to` and after is out: the keys of times before it.
  const std::string end = to == absl::InfiniteFuture() ? storage::PrefixEnd(prefix)
                                                       : absl::StrCat(prefix, TimeKey(to));
  absl::Status bad = absl::OkStatus();
  absl::Status scanned =
      state.Scan(begin, end, [&](absl::string_view key, absl::string_view value) {
        state::FlowRecord flow;
        if (!flow.ParseFromString(std::string(value))) {
          bad = absl::DataLossError(absl::StrCat("quantity flow ", key, " does not parse"));
          return false;
        }
        return visit(flow);
      });
  if (!scanned.ok()) return scanned;
  return bad;
}

}  // namespace

state::PackagePosition PositionOf(const CodeState& c) {
  state::PackagePosition p;
  if (c.aggregate) return p;
  p.set_holder(c.custodian);
  p.set_quantity_milli(c.remaining_milli);
  p.set_waste(c.waste);
  switch (c.status) {
    case CodeStatus::kActive:
      p.set_kind(state::POSITION_STOCK);
      break;
    case CodeStatus::kInTransit:
      p.set_kind(state::POSITION_IN_TRANSIT);
      p.set_consignee(c.consignee);
      break;
    case CodeStatus::kLost:
      p.set_kind(state::POSITION_LOST);
      break;
    case CodeStatus::kConsumed:
    case CodeStatus::kDisposed:
    case CodeStatus::kVoided:
      p.set_kind(state::POSITION_ENDED);
      p.set_quantity_milli(0);
      break;
  }
  return p;
}

void QuantityFlowChanges::Add(const std::optional<CodeState>& before, const CodeState& after) {
  if (after.aggregate) return;
  state::FlowRecord f;
  if (before) *f.mutable_before() = PositionOf(*before);
  *f.mutable_after() = PositionOf(after);
  if (SamePosition(f.before(), f.after())) return;
  // Nothing moved: no figure changes (a label voided before it was used).
  if (f.before().quantity_milli() == 0 && f.after().quantity_milli() == 0) return;
  f.set_code(after.code);
  f.set_issuer(after.enterprise);
  f.set_product(after.product);
  f.set_unit(after.unit);
  flows_.push_back(std::move(f));
}

void QuantityFlowChanges::Write(const v1::Event& event, uint64_t index, absl::Time when,
                                absl::string_view waybill, storage::StateWrites* changes) const {
  for (state::FlowRecord f : flows_) {
    f.set_step(event.step());
    f.set_log_index(index);
    f.set_event_unix_micros(absl::ToUnixMicros(when));
    if (event.step() == v1::SHIPPING) f.set_waybill(std::string(waybill));
    if (event.step() == v1::REPACKAGING && f.before().kind() != state::POSITION_NONE) {
      f.set_process_loss_milli(event.declared_loss_milli());
    }
    const std::string bytes = f.SerializeAsString();
    const std::string suffix = Suffix(f);
    for (const std::string* holder : {&f.before().holder(), &f.after().holder()}) {
      if (holder->empty()) continue;
      changes->Put(absl::StrCat(kFlowPrefix, *holder, "/", suffix), bytes);
    }
    changes->Put(absl::StrCat(kProductFlowPrefix, f.issuer(), "/", f.product(), "/", suffix),
                 bytes);
  }
}

absl::Status ScanEnterpriseFlows(const storage::StateReader& state, absl::string_view uscc,
                                 absl::Time from, absl::Time to, const FlowVisitor& visit) {
  return ScanRange(state, absl::StrCat(kFlowPrefix, uscc, "/"), from, to, visit);
}

absl::Status ScanProductFlows(const storage::StateReader& state, absl::string_view issuer,
                              absl::string_view product, absl::Time from, absl::Time to,
                              const FlowVisitor& visit) {
  return ScanRange(state, absl::StrCat(kProductFlowPrefix, issuer, "/", product, "/"), from, to,
                   visit);
}

}  // namespace chemledger::ledger
