// EPCIS export: the documents of histories that go through every business
// step the fixture can make validate against GS1's EPCIS 2.0 JSON Schema
// (third_party/gs1_epcis, with tests/epcis/validate_epcis.js on Node and
// ajv) and expand with GS1's JSON-LD context in safe mode (jsonld); GS1's
// own examples pass the same checks, and a broken document and one with a
// broken context do not (so the checks can fail).

#include "services/audit/epcis.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/audit/history_bundle.h"
#include "services/audit/query_bundle.h"
#include "services/ledger/lifecycle_testing.h"
#include "tests/subprocess.h"

namespace chemledger::audit {
namespace {

using namespace ledger::lifecycle_testing;  // NOLINT: the fixture and its parties

class EpcisTest : public LifecycleFixture {
 protected:
  EpcisTest()
      : signer_(*crypto::NoteSigner::Create("epcis.test/log", crypto::SigningKey::Generate())) {}

  // Writes the EPCIS document of `code`'s history; its path.
  std::string Export(const std::string& code, const std::string& name) {
    absl::StatusOr<v1::HistoryBundle> bundle = BuildHistoryBundle(*t_->snapshot(), *notary_, code, 0);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    absl::StatusOr<std::string> doc = EpcisDocumentOf(*bundle, absl::Now());
    EXPECT_TRUE(doc.ok()) << doc.status();
    const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    const std::string path =
        absl::StrCat(dir != nullptr ? dir : ::testing::TempDir(), "/", name, ".jsonld");
    std::ofstream(path) << *doc;
    documents_.push_back(*doc);
    return path;
  }

  // Runs the validator over `files`: its exit status and output.
  std::pair<int, std::string> Validate(const std::vector<std::string>& files) {
    std::string command = absl::StrCat(
        "NODE_PATH=/usr/local/share/chemledger/browser-tests/node_modules exec node '",
        testing::RunfilePath("tests/epcis/validate_epcis.js"), "' '",
        testing::RunfilePath("third_party/gs1_epcis/EPCIS-JSON-Schema.json"), "' '",
        testing::RunfilePath("third_party/gs1_epcis/epcis-context.jsonld"), "'");
    for (const std::string& f : files) absl::StrAppend(&command, " '", f, "'");
    testing::Subprocess node;
    EXPECT_TRUE(node.Start({"/bin/sh", "-c", command + " 2>&1"}).ok());
    std::string out;
    bool eof = false;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!eof && absl::Now() < deadline) {
      for (const std::string& l : node.ReadLines(deadline, &eof)) absl::StrAppend(&out, l, "\n");
    }
    absl::StatusOr<int> status = node.Wait();
    return {status.ok() && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, out};
  }

  crypto::NoteSigner signer_;
  const std::unique_ptr<notary::LedgerNotary> notary_ = notary::NewLocalNotary(&signer_);
  std::vector<std::string> documents_;
};

TEST_F(EpcisTest, EveryStepExportsToAValidEpcisDocument) {
  Commission({1, 2, 3, 4, 5, 6});
  // Code 1: stored, used, shipped and received (a waybill), held and
  // released, packed on a pallet and unpacked.
  Ok(producer_, Event(v1::STORING, kProducer, {Code(1)}));
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(1500);
  Ok(producer_, use);
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  v1::Event hold = Event(v1::HOLDING, kWarehouse, {Code(1)});
  hold.set_reason("awaiting inspection");
  Ok(warehouse_, hold);
  v1::Event release = Event(v1::RELEASING, kWarehouse, {Code(1)});
  release.set_reason("inspected");
  Ok(warehouse_, release);
  v1::Event pack = Event(v1::PACKING, kWarehouse, {Code(1)});
  pack.set_parent_code(absl::StrCat(kWarehouse, ".LU.P1"));
  Ok(warehouse_, pack);
  v1::Event unpack = Event(v1::UNPACKING, kWarehouse, {Code(1)});
  unpack.set_parent_code(absl::StrCat(kWarehouse, ".LU.P1"));
  Ok(warehouse_, unpack);
  // Code 2: lost and found; code 3: voided; code 4 at a site whose name
  // needs escaping in a URI.
  v1::Event lose = Event(v1::LOSS_REPORT, kProducer, {Code(2)});
  lose.set_reason("missing at stock-take");
  Ok(producer_, lose);
  v1::Event found = Event(v1::FOUND, kProducer, {Code(2)});
  found.set_reason("behind the racks");
  Ok(producer_, found);
  v1::Event voided = Event(v1::VOIDING, kProducer, {Code(3)});
  voided.set_reason("misprinted");
  Ok(producer_, voided);
  v1::Event store = Event(v1::STORING, kProducer, {Code(4)});
  store.mutable_location()->set_site("仓库 3/东区 #2");
  Ok(producer_, store);
  // ... then stored at the right one, and the first declared an error.
  v1::Event store_again = Event(v1::STORING, kProducer, {Code(4)});
  Ok(producer_, store_again);
  v1::Event wrong = Event(v1::ERROR_DECLARATION, kProducer, {});
  wrong.set_corrects_event_id(store_again.event_id());
  wrong.set_reason("scanned at the wrong bay");
  Ok(producer_, wrong);
  // Code 5: declared hazardous waste, with its 名录 code.
  v1::Event waste = Event(v1::WASTE_DECLARING, kProducer, {Code(5)});
  waste.set_waste_code("900-041-49");
  Ok(producer_, waste);

  const std::vector<std::string> files = {Export(Code(1), "code1"), Export(Code(2), "code2"),
                                          Export(Code(3), "code3"), Export(Code(4), "code4"),
                                          Export(Code(5), "code5")};
  // What the mapping says, in the documents themselves.
  EXPECT_NE(documents_[0].find("\"bizStep\": \"shipping\""), std::string::npos) << documents_[0];
  EXPECT_NE(documents_[0].find("\"type\": \"bol\""), std::string::npos);
  EXPECT_NE(documents_[0].find("\"type\": \"AggregationEvent\""), std::string::npos);
  EXPECT_NE(documents_[0].find("\"disposition\": \"partially_dispensed\""), std::string::npos);
  EXPECT_NE(documents_[0].find("\"cl:quantity\": \"1.500\""), std::string::npos);
  EXPECT_NE(documents_[0].find("\"eventTimeZoneOffset\": \"+08:00\""), std::string::npos);
  EXPECT_NE(documents_[0].find("ni:///sha-256;"), std::string::npos);
  EXPECT_NE(documents_[2].find("\"disposition\": \"inactive\""), std::string::npos);
  EXPECT_NE(documents_[3].find("%E4%BB%93%E5%BA%93%203%2F"), std::string::npos) << documents_[3];
  // The event declared an error carries EPCIS's errorDeclaration (it was
  // undone: it did not occur), naming the declaration; no other does.
  {
    google::protobuf::Struct doc;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(documents_[3], &doc).ok());
    int declared = 0;
    for (const auto& event : doc.fields()
                                 .at("epcisBody")
                                 .struct_value()
                                 .fields()
                                 .at("eventList")
                                 .list_value()
                                 .values()) {
      const auto& fields = event.struct_value().fields();
      auto it = fields.find("errorDeclaration");
      if (it == fields.end()) continue;
      ++declared;
      EXPECT_EQ(fields.at("cl:eventId").string_value(), store_again.event_id()) << documents_[3];
      const auto& declaration = it->second.struct_value().fields();
      EXPECT_EQ(declaration.at("reason").string_value(), "did_not_occur");
      EXPECT_EQ(declaration.at("cl:reason").string_value(), "scanned at the wrong bay");
      EXPECT_TRUE(
          absl::StartsWith(declaration.at("cl:declaredBy").string_value(), "ni:///sha-256;"));
      EXPECT_FALSE(declaration.at("declarationTime").string_value().empty());
    }
    EXPECT_EQ(declared, 1) << documents_[3];
  }
  EXPECT_NE(documents_[4].find("\"cl:wasteCode\": \"900-041-49\""), std::string::npos)
      << documents_[4];
  EXPECT_NE(documents_[4].find("\"disposition\": \"non_sellable_other\""), std::string::npos);

  auto [status, out] = Validate(files);
  EXPECT_EQ(status, 0) << out;
  for (const std::string& f : files) EXPECT_NE(out.find("valid " + f), std::string::npos) << out;

  // The validator accepts GS1's examples and refuses a broken document.
  std::vector<std::string> examples;
  for (const char* name : {"Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.3-AggregationEvent.jsonld",
                           "Example_9.6.4-TransformationEvent.jsonld"}) {
    examples.push_back(testing::RunfilePath(absl::StrCat("third_party/gs1_epcis/examples/", name)));
  }
  std::tie(status, out) = Validate(examples);
  EXPECT_EQ(status, 0) << out;
  std::string broken = documents_[0];
  broken.replace(broken.find("\"bizStep\": \"shipping\""), 21, "\"bizStep\": \"Shipping\"");
  const std::string broken_file = ::testing::TempDir() + "/broken.jsonld";
  std::ofstream(broken_file) << broken;
  std::tie(status, out) = Validate({broken_file});
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("invalid " + broken_file + ": schema"), std::string::npos) << out;
  // A context that is not JSON-LD (the cl: prefix mapped to a number)
  // passes the schema (a context is any object there) and fails the
  // expansion.
  std::string undefined = documents_[1];
  const size_t prefix = undefined.find("\"urn:chemledger:epcis:\"");
  ASSERT_NE(prefix, std::string::npos) << undefined;
  undefined.replace(prefix, 23, "5");
  const std::string undefined_file = ::testing::TempDir() + "/bad-context.jsonld";
  std::ofstream(undefined_file) << undefined;
  std::tie(status, out) = Validate({undefined_file});
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("invalid " + undefined_file + ": JSON-LD"), std::string::npos) << out;
}

// A query's bundle (two enterprises' events, error declarations named per
// enterprise), verified, then written as EPCIS as chemaudit epcis does: the
// document validates too.
TEST_F(EpcisTest, AQuerysExportIsAValidEpcisDocument) {
  Commission({1, 2});
  Ok(producer_, Event(v1::STORING, kProducer, {Code(1)}));
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(2)});
  Ok(warehouse_, Event(v1::STORING, kWarehouse, {Code(2)}));
  v1::ExportEventsRequest request;  // every event, both enterprises
  std::string file;
  ASSERT_TRUE(ExportQueryBundle(*t_->snapshot(), ActorOf(regulator_), *notary_,
                                api::TodayInChina(), request,
                                [&](const v1::QueryBundlePart& part) {
                                  file += FramedPart(part.SerializeAsString());
                                  return true;
                                })
                  .ok());
  v1::HistoryBundle events;  // what chemaudit epcis hands the mapping
  QueryBundleVerifier verifier(signer_.verifier(), std::nullopt,
                               [&](uint64_t index, const std::string& entry) {
                                 v1::ProvenEntry* e = events.add_events();
                                 e->set_log_index(index);
                                 e->set_entry_bytes(entry);
                               });
  std::istringstream in(file);
  while (true) {
    absl::StatusOr<std::optional<std::string>> part = ReadFramedPart(in);
    ASSERT_TRUE(part.ok()) << part.status();
    if (!*part) break;
    if (events.events_size() == 0 && !events.has_checkpoint()) {
      v1::QueryBundlePart header;
      ASSERT_TRUE(header.ParseFromString(**part));
      *events.mutable_checkpoint() = header.header().checkpoint();
    }
    ASSERT_TRUE(verifier.Add(**part).ok());
  }
  ASSERT_TRUE(verifier.Finish().ok());
  ASSERT_GE(events.events_size(), 5);
  absl::StatusOr<std::string> doc = EpcisDocumentOf(events, absl::Now());
  ASSERT_TRUE(doc.ok()) << doc.status();
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string path =
      absl::StrCat(dir != nullptr ? dir : ::testing::TempDir(), "/query.jsonld");
  std::ofstream(path) << *doc;
  EXPECT_NE(doc->find(kWarehouse), std::string::npos);
  auto [status, out] = Validate({path});
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("valid " + path), std::string::npos) << out;
}

}  // namespace
}  // namespace chemledger::audit
