#include "services/audit/reconciliation_check.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/util/message_differencer.h"

namespace chemledger::audit {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

int64_t S(uint64_t v) { return static_cast<int64_t>(v); }

// The balances and rate `q` states against what its figures add up to.
absl::Status CheckRow(const std::string& field, const v1::QuantityFigures& q) {
  const int64_t stock = S(q.opening_stock_milli()) + S(q.produced_milli()) +
                        S(q.received_milli()) + S(q.repackaged_in_milli()) + S(q.found_milli()) +
                        q.stock_corrections_milli() - S(q.shipped_milli()) -
                        S(q.consumed_milli()) - S(q.repackaged_out_milli()) -
                        S(q.process_loss_milli()) - S(q.disposed_milli()) - S(q.lost_milli()) -
                        S(q.voided_milli()) - S(q.closing_stock_milli());
  const int64_t transit = S(q.opening_in_transit_milli()) + S(q.shipped_milli()) -
                          S(q.delivered_milli()) - S(q.lost_in_transit_milli()) +
                          q.transit_corrections_milli() - S(q.closing_in_transit_milli());
  const int64_t lost = S(q.opening_lost_milli()) + S(q.lost_milli()) +
                       S(q.lost_in_transit_milli()) - S(q.found_milli()) +
                       q.lost_corrections_milli() - S(q.closing_lost_milli());
  if (stock != q.stock_difference_milli()) {
    return Invalid(field, absl::StrCat("stock_difference_milli is ", q.stock_difference_milli(),
                                       "; the figures add up to ", stock));
  }
  if (transit != q.transit_difference_milli()) {
    return Invalid(field, absl::StrCat("transit_difference_milli is ",
                                       q.transit_difference_milli(),
                                       "; the figures add up to ", transit));
  }
  if (lost != q.lost_difference_milli()) {
    return Invalid(field, absl::StrCat("lost_difference_milli is ", q.lost_difference_milli(),
                                       "; the figures add up to ", lost));
  }
  const double rate = q.waste_declared_milli() > 0
                          ? static_cast<double>(q.waste_disposed_milli()) /
                                static_cast<double>(q.waste_declared_milli())
                          : 0.0;
  if (std::fabs(rate - q.waste_disposal_rate()) > 1e-9) {
    return Invalid(field, absl::StrCat("waste_disposal_rate is ", q.waste_disposal_rate(),
                                       "; waste disposed over declared is ", rate));
  }
  return absl::OkStatus();
}

// Adds `q`'s columns (every integer field, the balances included) to `sum`.
void AddColumns(const v1::QuantityFigures& q, std::map<int, int64_t>* sum) {
  const google::protobuf::Descriptor* d = q.GetDescriptor();
  const google::protobuf::Reflection* r = q.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        (*sum)[f->number()] += static_cast<int64_t>(r->GetUInt64(q, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
        (*sum)[f->number()] += r->GetInt64(q, f);
        break;
      default:
        break;
    }
  }
}

}  // namespace

absl::Status CheckReconciliationAddsUp(const std::string& field, const v1::Reconciliation& rec) {
  if (rec.format() != "chemledger reconciliation v1") {
    return Invalid(absl::StrCat(field, ".format"), absl::StrCat("'", rec.format(), "'"));
  }
  std::set<std::tuple<std::string, std::string, std::string, std::string>> named;
  std::map<std::string, std::map<int, int64_t>> by_unit;
  for (int i = 0; i < rec.rows_size(); ++i) {
    const v1::ReconciliationRow& row = rec.rows(i);
    const std::string at = absl::StrCat(field, ".rows[", i, "]");
    if (row.unit().empty()) return Invalid(at, "no unit");
    if (!named.insert({row.enterprise_uscc(), row.product_uscc(), row.product_number(), row.unit()})
             .second) {
      return Invalid(at, "the same enterprise, product and unit as a row before it");
    }
    if (absl::Status s = CheckRow(at, row.figures()); !s.ok()) return s;
    const v1::QuantityFigures& q = row.figures();
    if ((q.stock_difference_milli() != 0 || q.transit_difference_milli() != 0 ||
         q.lost_difference_milli() != 0) &&
        row.codes_behind_differences().empty()) {
      return Invalid(at, "a balance is not zero and no code behind it is named");
    }
    AddColumns(q, &by_unit[row.unit()]);
  }
  std::set<std::string> totalled;
  for (int i = 0; i < rec.totals_size(); ++i) {
    const v1::ReconciliationRow& total = rec.totals(i);
    const std::string at = absl::StrCat(field, ".totals[", i, "]");
    if (!totalled.insert(total.unit()).second) return Invalid(at, "a second total of its unit");
    auto rows = by_unit.find(total.unit());
    if (rows == by_unit.end()) return Invalid(at, absl::StrCat("no row is in ", total.unit()));
    if (absl::Status s = CheckRow(at, total.figures()); !s.ok()) return s;
    std::map<int, int64_t> sum;
    AddColumns(total.figures(), &sum);
    for (const auto& [number, value] : rows->second) {
      if (sum[number] != value) {
        return Invalid(at, absl::StrCat(
                               "column ",
                               total.figures().GetDescriptor()->FindFieldByNumber(number)->name(),
                               " is ", sum[number], "; the ", total.unit(), " rows add up to ",
                               value));
      }
    }
  }
  for (const auto& [unit, sums] : by_unit) {
    if (!totalled.count(unit)) {
      return Invalid(absl::StrCat(field, ".totals"), absl::StrCat("no total for ", unit));
    }
  }
  return absl::OkStatus();
}

v1::ReconcileRequest ReconcileRequestOf(const v1::EventQuery& q) {
  v1::ReconcileRequest want;
  want.set_cas(q.cas());
  want.set_catalogue_number(q.catalogue_number());
  want.set_control_flag(q.control_flag());
  want.set_product_uscc(q.product_uscc());
  want.set_product_number(q.product_number());
  want.set_enterprise_uscc(q.enterprise_uscc());
  want.set_region_prefix(q.region_prefix());
  want.set_park_id(q.park_id());
  if (q.has_from()) *want.mutable_from() = q.from();
  if (q.has_to()) *want.mutable_to() = q.to();
  return want;
}

absl::Status CheckReconciliationIsOfQuery(const std::string& field,
                                          const v1::Reconciliation& rec,
                                          const v1::EventQuery& q) {
  if (!google::protobuf::util::MessageDifferencer::Equals(rec.request(), ReconcileRequestOf(q))) {
    return Invalid(absl::StrCat(field, ".request"),
                   "is not the goods, place and period of the bundle's query");
  }
  return absl::OkStatus();
}

}  // namespace chemledger::audit
