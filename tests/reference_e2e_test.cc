// End to end, reference tables (docs/reference-data.md): a real chemledgerd
// (tests/e2e_server.h), the operator's chemctl, real gRPC on loopback, real
// LevelDB on disk. A catalogue is imported as a signed registry entry with
// its source and hash; a malformed file changes nothing and names its row
// (whether chemctl stops it here or a client sends it anyway); from its
// entry on, a version governs product registrations, and a later version
// takes over from its own entry; `chemledgerd check` rebuilds every entry
// under the version of its time; a restarted server serves the same. The
// tables are this test's own, not the 目录's.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/key_files.h"
#include "crypto/label.h"
#include "crypto/sha256.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "services/registry/registry_testing.h"
#include "tests/e2e_server.h"
#include "tests/subprocess.h"

namespace chemledger {
namespace {

constexpr char kHeader[] = "catalogue_no,name_zh,name_en,cas,un,hazard_class,packing_group,flags\n";

class ReferenceE2eTest : public testing::ChemledgerdE2eTest {
 protected:
  std::string WriteCsv(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // chemctl with the registry's server flags; its exit code and output.
  std::pair<int, std::string> Chemctl(const std::string& args) {
    return RunShell(absl::StrCat("exec '", testing::RunfilePath("tools/chemctl/chemctl"), "' ",
                                 args, " ", ServerFlags("chemledger.v1.RegistryService"), " 2>&1"));
  }
  // chemctl reference import of `csv_path` as `version` of `table`
  // (chemctl's --table name), with this test's source.
  std::pair<int, std::string> Import(const std::string& version, const std::string& csv_path,
                                     const std::string& table = "catalogue") {
    return Chemctl(
        absl::StrCat("reference import --table ", table, " --version ", version,
                     " --title '测试目录' --issuer 'ChemLedger tests' --issued-on 2026-11-01"
                     " --document-number TEST-",
                     version, " --note 'a table of this test' --key '", dir_, "/admin-cli.key' '",
                     csv_path, "'"));
  }
  v1::ListReferenceTablesResponse ListTables() {
    v1::ListReferenceTablesResponse response;
    grpc::ClientContext context;
    grpc::Status status =
        v1::RegistryService::NewStub(ChannelFor(api::kListReferenceTablesMethod))
            ->ListReferenceTables(&context, v1::ListReferenceTablesRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  static v1::Product Cyanide(const std::string& number) {
    v1::Product p = registry::testing::ExampleMethanol(kAcme, number);
    p.set_name_zh("测试氰化物");
    p.set_name_en("Test cyanide");
    p.set_cas("7732-18-5");
    p.set_un_number("1689");
    p.set_hazard_class("6.1");
    p.set_packing_group("I");
    p.set_catalogue_number(1);
    p.clear_control_flags();
    return p;
  }
};

// The deployment's policy with chemctl (rules epoch 17, beside the
// reference tables as a platform administrator's registry change): once
// every request must name the deployment, chemctl's own writes still go
// through (it names the deployment on every write), a request that names
// none does not, and --off lifts it.
TEST_F(ReferenceE2eTest, ChemctlRequiresRequestsToNameTheDeploymentAndLiftsIt) {
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin-cli.key", {}).ok());
  const auto policy = [&] {
    grpc::ClientContext context;
    v1::Deployment d;
    EXPECT_TRUE(registry_->GetDeployment(&context, {}, &d).ok());
    return d.require_named_requests();
  };
  auto [code, out] =
      Chemctl(absl::StrCat("registry require-named-requests --key '", dir_, "/admin-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(policy());
  v1::RegistryRequest unnamed;
  unnamed.mutable_register_enterprise()->CopyFrom(
      registry::testing::ExampleProducer(registry::testing::ExampleUscc("330100")));
  v1::SubmitResponse response;
  const grpc::Status refused = Submit(Signed(*admin_, unnamed), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << refused.error_message();
  std::tie(code, out) = Chemctl(
      absl::StrCat("registry require-named-requests --off --key '", dir_, "/admin-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_FALSE(policy());
  EXPECT_TRUE(Submit(Signed(*admin_, unnamed), &response).ok());
}

TEST_F(ReferenceE2eTest, ImportedCataloguesGovernRegistrationsFromTheirEntryOn) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin-cli.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_admin_, dir_ + "/acme-cli.key", {}).ok());

  auto [code, out] = Chemctl("reference list");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("no reference table imported"), std::string::npos) << out;
  // Before any import the compiled-in catalogue answers, and the substance
  // of this test (CAS 7732-18-5) is in no table: its declared flags stand.
  std::tie(code, out) = Chemctl("reference find 7732-18-5");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("7732-18-5: not in the compiled-in catalogue"), std::string::npos) << out;

  // A malformed file: chemctl lists every problem and sends nothing.
  const std::string bad =
      WriteCsv("bad.csv", absl::StrCat(kHeader, "1022,甲醇,Methanol,67-56-1,,,,重点监管\n",
                                       "1,测试氰化物,Test cyanide,7732-18-4,,,,剧毒\n",
                                       "2,,Nameless,,,,,易制爆\n"));
  const uint64_t before = LogSize();
  std::tie(code, out) = Import("t1", bad);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("line 3, field cas: "), std::string::npos) << out;
  EXPECT_NE(out.find("line 4, field name_zh: "), std::string::npos) << out;
  EXPECT_NE(out.find("2 problems in " + bad), std::string::npos) << out;
  EXPECT_EQ(LogSize(), before);
  // Sent anyway by a client of its own, the server refuses it whole, naming
  // the rows, and writes nothing.
  {
    std::ifstream in(bad, std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    v1::RegistryRequest r;
    v1::ReferenceTableImport* import = r.mutable_import_reference_table();
    import->set_table(v1::CATALOGUE);
    import->set_version("t1");
    import->mutable_source()->set_title("测试目录");
    import->mutable_source()->set_issuer("ChemLedger tests");
    import->mutable_source()->mutable_issued_on()->set_year(2026);
    import->mutable_source()->mutable_issued_on()->set_month(11);
    import->mutable_source()->mutable_issued_on()->set_day(1);
    import->mutable_source()->set_document_number("TEST-t1");
    import->set_content(content);
    const crypto::Sha256Digest digest = crypto::Sha256(content);
    import->set_content_sha256(
        std::string(reinterpret_cast<const char*>(digest.bytes().data()), digest.kSize));
    r.set_request_id("bad-import");
    Refused(Signed(*admin_, r), grpc::StatusCode::INVALID_ARGUMENT,
            "import_reference_table.content: 2 problems, the table is refused whole: line 3, "
            "field cas: ");
    EXPECT_EQ(LogSize(), before);
    EXPECT_EQ(ListTables().versions_size(), 0);
  }

  // Version t1, imported with chemctl by the platform administrator (an
  // enterprise's admin may not).
  const std::string t1_text = absl::StrCat(kHeader, "1022,甲醇,Methanol,67-56-1,,,,重点监管\n",
                                           "1,测试氰化物,Test cyanide,7732-18-5,,,,剧毒\n");
  const std::string t1 = WriteCsv("t1.csv", t1_text);
  std::tie(code, out) = Chemctl(
      absl::StrCat("reference import --version t1 --title x --issuer y --issued-on 2026-11-01 "
                   "--document-number z --key '",
                   dir_, "/acme-cli.key' '", t1, "'"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("may not import reference tables"), std::string::npos) << out;
  std::tie(code, out) = Import("t1", t1);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("catalogue t1 in force: 2 rows, SHA-256 " + crypto::Sha256(t1_text).ToHex()),
            std::string::npos)
      << out;
  // The file as logged, fetched back from the entry: byte for byte the one
  // imported, with its SHA-256, for anyone auditing the registry.
  {
    ASSERT_EQ(ListTables().versions_size(), 1);
    const uint64_t index = ListTables().versions(0).log_index();
    const std::string logged = dir_ + "/t1.logged.csv";
    auto [entry_code, entry_out] =
        Chemctl(absl::StrCat("registry entry ", index, " --content-out '", logged, "' --key '",
                             dir_, "/admin-cli.key'"));
    ASSERT_EQ(entry_code, 0) << entry_out;
    EXPECT_NE(entry_out.find(absl::StrCat("SHA-256 ", crypto::Sha256(t1_text).ToHex())),
              std::string::npos)
        << entry_out;
    EXPECT_NE(entry_out.find("leaf hash "), std::string::npos) << entry_out;
    std::ifstream in(logged, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
              t1_text);
    // An entry that imports nothing has no file to write.
    std::tie(entry_code, entry_out) = Chemctl(absl::StrCat(
        "registry entry 1 --content-out '", logged, "' --key '", dir_, "/admin-cli.key'"));
    EXPECT_NE(entry_code, 0) << entry_out;
    EXPECT_NE(entry_out.find("--content-out: this entry imports no reference table"),
              std::string::npos)
        << entry_out;
  }
  // Run again (a retry after a lost answer): the same request, recorded once.
  std::tie(code, out) = Import("t1", t1);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("already recorded at log index"), std::string::npos) << out;
  // Another file under a version in use is refused.
  std::tie(code, out) =
      Import("t1", WriteCsv("t1b.csv", absl::StrCat(kHeader, "1022,甲醇,Methanol,67-56-1,,,,\n")));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("catalogue t1 was imported before"), std::string::npos) << out;

  v1::ListReferenceTablesResponse tables = ListTables();
  ASSERT_EQ(tables.versions_size(), 1);
  const v1::ReferenceTableVersion& listed = tables.versions(0);
  EXPECT_EQ(listed.version(), "t1");
  EXPECT_TRUE(listed.in_force());
  EXPECT_EQ(listed.rows(), 2u);
  EXPECT_EQ(listed.source().document_number(), "TEST-t1");
  EXPECT_EQ(crypto::HexEncode(listed.content_sha256()), crypto::Sha256(t1_text).ToHex());
  // The entry at its log index holds the file, signed by the administrator.
  {
    v1::GetRegistryEntryRequest request;
    request.set_log_index(listed.log_index());
    v1::RegistryEntry entry;
    grpc::Status status = Read(*regulator_, api::kGetRegistryEntryMethod, request, &entry);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::LogEntry logged;
    ASSERT_TRUE(logged.ParseFromString(entry.entry()));
    v1::RegistryRequest r;
    ASSERT_TRUE(r.ParseFromString(logged.envelope().payload()));
    EXPECT_EQ(r.import_reference_table().content(), t1_text);
    EXPECT_EQ(logged.envelope().signatures(0).key_id(), admin_->key_id().ToString());
  }
  std::tie(code, out) = Chemctl("reference list");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("catalogue t1 (in force): 2 rows, 测试目录, ChemLedger tests TEST-t1 of "
                     "2026-11-01; log index " +
                     absl::StrCat(listed.log_index())),
            std::string::npos)
      << out;
  std::tie(code, out) = Chemctl("reference find 7732-18-5");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("7732-18-5: entry 1 测试氰化物 (Test cyanide), flags 剧毒 (catalogue t1)"),
            std::string::npos)
      << out;

  // Under t1 the test's substance must carry 剧毒.
  Refused(Signed(*acme_admin_, Product(Cyanide("CN01"))), grpc::StatusCode::INVALID_ARGUMENT,
          "product.control_flags: must include 剧毒 for CAS 7732-18-5");
  v1::Product cyanide = Cyanide("CN01");
  cyanide.add_control_flags("剧毒");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*acme_admin_, Product(cyanide)));
  // Methanol needs 重点监管 only under t1 (the compiled-in row also asks 高危).
  v1::Product methanol = registry::testing::ExampleMethanol(kAcme, "M02");
  methanol.clear_control_flags();
  methanol.add_control_flags("重点监管");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*acme_admin_, Product(methanol)));

  // Version t2 flags methanol 剧毒 too (this test's table): from its entry
  // on, a methanol product needs it; M01 and M02 stay registered.
  const std::string t2 = WriteCsv(
      "t2.csv", absl::StrCat(kHeader, "1022,甲醇,Methanol,67-56-1,1230,3,II,剧毒;重点监管\n"));
  std::tie(code, out) = Import("t2", t2);
  ASSERT_EQ(code, 0) << out;
  methanol.set_product_number("M03");
  Refused(Signed(*acme_admin_, Product(methanol)), grpc::StatusCode::INVALID_ARGUMENT,
          "product.control_flags: must include 剧毒,重点监管 for CAS 67-56-1");
  methanol.add_control_flags("剧毒");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*acme_admin_, Product(methanol)));
  tables = ListTables();
  ASSERT_EQ(tables.versions_size(), 2);
  EXPECT_FALSE(tables.versions(0).in_force());
  EXPECT_TRUE(tables.versions(1).in_force());
  EXPECT_EQ(tables.versions(1).version(), "t2");

  // Every entry rebuilds under the version of its time (M02 would fail
  // under t2, CN01 under none), and a restarted server serves the same.
  ASSERT_NO_FATAL_FAILURE(KillServer());
  std::tie(code, out) = RunChemledgerd({"check", "--data", dir_ + "/data"});
  ASSERT_EQ(code, 0) << out;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  tables = ListTables();
  ASSERT_EQ(tables.versions_size(), 2);
  EXPECT_TRUE(tables.versions(1).in_force());
  std::tie(code, out) = Chemctl("reference find 67-56-1");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("entry 1022 甲醇 (Methanol), UN 1230, class 3, flags 剧毒,重点监管 "
                     "(catalogue t2)"),
            std::string::npos)
      << out;
}

// Products outside the catalogue in force: registered with provisional
// flags that the scan page shows as such, labels issued meanwhile, listed
// for their enterprise and its regulators; a regulator of 应急管理 decides
// the flags with chemctl; a later version adds its flags to the product,
// and labels issued from then on carry them.
TEST_F(ReferenceE2eTest, ProductsOutsideTheCatalogueWaitForARegulator) {
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin-cli.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator-cli.key", {}).ok());
  // A catalogue without methanol: M01 (registered next) is in no version.
  auto [code, out] = Import(
      "t1",
      WriteCsv("t1.csv", absl::StrCat(kHeader, "1,测试氰化物,Test cyanide,143-33-9,,,,剧毒\n")));
  ASSERT_EQ(code, 0) << out;
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_admin_, dir_ + "/acme-cli.key", {}).ok());

  v1::GetProductRequest get;
  get.set_enterprise_uscc(kAcme);
  get.set_product_number("M01");
  v1::Product product;
  grpc::Status status = Read(*acme_admin_, api::kGetProductMethod, get, &product);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(product.flags_provisional());
  v1::ListPendingProductsResponse pending;
  status = Read(*regulator_, api::kListPendingProductsMethod, v1::ListPendingProductsRequest(),
                &pending);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(pending.products_size(), 1);
  EXPECT_EQ(pending.products(0).product().product_number(), "M01");
  EXPECT_EQ(pending.products(0).catalogue_version(), "t1");
  // Another enterprise's admin sees none of Acme's.
  v1::ListPendingProductsRequest acme_only;
  acme_only.set_enterprise_uscc(kAcme);
  EXPECT_EQ(Read(*other_admin_, api::kListPendingProductsMethod, acme_only, &pending).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  status = Read(*other_admin_, api::kListPendingProductsMethod, v1::ListPendingProductsRequest(),
                &pending);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(pending.products_size(), 0);
  std::tie(code, out) =
      Chemctl(absl::StrCat("registry product pending --key '", dir_, "/acme-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find(absl::StrCat(kAcme,
                                  " M01 甲醇 (CAS 67-56-1): declared 重点监管,高危, "
                                  "registered at log index ")),
            std::string::npos)
      << out;

  // Labels are issued meanwhile, and the scan page says whose the flags are.
  Issued issued = IssueM01(kAcme, *acme_admin_, "B1", 1);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_EQ(issued.labels.size(), 1u);
  {
    const std::string url = issued.labels[0].url();
    const std::string path = url.substr(url.find('/', std::string("HTTPS://").size()));
    httplib::Client client("127.0.0.1", http_port_);
    httplib::Result page = client.Get(path.c_str());
    ASSERT_TRUE(page) << httplib::to_string(page.error());
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("重点监管、高危（暂定：企业自报，待应急管理部门确认）"),
              std::string::npos)
        << page->body;
  }

  // The regulator (应急管理, national) decides; the enterprise may not.
  const std::string decide =
      absl::StrCat("registry product decide-flags ", kAcme,
                   " M01 --flags 易制毒,重点监管,高危 --reason 'test decision' ");
  std::tie(code, out) = Chemctl(absl::StrCat(decide, "--key '", dir_, "/acme-cli.key'"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("regulators of 应急管理"), std::string::npos) << out;
  std::tie(code, out) = Chemctl(absl::StrCat(decide, "--key '", dir_, "/regulator-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  status = Read(*acme_admin_, api::kGetProductMethod, get, &product);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(product.flags_provisional());
  EXPECT_EQ(absl::StrJoin(product.control_flags(), ","), "易制毒,重点监管,高危");
  status = Read(*regulator_, api::kListPendingProductsMethod, v1::ListPendingProductsRequest(),
                &pending);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(pending.products_size(), 0);

  // Version t2 lists methanol as 剧毒 (this test's table): the flag is added
  // to M01, recorded, and the labels issued after it carry it.
  std::tie(code, out) = Import(
      "t2", WriteCsv("t2.csv", absl::StrCat(kHeader, "1022,甲醇,Methanol,67-56-1,,,,剧毒\n")));
  ASSERT_EQ(code, 0) << out;
  status = Read(*acme_admin_, api::kGetProductMethod, get, &product);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(absl::StrJoin(product.control_flags(), ","), "剧毒,易制毒,重点监管,高危");
  v1::ListProductFlagChangesResponse changes;
  status = Read(*regulator_, api::kListProductFlagChangesMethod,
                v1::ListProductFlagChangesRequest(), &changes);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(changes.changes_size(), 2);
  EXPECT_EQ(changes.changes(0).decided_by(), regulator_->key_id().ToString());
  EXPECT_TRUE(changes.changes(0).was_provisional());
  EXPECT_EQ(changes.changes(1).catalogue_version(), "t2");
  EXPECT_EQ(absl::StrJoin(changes.changes(1).flags_after(), ","), "剧毒,易制毒,重点监管,高危");
  std::tie(code, out) = Chemctl(
      absl::StrCat("registry product flag-changes ", kAcme, " --key '", dir_, "/acme-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("-> 剧毒,易制毒,重点监管,高危, by catalogue t2"), std::string::npos) << out;
  EXPECT_NE(out.find("重点监管,高危 (provisional) -> 易制毒,重点监管,高危, decided by regulator " +
                     regulator_->key_id().ToString() + ": test decision"),
            std::string::npos)
      << out;

  absl::StatusOr<crypto::ParsedLabel> before = crypto::ParseLabelUrl(issued.labels[0].url());
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->claims.control_flags & crypto::kHighlyToxic, 0);
  issued = IssueM01(kAcme, *acme_admin_, "B2", 1);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  absl::StatusOr<crypto::ParsedLabel> after = crypto::ParseLabelUrl(issued.labels[0].url());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(after->claims.control_flags & crypto::kHighlyToxic, 0);

  ASSERT_NO_FATAL_FAILURE(KillServer());
  std::tie(code, out) = RunChemledgerd({"check", "--data", dir_ + "/data"});
  EXPECT_EQ(code, 0) << out;
}

// A control list (docs/reference-data.md, "The control lists") imported
// with chemctl adds its flag to the registered products it names, recorded
// as a flag change naming the list; from its entry on a registration
// without the flag is refused naming it; a malformed list changes nothing.
// The list is this test's own, not the official one.
TEST_F(ReferenceE2eTest, ControlListsAddTheirFlagsAndGovernRegistrations) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin-cli.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_admin_, dir_ + "/acme-cli.key", {}).ok());
  const auto import = [&](const std::string& version, const std::string& path) {
    return Import(version, path, "explosives-precursors");
  };
  const uint64_t before = LogSize();
  auto [code, out] = import("b1", WriteCsv("bad.csv", "cas,name_zh,note\n67-56-1,,\n"));
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("line 2, field name_zh"), std::string::npos) << out;
  EXPECT_EQ(LogSize(), before);
  std::tie(code, out) =
      import("e1", WriteCsv("e1.csv", "cas,name_zh,note\n67-56-1,甲醇,a test's own list\n"));
  ASSERT_EQ(code, 0) << out;

  v1::GetProductRequest get;
  get.set_enterprise_uscc(kAcme);
  get.set_product_number("M01");
  v1::Product product;
  grpc::Status status = Read(*acme_admin_, api::kGetProductMethod, get, &product);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(absl::StrJoin(product.control_flags(), ","), "易制爆,重点监管,高危");
  std::tie(code, out) = Chemctl(
      absl::StrCat("registry product flag-changes ", kAcme, " --key '", dir_, "/acme-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("-> 易制爆,重点监管,高危, by explosives-precursors e1"), std::string::npos)
      << out;
  std::tie(code, out) = Chemctl("reference find 67-56-1");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("67-56-1: named by explosives-precursors/e1, which set 易制爆"),
            std::string::npos)
      << out;
  ASSERT_NO_FATAL_FAILURE(
      Refused(Signed(*acme_admin_, Product(registry::testing::ExampleMethanol(kAcme, "M02"))),
              grpc::StatusCode::INVALID_ARGUMENT,
              "product.control_flags: must include 易制爆, which the control lists in force "
              "(explosives-precursors/e1) give CAS 67-56-1"));
  v1::Product m03 = registry::testing::ExampleMethanol(kAcme, "M03");
  m03.add_control_flags("易制爆");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*acme_admin_, Product(m03)));
  // New labels carry the flag.
  Issued issued = IssueM01(kAcme, *acme_admin_, "CL", 1);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  absl::StatusOr<crypto::ParsedLabel> label = crypto::ParseLabelUrl(issued.labels[0].url());
  ASSERT_TRUE(label.ok()) << label.status();
  EXPECT_NE(label->claims.control_flags & crypto::kExplosivesPrecursor, 0);

  ASSERT_NO_FATAL_FAILURE(KillServer());
  std::tie(code, out) = RunChemledgerd({"check", "--data", dir_ + "/data"});
  EXPECT_EQ(code, 0) << out;
}

// The tables the pages read are imports too: once a statement texts version
// is in force, a label's scan page shows its text (this test's own, marked
// as such), and the compiled-in texts stand where it gives none.
TEST_F(ReferenceE2eTest, ScanPagesReadTheStatementTextsInForce) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin-cli.key", {}).ok());
  Issued issued = IssueM01(kAcme, *acme_admin_, "ST", 1);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string url = issued.labels[0].url();
  const std::string path = url.substr(url.find('/', std::string("HTTPS://").size()));
  const auto page = [&]() {
    httplib::Client client("127.0.0.1", http_port_);
    httplib::Result got = client.Get(path.c_str());
    EXPECT_TRUE(got) << httplib::to_string(got.error());
    return got ? got->body : std::string();
  };
  const std::string test_text = "测试文本：本测试自拟的H225文本";
  EXPECT_EQ(page().find(test_text), std::string::npos);
  // The printed label (chemctl label print) says what the page says.
  const auto printed = [&]() {
    const std::string svg = absl::StrCat(dir_, "/label.svg");
    auto [code, out] = Chemctl(absl::StrCat("label print '", url, "' --svg '", svg, "' --key '",
                                            dir_, "/admin-cli.key'"));
    EXPECT_EQ(code, 0) << out;
    std::ifstream in(svg);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  EXPECT_EQ(printed().find("测试文本"), std::string::npos);
  auto [code, out] = Import(
      "s1",
      WriteCsv("statements.csv", absl::StrCat("code,text_zh,text_en\nH225,", test_text, ",\n")),
      "statements");
  ASSERT_EQ(code, 0) << out;
  const std::string body = page();
  EXPECT_NE(body.find(test_text), std::string::npos) << body;
  const std::string label = printed();
  EXPECT_NE(label.find("测试文本"), std::string::npos) << label;
  // H301 is not in it: the compiled-in text, or the page says it has none.
  EXPECT_NE(body.find("<b>H301</b>"), std::string::npos) << body;
}

// 重大危险源 identified live (docs/major-hazards.md): methanol stored at a
// registered site until S = Σ q/Q crosses 1 under an imported thresholds
// table (this test's own values); the alert entry appears once, the grade is
// the standard's formula by hand; moving goods out brings the site back
// under (an alert of its own); enterprise and regulator read it over gRPC
// and chemaudit; a restart and `check` agree.
TEST_F(ReferenceE2eTest, SitesCrossingOneAreAlertedOnceAndGradedByTheFormula) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  ASSERT_TRUE(crypto::SaveSigningKey(*admin_, dir_ + "/admin-cli.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator-cli.key", {}).ok());
  // Q(methanol) = 50 kg, β = 2 (not the standard's values).
  const std::string csv =
      WriteCsv("thresholds.csv", "kind,key,name_zh,threshold_t,beta\ncas,67-56-1,甲醇,0.05,2\n");
  auto [code, out] = Import("e2e-1", csv, "thresholds");
  ASSERT_EQ(code, 0) << out;
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_admin_, dir_ + "/acme-cli.key", {}).ok());
  // WH-1 with α = 2.0 by the enterprise's administrator with chemctl; WH-2
  // without α.
  v1::Site wh1_site = registry::testing::ExampleSite(kAcme, "WH-1");
  wh1_site.set_exposure_correction_tenths(20);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(wh1_site, &json).ok());
  std::tie(code, out) =
      Chemctl(absl::StrCat("registry site add --json '", WriteCsv("wh1.json", json), "' --key '",
                           dir_, "/acme-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  v1::RegistryRequest wh2_site;
  wh2_site.set_request_id("site-WH-2");
  *wh2_site.mutable_register_site() = registry::testing::ExampleSite(kAcme, "WH-2");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*acme_admin_, wh2_site));
  Issued issued = IssueM01(kAcme, *acme_admin_, "MH", 4);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_EQ(issued.labels.size(), 4u);
  int n = 0;
  const auto at = [&](v1::BusinessStep step, const std::string& code, const std::string& site) {
    v1::Event e = AcmeEvent(step, code, ++n, "mh-");
    e.mutable_location()->set_site(site);
    grpc::Status status = AppendEvent(*acme_operator_, e);
    EXPECT_TRUE(status.ok()) << status.error_message();
  };
  const auto site_load = [&](const crypto::SigningKey& reader, const std::string& site) {
    v1::GetSiteLoadRequest get;
    get.set_enterprise_uscc(kAcme);
    get.set_site(site);
    v1::SiteLoad load;
    grpc::Status status = Read(reader, api::kGetSiteLoadMethod, get, &load);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return load.major_hazard();
  };
  const auto alerts = [&]() {
    v1::ListAnomaliesRequest list;
    list.add_kinds(v1::MAJOR_HAZARD_ALERT);
    v1::Anomalies anomalies;
    grpc::Status status = Read(*regulator_, api::kListAnomaliesMethod, list, &anomalies);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return std::vector<v1::Anomaly>(anomalies.anomalies().begin(), anomalies.anomalies().end());
  };
  // The recorder writes alerts after their events: wait for `count`.
  const auto await_alerts = [&](size_t count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::vector<v1::Anomaly> found = alerts();
    while (found.size() < count && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      found = alerts();
    }
    return found;
  };

  at(v1::COMMISSIONING, issued.labels[0].code(), "WH-1");
  v1::MajorHazardAssessment wh1 = site_load(*acme_admin_, "WH-1");
  EXPECT_EQ(wh1.thresholds_version(), "e2e-1");
  EXPECT_EQ(wh1.sum_billionths(), 500000000u);  // 25 kg / 50 kg
  EXPECT_FALSE(wh1.major_hazard());
  at(v1::COMMISSIONING, issued.labels[1].code(), "WH-1");
  // By hand: S = 50/50 = 1; R = α Σ β q/Q = 2.0 × 2 × 1 = 4: 四级.
  const double s = (25.0 + 25.0) / 50.0, r = 2.0 * (2 * s);
  wh1 = site_load(*regulator_, "WH-1");
  EXPECT_TRUE(wh1.major_hazard());
  EXPECT_EQ(wh1.sum_billionths(), static_cast<uint64_t>(s * 1e9));
  EXPECT_EQ(wh1.r_billionths(), static_cast<uint64_t>(r * 1e9));
  EXPECT_EQ(wh1.grade(), v1::GRADE_4);
  std::vector<v1::Anomaly> found = await_alerts(1);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].enterprise_uscc(), kAcme);
  EXPECT_EQ(found[0].major_hazard_alert().site_id(), "WH-1");
  EXPECT_TRUE(found[0].major_hazard_alert().major_hazard());
  EXPECT_EQ(found[0].major_hazard_alert().grade(), v1::GRADE_4);
  EXPECT_EQ(found[0].major_hazard_alert().r_billionths(), static_cast<uint64_t>(r * 1e9));
  // More of it, the same grade: no second alert.
  at(v1::COMMISSIONING, issued.labels[2].code(), "WH-1");
  at(v1::COMMISSIONING, issued.labels[3].code(), "WH-1");
  EXPECT_EQ(site_load(*acme_admin_, "WH-1").r_billionths(), 8000000000u);  // 2.0 × 2 × 2
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(alerts().size(), 1u);
  // The enterprise's own view with chemctl: the shares.
  std::tie(code, out) =
      Chemctl(absl::StrCat("registry site load ", kAcme, " WH-1 --key '", dir_, "/acme-cli.key'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"ratio_billionths\": \"2000000000\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"grade\": \"GRADE_4\""), std::string::npos) << out;
  v1::MajorHazardSites sites;
  grpc::Status status =
      Read(*regulator_, api::kListMajorHazardSitesMethod, v1::MajorHazardSitesQuery(), &sites);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(sites.sites_size(), 1);
  EXPECT_EQ(sites.sites(0).site_id(), "WH-1");
  EXPECT_EQ(sites.sites(0).declared_grade(), v1::GRADE_4);
  EXPECT_EQ(sites.sites(0).alert_log_index(), found[0].log_index());
  // Another enterprise sees none of it.
  status =
      Read(*other_admin_, api::kListMajorHazardSitesMethod, v1::MajorHazardSitesQuery(), &sites);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(sites.sites_size(), 0);

  // Three drums out to WH-2 (no α registered): WH-1 back under, WH-2 over
  // without a grade; an alert each.
  for (int i = 1; i < 4; ++i) at(v1::STORING, issued.labels[i].code(), "WH-2");
  EXPECT_FALSE(site_load(*acme_admin_, "WH-1").major_hazard());
  v1::MajorHazardAssessment wh2 = site_load(*acme_admin_, "WH-2");
  EXPECT_TRUE(wh2.major_hazard());
  EXPECT_EQ(wh2.grade(), v1::MAJOR_HAZARD_GRADE_UNSPECIFIED);
  found = await_alerts(3);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[1].major_hazard_alert().site_id(), "WH-2");  // the second drum's storing
  EXPECT_EQ(found[2].major_hazard_alert().site_id(), "WH-1");  // the third's
  EXPECT_FALSE(found[2].major_hazard_alert().major_hazard());
  std::tie(code, out) =
      Chemaudit(absl::StrCat("major-hazards --key '", dir_, "/regulator-cli.key' ",
                             ServerFlags("chemledger.v1.AuditService")));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("WH-2"), std::string::npos) << out;
  EXPECT_EQ(out.find("WH-1"), std::string::npos) << out;
  EXPECT_NE(out.find("1 major hazard sites"), std::string::npos) << out;

  ASSERT_NO_FATAL_FAILURE(KillServer());
  std::tie(code, out) = RunChemledgerd({"check", "--data", dir_ + "/data"});
  EXPECT_EQ(code, 0) << out;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  EXPECT_EQ(alerts().size(), 3u);
}

}  // namespace
}  // namespace chemledger
