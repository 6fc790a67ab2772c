#include "reference/reference_tables.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace chemledger::reference {
namespace {

TEST(ReferenceTablesTest, EnglishStatementsFromGhsystem) {
  const ReferenceTables& t = ShippedReferenceTables();
  EXPECT_EQ(t.StatementText("H225", Language::kEnglish), "Highly flammable liquid and vapour.");
  EXPECT_EQ(t.StatementText("P210", Language::kEnglish),
            "Keep away from heat/sparks/open flames/hot surfaces. — No smoking.");
  EXPECT_EQ(t.StatementText("P301+P310", Language::kEnglish),
            "IF SWALLOWED: Immediately call a POISON CENTER or doctor/physician.");
  // Fill-ins are left for the supplier, as on a label.
  EXPECT_EQ(t.StatementText("P501", Language::kEnglish), "Dispose of contents/container to …");
  EXPECT_EQ(t.StatementText("P412", Language::kEnglish),
            "Store at temperatures not exceeding 50 °C/122 °F.");
  // No TeX is left in any text, and every statement of the GHS's core
  // precautionary groups is there.
  for (const char* code : {"P101", "P201", "P260", "P264", "P270", "P271", "P273", "P280",
                           "P302+P352", "P304+P340", "P305+P351+P338", "P308+P313", "P310",
                           "P391", "P403+P233", "P405", "P501"}) {
    std::optional<std::string> text = t.StatementText(code, Language::kEnglish);
    ASSERT_TRUE(text.has_value()) << code;
    EXPECT_EQ(text->find_first_of("\\{}~"), std::string::npos) << code << ": " << *text;
  }
}

TEST(ReferenceTablesTest, ChineseHazardStatementsOnly) {
  const ReferenceTables& t = ShippedReferenceTables();
  EXPECT_EQ(t.StatementText("H225", Language::kChinese), "高度易燃液体和蒸气");
  EXPECT_EQ(t.StatementText("H300+H330", Language::kChinese), "吞咽或吸入致命");
  // No Chinese precautionary texts are shipped: none is made up.
  EXPECT_FALSE(t.StatementText("P210", Language::kChinese).has_value());
  EXPECT_FALSE(t.StatementText("H999", Language::kChinese).has_value());
  EXPECT_FALSE(t.StatementText("code", Language::kChinese).has_value());  // not the header
}

TEST(ReferenceTablesTest, CombinationsTheTableLacksAreTheirPartsJoined) {
  const ReferenceTables& t = ShippedReferenceTables();
  ASSERT_FALSE(t.StatementText("P210+P501", Language::kEnglish) == std::nullopt);
  EXPECT_EQ(*t.StatementText("P210+P501", Language::kEnglish),
            *t.StatementText("P210", Language::kEnglish) + " " +
                *t.StatementText("P501", Language::kEnglish));
  EXPECT_FALSE(t.StatementText("P210+P999", Language::kEnglish).has_value());
}

TEST(ReferenceTablesTest, HazardStatementTableIsWellFormed) {
  const std::vector<HazardStatementRow>& rows = HazardStatementRows();
  EXPECT_GE(rows.size(), 90u);
  std::set<std::string> codes;
  for (const HazardStatementRow& row : rows) {
    EXPECT_TRUE(codes.insert(row.code).second) << row.code << " twice";
    EXPECT_FALSE(row.zh.empty()) << row.code;
    EXPECT_FALSE(row.en.empty()) << row.code;
  }
}

TEST(ReferenceTablesTest, SourcesSayWhatIsUnverified) {
  for (const TableSource& s : ShippedReferenceTables().Sources()) {
    EXPECT_FALSE(s.source.empty()) << s.table;
    EXPECT_FALSE(s.verified) << s.table;
  }
}

}  // namespace
}  // namespace chemledger::reference
