#include "tools/chemaudit/report_format.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace chemledger::chemaudit {
namespace {

TEST(MilliTest, ThreeDecimalsAndASign) {
  EXPECT_EQ(Milli(0), "0.000");
  EXPECT_EQ(Milli(150000), "150.000");
  EXPECT_EQ(Milli(1), "0.001");
  EXPECT_EQ(Milli(-2500), "-2.500");
  EXPECT_EQ(Milli(INT64_MIN), "-9223372036854775.808");
}

v1::Reconciliation Example() {
  v1::Reconciliation r;
  v1::ReconciliationRow* row = r.add_rows();
  row->set_enterprise_uscc("91350100MA2Y000001");
  row->set_enterprise_name("福州化工, \"东区\"");
  row->set_product_uscc("91350100MA2Y000001");
  row->set_product_number("M01");
  row->set_product_name("甲醇");
  row->set_cas("67-56-1");
  row->set_unit("KGM");
  row->mutable_figures()->set_produced_milli(150000);
  row->mutable_figures()->set_shipped_milli(100000);
  row->mutable_figures()->set_closing_stock_milli(40000);
  row->mutable_figures()->set_stock_difference_milli(10000);
  row->add_codes_behind_differences("91350100MA2Y000001.M01.B1.4");
  *r.add_totals() = *row;
  r.mutable_totals(0)->clear_enterprise_uscc();
  v1::CarrierFigures* c = r.add_carriers();
  c->set_carrier_uscc("91350500MA2Y000005");
  c->set_unit("KGM");
  c->set_shipped_milli(100000);
  c->set_waybills(3);
  return r;
}

TEST(ReconciliationCsvTest, EveryColumnQuotedWhereNeeded) {
  const std::string csv = ReconciliationCsv(Example());
  std::vector<std::string> lines = absl::StrSplit(csv, "\r\n");
  ASSERT_GE(lines.size(), 4u);
  EXPECT_TRUE(absl::StartsWith(lines[0], "enterprise_uscc,enterprise_name,product_uscc,"));
  EXPECT_TRUE(absl::StrContains(lines[0], ",opening_stock,produced,"));
  EXPECT_TRUE(absl::StrContains(lines[0], ",stock_difference,transit_difference,"));
  EXPECT_TRUE(absl::EndsWith(lines[0], ",codes_behind_differences"));
  // 7 names, 30 figures, the codes: as many cells as the header.
  const size_t columns = std::vector<std::string>(absl::StrSplit(lines[0], ',')).size();
  EXPECT_EQ(columns, 7u + 30u + 1u);
  EXPECT_TRUE(absl::StrContains(lines[0], ",waste_declared,waste_disposed,"));
  EXPECT_TRUE(absl::StrContains(lines[1], ",0.0000,"));  // the disposal rate
  EXPECT_TRUE(absl::StrContains(lines[1], "\"福州化工, \"\"东区\"\"\""));
  EXPECT_TRUE(absl::StrContains(lines[1], ",0.000,150.000,"));
  EXPECT_TRUE(absl::StrContains(lines[1], ",10.000,"));
  EXPECT_TRUE(absl::EndsWith(lines[1], ",91350100MA2Y000001.M01.B1.4"));
  EXPECT_TRUE(absl::StartsWith(lines[2], "TOTAL,"));
  EXPECT_EQ(lines[3], "");  // after the last line's CRLF
  EXPECT_EQ(lines.size(), 4u);
  std::vector<std::string> carriers = absl::StrSplit(CarriersCsv(Example()), "\r\n");
  ASSERT_EQ(carriers.size(), 3u);
  EXPECT_EQ(carriers[0], "carrier_uscc,carrier_name,unit,shipped,waybills");
  EXPECT_EQ(carriers[1], "91350500MA2Y000005,,KGM,100.000,3");
}

TEST(ReconciliationTableTest, NamesTheDifferenceAndItsCodes) {
  const std::string table = ReconciliationTable(Example());
  EXPECT_TRUE(absl::StrContains(table, "DIFFERENCE at 91350100MA2Y000001, M01 (KGM): stock 10.000"))
      << table;
  EXPECT_TRUE(absl::StrContains(table, "codes: 91350100MA2Y000001.M01.B1.4")) << table;
  EXPECT_TRUE(absl::StrContains(table, "TOTAL")) << table;
  v1::Reconciliation empty;
  EXPECT_TRUE(absl::StrContains(ReconciliationTable(empty), "(no movements in the period)"));
}

}  // namespace
}  // namespace chemledger::chemaudit
