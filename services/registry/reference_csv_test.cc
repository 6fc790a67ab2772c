#include "services/registry/reference_csv.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chemledger::registry {
namespace {

std::vector<std::string> ProblemTexts(const CatalogueCsv& csv) {
  std::vector<std::string> texts;
  for (const CsvProblem& p : csv.problems) texts.push_back(p.ToString());
  return texts;
}

TEST(ReadCsvTest, QuotedFieldsCarryCommasQuotesAndLineBreaks) {
  absl::StatusOr<std::vector<CsvRecord>> records =
      ReadCsv("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n,,\n");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].line, 1u);
  EXPECT_EQ((*records)[1].line, 2u);
  EXPECT_EQ((*records)[1].fields, (std::vector<std::string>{"x, y", "say \"hi\"", "two\nlines"}));
  // The record after a quoted line break starts on the file's next line.
  EXPECT_EQ((*records)[2].line, 4u);
  EXPECT_EQ((*records)[2].fields, (std::vector<std::string>{"", "", ""}));
}

TEST(ReadCsvTest, MalformedTextIsRefusedNamingTheLine) {
  const struct {
    std::string text;
    std::string says;
  } cases[] = {
      {"\xEF\xBB\xBF" "a,b\n", "line 1: starts with a byte-order mark"},
      {"a,b\nx,\"open\n", "line 2: a quoted field is not closed"},
      {"a,b\nx,y\"z\n", "line 2: has a quote inside an unquoted field"},
      {"a,b\nx,\"y\"z\n", "line 2: has text after a closing quote"},
      {"a,b\nx,\xff\n", "line 2: is not UTF-8"},
      {"a,b\nx,\xc0\xaf\n", "line 2: is not UTF-8"},  // an overlong '/'
      {"a,b\rx,y\n", "line 1: has a carriage return"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<std::vector<CsvRecord>> records = ReadCsv(c.text);
    ASSERT_FALSE(records.ok()) << c.says;
    EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(records.status().message().find(c.says), std::string::npos) << records.status();
  }
}

constexpr char kHeader[] = "catalogue_no,name_zh,name_en,cas,un,hazard_class,packing_group,flags\n";

TEST(ReadCatalogueCsvTest, ReadsRowsWithOptionalTransportColumnsAndRepeatedCas) {
  const std::string text = std::string(kHeader) +
                           "1,甲醇,Methanol,67-56-1,1230,3,II,重点监管\n"
                           "2,\"氰化钠\",\"Sodium cyanide, solid\",143-33-9,,,,剧毒;重点监管\n"
                           "3,某溶液,,67-56-1,,,,-\r\n"
                           "4,氨,,7664-41-7,1005,2.3,-,\n";
  CatalogueCsv csv = ReadCatalogueCsv(text);
  ASSERT_TRUE(csv.problems.empty()) << ProblemTexts(csv)[0];
  ASSERT_EQ(csv.rows.size(), 4u);
  EXPECT_EQ(csv.rows[0].un_number, "1230");
  EXPECT_EQ(csv.rows[0].packing_group, "II");
  EXPECT_EQ(csv.rows[1].name_en, "Sodium cyanide, solid");
  EXPECT_EQ(csv.rows[1].un_number, "");
  EXPECT_EQ(csv.rows[1].flags, kHighlyToxic | kKeySupervised);
  EXPECT_EQ(csv.rows[2].cas, "67-56-1");
  EXPECT_EQ(csv.rows[2].flags, 0);
  EXPECT_EQ(csv.rows[3].hazard_class, "2.3");
  EXPECT_EQ(csv.rows[3].packing_group, "");
}

TEST(ReadCatalogueCsvTest, EveryProblemIsNamedByLineAndFieldAndNoRowIsKept) {
  const std::string text = std::string(kHeader) +
                           "1,甲醇,Methanol,67-56-1,1230,3,II,重点监管\n"
                           "1,乙醇,Ethanol,64-17-5,1170,3,II,\n"      // repeated number
                           "3,,x,64-17-6,12,3.5,IV,剧毒;有毒\n"       // five problems
                           "4,氨,,7664-41-7,1005,2.3,II,\n"           // class 2 has no group
                           "5,苯,,71-43-2,1114,,II,\n"                // group without class
                           "6,x,y\n"                                  // too few fields
                           "2829,x,,,,,,\n";                          // beyond the 目录
  CatalogueCsv csv = ReadCatalogueCsv(text);
  EXPECT_TRUE(csv.rows.empty());
  EXPECT_EQ(ProblemTexts(csv),
            (std::vector<std::string>{
                "line 3, field catalogue_no: 1 is also on line 2",
                "line 4, field name_zh: is empty (the 目录's name is required)",
                "line 4, field cas: '64-17-6' has check digit 6, expected 5 (CAS Registry Number)",
                "line 4, field un: '12' must be exactly 4 digits (UN number, e.g. 1942)",
                "line 4, field hazard_class: '3.5' is not a GB 6944 class or division",
                "line 4, field packing_group: 'IV' is not I, II, III or -",
                "line 4, field flags: unknown control flag '有毒' (known: 剧毒, 易制爆, 易制毒, "
                "重点监管, 高危)",
                "line 5, field packing_group: class 2.3 has no packing group: -",
                "line 6, field packing_group: is given without a hazard_class",
                "line 7: has 3 fields, not 8",
                "line 8, field catalogue_no: 2829 is out of range; 危险化学品目录 (2015) has "
                "entries 1 to 2828",
            }));
}

TEST(ReadCatalogueCsvTest, AWrongHeaderOrAnOversizedFileIsOneProblem) {
  CatalogueCsv wrong = ReadCatalogueCsv("no,name\n1,x\n");
  ASSERT_EQ(wrong.problems.size(), 1u);
  EXPECT_EQ(wrong.problems[0].line, 1u);
  EXPECT_NE(wrong.problems[0].message.find(std::string(kCatalogueCsvHeader)), std::string::npos);
  CatalogueCsv empty = ReadCatalogueCsv("");
  ASSERT_EQ(empty.problems.size(), 1u);
  CatalogueCsv big = ReadCatalogueCsv(std::string(kMaxReferenceCsvBytes + 1, 'x'));
  ASSERT_EQ(big.problems.size(), 1u);
  EXPECT_NE(big.problems[0].message.find("bytes"), std::string::npos);
}

// The thresholds of GB 18218 (a test's own values, not the standard's):
// named chemicals by CAS number and hazard categories by code, Q in tonnes
// as kilograms, β in hundredths (empty: 1).
TEST(ReadThresholdCsvTest, RowsByCasOrCategoryWithQuantitiesInKilograms) {
  const ThresholdCsv csv = ReadThresholdCsv(
      "kind,key,name_zh,threshold_t,beta\n"
      "cas,67-56-1,甲醇,500,\n"
      "category,J1,测试类别,0.125,1.5\n");
  ASSERT_TRUE(csv.problems.empty()) << csv.problems[0].ToString();
  ASSERT_EQ(csv.rows.size(), 2u);
  EXPECT_EQ(csv.rows[0].kind, ThresholdEntry::kSubstance);
  EXPECT_EQ(csv.rows[0].key, "67-56-1");
  EXPECT_EQ(csv.rows[0].threshold_kg, 500000u);
  EXPECT_EQ(csv.rows[0].beta_hundredths, 100u);
  EXPECT_EQ(csv.rows[1].kind, ThresholdEntry::kCategory);
  EXPECT_EQ(csv.rows[1].threshold_kg, 125u);
  EXPECT_EQ(csv.rows[1].beta_hundredths, 150u);
}

TEST(ReadThresholdCsvTest, EveryProblemIsNamedAndNoRowIsKept) {
  const ThresholdCsv csv = ReadThresholdCsv(
      "kind,key,name_zh,threshold_t,beta\n"
      "cas,67-56-2,甲醇,500,\n"            // line 2: check digit
      "substance,X,测试,1,\n"              // line 3: kind
      "category,J 1,,0,101\n"              // line 4: key, name, Q, beta
      "cas,7732-18-5,水,1.0005,\n"         // line 5: too many decimals
      "cas,67-56-1,甲醇,500,1\n"           // line 6: fine
      "cas,67-56-1,甲醇,400,1\n"           // line 7: repeated
      "category,J1,x\n"                    // line 8: fields
      "category,J2,x,1000000.5,100.5\n");  // line 9: over the most by a fraction
  std::vector<std::string> texts;
  for (const CsvProblem& p : csv.problems) texts.push_back(p.ToString());
  EXPECT_TRUE(csv.rows.empty());
  const std::vector<std::string> expected = {
      "line 2, field key: ",
      "line 3, field kind: 'substance' is not cas or category",
      "line 4, field key: ",
      "line 4, field name_zh: ",
      "line 4, field threshold_t: '0'",
      "line 4, field beta: '101'",
      "line 5, field threshold_t: '1.0005'",
      "line 7, field key: cas 67-56-1 is also on line 6",
      "line 8: has 3 fields, not 5",
      "line 9, field threshold_t: '1000000.5'",
      "line 9, field beta: '100.5'"};
  ASSERT_EQ(texts.size(), expected.size()) << ::testing::PrintToString(texts);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(texts[i].rfind(expected[i], 0), 0u) << texts[i] << " / " << expected[i];
  }
  EXPECT_EQ(ReadThresholdCsv("kind,key\n").problems.at(0).ToString(),
            "line 1: the header is \"kind,key\", not \"kind,key,name_zh,threshold_t,beta\"");
  // Imports of epochs 6 and 7 bounded the whole units only: read as then.
  const ThresholdCsv as_then =
      ReadThresholdCsv("kind,key,name_zh,threshold_t,beta\ncategory,J2,x,1000000.5,100.5\n", false);
  EXPECT_TRUE(as_then.problems.empty()) << as_then.problems.front().ToString();
  ASSERT_EQ(as_then.rows.size(), 1u);
  EXPECT_EQ(as_then.rows[0].threshold_kg, 1000000500u);
  EXPECT_EQ(as_then.rows[0].beta_hundredths, 10050u);
  // A problem of the file as a whole names its line once.
  EXPECT_EQ(
      ReadThresholdCsv("kind,key,name_zh,threshold_t,beta\ncas,\"open\n").problems.at(0).ToString(),
      "line 2: a quoted field is not closed before the end");
}

std::vector<std::string> Texts(const std::vector<CsvProblem>& problems) {
  std::vector<std::string> texts;
  for (const CsvProblem& p : problems) texts.push_back(p.ToString());
  return texts;
}

void ExpectProblems(const std::vector<CsvProblem>& problems,
                    const std::vector<std::string>& expected) {
  const std::vector<std::string> texts = Texts(problems);
  ASSERT_EQ(texts.size(), expected.size()) << ::testing::PrintToString(texts);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(texts[i].rfind(expected[i], 0), 0u) << texts[i] << " / " << expected[i];
  }
}

TEST(ReadControlListCsvTest, OneRowPerCasNumber) {
  const ControlListCsv good = ReadControlListCsv("cas,name_zh,note\n67-56-1,甲醇,第一批\n");
  ASSERT_TRUE(good.problems.empty()) << ::testing::PrintToString(Texts(good.problems));
  ASSERT_EQ(good.rows.size(), 1u);
  EXPECT_EQ(good.rows[0].note, "第一批");
  const ControlListCsv bad =
      ReadControlListCsv("cas,name_zh,note\n67-56-2,甲醇,\n67-56-1,,\n67-56-1,甲醇,\n");
  EXPECT_TRUE(bad.rows.empty());
  ExpectProblems(bad.problems, {"line 2, field cas: ", "line 3, field name_zh: ",
                                "line 4, field cas: 67-56-1 is also on line 3"});
}

TEST(ReadStatementCsvTest, CodesOfBothKindsAndAtLeastOneText) {
  const TextCsv good =
      ReadStatementCsv("code,text_zh,text_en\nH225,甲,\nEUH014,,b\nP301+P310,丙,c\n");
  ASSERT_TRUE(good.problems.empty()) << ::testing::PrintToString(Texts(good.problems));
  ASSERT_EQ(good.rows.size(), 3u);
  EXPECT_EQ(good.rows[1].key, "EUH014");
  const TextCsv bad = ReadStatementCsv("code,text_zh,text_en\nH22,甲,\nP210,,\nP210,乙,\n");
  EXPECT_TRUE(bad.rows.empty());
  ExpectProblems(bad.problems, {"line 2, field code: 'H22' is not a GHS statement code",
                                "line 3: text_zh and text_en are both empty",
                                "line 4, field code: P210 is also on line 3"});
  const TextCsv emergency = ReadEmergencyCsv("un,text_zh,text_en\n1230,甲,\n123,乙,\n");
  ExpectProblems(emergency.problems, {"line 3, field un: '123' is not a UN number"});
}

TEST(ReadSegregationCsvTest, UnorderedPairsOfClassesOnce) {
  const SegregationCsv good =
      ReadSegregationCsv("class_a,class_b,same_site,requirement\n5.1,3,no,甲\n2,8,yes,乙\n");
  ASSERT_TRUE(good.problems.empty()) << ::testing::PrintToString(Texts(good.problems));
  ASSERT_EQ(good.rows.size(), 2u);
  EXPECT_EQ(good.rows[0].class_a, "3");
  EXPECT_EQ(good.rows[0].class_b, "5.1");
  EXPECT_FALSE(good.rows[0].same_site_allowed);
  const SegregationCsv bad = ReadSegregationCsv(
      "class_a,class_b,same_site,requirement\n3,5.9,no,甲\n3,5.1,maybe,\n5.1,3,no,乙\n3,5.1,no,"
      "丙\n");
  EXPECT_TRUE(bad.rows.empty());
  ExpectProblems(bad.problems, {"line 2, field class_b: '5.9'", "line 3, field same_site: 'maybe'",
                                "line 3, field requirement: ",
                                "line 4, field class_b: 3 and 5.1 are also on line 3",
                                "line 5, field class_b: 3 and 5.1 are also on line 3"});
}

}  // namespace
}  // namespace chemledger::registry
