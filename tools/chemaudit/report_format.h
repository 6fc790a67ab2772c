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

}  // namespace chemledger::chemaudit

#endif  // CHEMLEDGER_TOOLS_CHEMAUDIT_REPORT_FORMAT_H_
