// How chemaudit prints reports: a reconciliation as a terminal table or as
// CSV (RFC 4180, UTF-8, one header line; quantities in the row's unit with
// three decimals, never added across units).
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_TOOLS_CHEMAUDIT_REPORT_FORMAT_H_
#define CHEMLEDGER_TOOLS_CHEMAUDIT_REPORT_FORMAT_H_

#include <cstdint>
#include <string>

#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/ledger_service.pb.h"

namespace chemledger::chemaudit {

// Thousandths as a decimal: 150000 -> "150.000", -2500 -> "-2.500".
std::string Milli(int64_t milli);

// Every row, then the totals (enterprise "TOTAL"), with every column of
// v1::QuantityFigures and the codes behind differences (separated by
// spaces).
std::string ReconciliationCsv(const v1::Reconciliation& r);
// What each carrier moved: carrier_uscc, carrier_name, unit, shipped,
// waybills.
std::string CarriersCsv(const v1::Reconciliation& r);

// The main columns for a terminal, then the totals, the carriers and every
// difference with the codes behind it.
std::string ReconciliationTable(const v1::Reconciliation& r);

// Events (AuditService.QueryEvents) a line each: for a terminal (time in
// China, log index, step, enterprise, site, codes), as CSV (log_index,
// event_time (RFC 3339, UTC+8), step, enterprise_uscc, site, event_id,
// codes (separated by spaces), quantity, consignee_uscc, waybill_id,
// manifest_id, reason, signer_key_id; free text that begins with =, +, - or
// @ gets a leading apostrophe, so no spreadsheet runs it as a formula), or
// as one JSON object (protobuf's
// JSON mapping of the EventRecord, .proto field names).
std::string EventsTableHeader();
std::string EventTableLine(const v1::EventRecord& record);
std::string EventsCsvHeader();
std::string EventCsvLine(const v1::EventRecord& record);
std::string EventJsonLine(const v1::EventRecord& record);

}  // namespace chemledger::chemaudit

#endif  // CHEMLEDGER_TOOLS_CHEMAUDIT_REPORT_FORMAT_H_
