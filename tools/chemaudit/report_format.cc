#include "tools/chemaudit/report_format.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "absl/time/time.h"
#include "chemledger/v1/ledger.pb.h"

namespace chemledger::chemaudit {
namespace {

using google::protobuf::FieldDescriptor;

// A CSV field: quoted when it holds a comma, a quote or a line break.
std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The figures' fields, in declaration order.
std::vector<const FieldDescriptor*> FigureFields() {
  const google::protobuf::Descriptor* d = v1::QuantityFigures::descriptor();
  std::vector<const FieldDescriptor*> fields;
  for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
  return fields;
}

// A figure as its CSV cell: thousandths as decimals, a rate with four places.
std::string Cell(const v1::QuantityFigures& f, const FieldDescriptor* field) {
  const google::protobuf::Reflection* r = f.GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64: return Milli(r->GetInt64(f, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return Milli(static_cast<int64_t>(r->GetUInt64(f, field)));
    case FieldDescriptor::CPPTYPE_DOUBLE: return absl::StrFormat("%.4f", r->GetDouble(f, field));
    default: return "";
  }
}

std::string CsvRow(const v1::ReconciliationRow& row, bool total) {
  std::vector<std::string> cells = {
      total ? "TOTAL" : row.enterprise_uscc(), row.enterprise_name(), row.product_uscc(),
      row.product_number(), row.product_name(), row.cas(), row.unit()};
  for (const FieldDescriptor* field : FigureFields()) cells.push_back(Cell(row.figures(), field));
  cells.push_back(absl::StrJoin(row.codes_behind_differences(), " "));
  for (std::string& c : cells) c = CsvField(c);
  return absl::StrCat(absl::StrJoin(cells, ","), "\r\n");
}

bool Balanced(const v1::QuantityFigures& f) {
  return f.stock_difference_milli() == 0 && f.transit_difference_milli() == 0 &&
         f.lost_difference_milli() == 0;
}

std::string TableRow(absl::string_view who, absl::string_view product,
                     const v1::ReconciliationRow& row) {
  const v1::QuantityFigures& f = row.figures();
  const int64_t in = f.produced_milli() + f.received_milli() + f.repackaged_in_milli() +
                     f.found_milli();
  const int64_t used = f.consumed_milli() + f.repackaged_out_milli() + f.process_loss_milli();
  const int64_t lost = f.lost_milli() + f.lost_in_transit_milli();
  return absl::StrFormat(
      "%-18s %-10s %-4s %12s %12s %12s %12s %12s %12s %12s %12s %s\n", who, product, row.unit(),
      Milli(f.opening_stock_milli()), Milli(in), Milli(f.shipped_milli()), Milli(used),
      Milli(f.disposed_milli()), Milli(lost), Milli(f.closing_stock_milli()),
      Milli(f.closing_in_transit_milli()), Balanced(f) ? "ok" : "DIFFERENCE");
}

}  // namespace

std::string Milli(int64_t milli) {
  const uint64_t magnitude = milli < 0 ? 0 - static_cast<uint64_t>(milli) : milli;
  return absl::StrFormat("%s%d.%03d", milli < 0 ? "-" : "", magnitude / 1000, magnitude % 1000);
}

std::string ReconciliationCsv(const v1::Reconciliation& r) {
  std::vector<std::string> header = {"enterprise_uscc", "enterprise_name", "product_uscc",
                                     "product_number",  "product_name",    "cas",
                                     "unit"};
  for (const FieldDescriptor* field : FigureFields()) {
    header.push_back(std::string(absl::StripSuffix(field->name(), "_milli")));
  }
  header.push_back("codes_behind_differences");
  std::string out = absl::StrCat(absl::StrJoin(header, ","), "\r\n");
  for (const v1::ReconciliationRow& row : r.rows()) out += CsvRow(row, false);
  for (const v1::ReconciliationRow& row : r.totals()) out += CsvRow(row, true);
  return out;
}

std::string CarriersCsv(const v1::Reconciliation& r) {
  std::string out = "carrier_uscc,carrier_name,unit,shipped,waybills\r\n";
  for (const v1::CarrierFigures& c : r.carriers()) {
    out += absl::StrCat(CsvField(c.carrier_uscc()), ",", CsvField(c.carrier_name()), ",",
                        CsvField(c.unit()), ",", Milli(c.shipped_milli()), ",", c.waybills(),
                        "\r\n");
  }
  return out;
}

std::string ReconciliationTable(const v1::Reconciliation& r) {
  std::string out = absl::StrFormat(
      "%-18s %-10s %-4s %12s %12s %12s %12s %12s %12s %12s %12s %s\n", "ENTERPRISE", "PRODUCT",
      "UNIT", "OPENING", "IN", "SHIPPED", "USED", "DISPOSED", "LOST", "CLOSING", "IN-TRANSIT",
      "BALANCE");
  for (const v1::ReconciliationRow& row : r.rows()) {
    out += TableRow(row.enterprise_uscc(), row.product_number(), row);
  }
  for (const v1::ReconciliationRow& row : r.totals()) out += TableRow("TOTAL", "", row);
  if (r.rows_size() == 0) out += "(no movements in the period)\n";
  out += "\nIN = produced + received + repackaged in + found; USED = consumed + repackaged out +"
         " process loss;\nLOST = from stock + in transit. All columns: --csv or --json.\n";
  if (r.carriers_size() > 0) {
    out += "\nCARRIER            UNIT      SHIPPED  WAYBILLS\n";
    for (const v1::CarrierFigures& c : r.carriers()) {
      out += absl::StrFormat("%-18s %-4s %12s %9d  %s\n", c.carrier_uscc(), c.unit(),
                             Milli(c.shipped_milli()), c.waybills(), c.carrier_name());
    }
  }
  for (const v1::ReconciliationRow& row : r.rows()) {
    const v1::QuantityFigures& f = row.figures();
    if (Balanced(f)) continue;
    out += absl::StrFormat(
        "\nDIFFERENCE at %s, %s (%s): stock %s, in transit %s, lost %s; codes: %s\n",
        row.enterprise_uscc(), row.product_number(), row.unit(),
        Milli(f.stock_difference_milli()), Milli(f.transit_difference_milli()),
        Milli(f.lost_difference_milli()), absl::StrJoin(row.codes_behind_differences(), " "));
  }
  if (r.enterprises_outside_scope() > 0) {
    out += absl::StrCat("\n", r.enterprises_outside_scope(),
                        " enterprise(s) left out: outside your jurisdiction\n");
  }
  out += absl::StrCat("\nread at log size ", r.log_size(),
                      r.checked_against_package_states()
                          ? "; closing positions checked against every package's state now\n"
                          : "\n");
  return out;
}

namespace {

v1::Event EventOf(const v1::EventRecord& record) {
  v1::Event e;
  (void)e.ParseFromString(record.entry().envelope().payload());
  return e;
}

std::string ChinaTime(const v1::Event& e, const char* format) {
  const absl::Time t = absl::FromUnixSeconds(e.event_time().seconds()) +
                       absl::Nanoseconds(e.event_time().nanos());
  return absl::FormatTime(format, t, absl::FixedTimeZone(8 * 3600));
}

std::string StepName(const v1::Event& e) {
  return std::string(absl::StripPrefix(v1::BusinessStep_Name(e.step()), "BUSINESS_STEP_"));
}

}  // namespace

std::string EventsTableHeader() {
  return absl::StrFormat("%-19s %10s %-17s %-18s %-16s %s\n", "TIME (UTC+8)", "LOG#", "STEP",
                         "ENTERPRISE", "SITE", "CODES");
}

std::string EventTableLine(const v1::EventRecord& record) {
  const v1::Event e = EventOf(record);
  std::string codes = e.codes_size() > 0 ? e.codes(0) : "";
  if (e.codes_size() > 1) absl::StrAppend(&codes, " +", e.codes_size() - 1);
  if (record.redacted()) absl::StrAppend(&codes, " (redacted)");
  return absl::StrFormat("%-19s %10d %-17s %-18s %-16s %s\n",
                         ChinaTime(e, "%Y-%m-%d %H:%M:%S"), record.log_index(), StepName(e),
                         e.location().enterprise_uscc(), e.location().site(), codes);
}

std::string EventsCsvHeader() {
  return "log_index,event_time,step,enterprise_uscc,site,event_id,codes,quantity,"
         "consignee_uscc,waybill_id,manifest_id,reason,signer_key_id\r\n";
}

namespace {

// Free text a spreadsheet would take for a formula (=, +, -, @ first) is
// kept as text with a leading apostrophe.
std::string CsvText(const std::string& s) {
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')) {
    return "'" + s;
  }
  return s;
}

}  // namespace

std::string EventCsvLine(const v1::EventRecord& record) {
  const v1::Event e = EventOf(record);
  const std::string signer = record.entry().envelope().signatures_size() > 0
                                 ? record.entry().envelope().signatures(0).key_id()
                                 : "";
  std::vector<std::string> cells = {
      absl::StrCat(record.log_index()),
      ChinaTime(e, "%Y-%m-%dT%H:%M:%S+08:00"),
      StepName(e),
      e.location().enterprise_uscc(),
      CsvText(e.location().site()),
      CsvText(e.event_id()),
      absl::StrJoin(e.codes(), " "),
      e.quantity_milli() > 0 ? Milli(static_cast<int64_t>(e.quantity_milli())) : "",
      e.consignee_uscc(),
      CsvText(e.waybill_id()),
      CsvText(e.manifest_id()),
      CsvText(e.reason()),
      signer};
  for (std::string& c : cells) c = CsvField(c);
  return absl::StrCat(absl::StrJoin(cells, ","), "\r\n");
}

std::string EventJsonLine(const v1::EventRecord& record) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(record, &out, options);
  return out + "\n";
}

}  // namespace chemledger::chemaudit
