// End to end: a real chemledgerd process (init, then serve on loopback), real
// gRPC calls, real LevelDB on disk. Registers an enterprise and products,
// issues a 100,000-code batch, renders labels to PNG, reads them back (ZXing
// and the independent zbarimg) and verifies them offline against the trust
// list; checks that every refusal names its field and leaves the log as it
// was; kills the server with SIGKILL and checks nothing acknowledged is lost;
// streams 10,000 e-waybills and moves packages between enterprises on them.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "api/china_time.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/identifiers.h"
#include "services/label/printable_label.h"
#include "services/label/qr.h"
#include "services/waybill/waybill_testing.h"
#include "crypto/merkle.h"
#include "services/registry/registry_testing.h"
#include "tests/subprocess.h"

namespace chemledger {
namespace {

using registry::testing::Date;
using testing::RunfilePath;
using testing::Subprocess;

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kOther[] = "91110105771583283D";

v1::Date Today() {
  const absl::CivilDay d = absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600));
  return Date(static_cast<int>(d.year()), d.month(), d.day());
}

// One server for the whole suite: starting it, and issuing 100,000 labels,
// are the expensive parts.
class ChemledgerdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::FreshTempDir("chemledgerd_e2e"));
    admin_ = new crypto::SigningKey(crypto::SigningKey::Generate());
    acme_admin_ = new crypto::SigningKey(crypto::SigningKey::Generate());
    acme_operator_ = new crypto::SigningKey(crypto::SigningKey::Generate());
    other_admin_ = new crypto::SigningKey(crypto::SigningKey::Generate());
    regulator_ = new crypto::SigningKey(crypto::SigningKey::Generate());
    ASSERT_TRUE(crypto::SaveSigningKey(*admin_, *dir_ + "/admin.key", {}).ok());

    Subprocess init;
    ASSERT_TRUE(init.Start({Binary(), "init", "--data", *dir_ + "/data", "--deployment",
                            "chemledger.test", "--resolver", "CL.EXAMPLE.CN", "--admin-key",
                            *dir_ + "/admin.key", "--admin-name", "root"})
                    .ok());
    bool eof = false;
    std::vector<std::string> lines;
    while (!eof) {
      for (std::string& l : init.ReadLines(absl::Now() + absl::Seconds(30), &eof)) {
        lines.push_back(l);
      }
    }
    absl::StatusOr<int> status = init.Wait();
    ASSERT_TRUE(status.ok() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    ASSERT_FALSE(lines.empty());
    note_verifier_key_ = new std::string(lines.back());  // the last line printed
    StartServer();
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::string Binary() { return RunfilePath("services/chemledgerd/chemledgerd"); }

  static void StartServer() {
    delete server_;
    server_ = new Subprocess();
    ASSERT_TRUE(server_->Start({Binary(), "serve", "--data", *dir_ + "/data", "--listen",
                                "127.0.0.1:0"})
                    .ok());
    int port = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (port == 0) {
      absl::StatusOr<std::string> line = server_->ReadLine(deadline);
      ASSERT_TRUE(line.ok()) << "chemledgerd did not start serving: " << line.status();
      if (absl::StartsWith(*line, "chemledgerd: serving")) {
        ASSERT_TRUE(absl::SimpleAtoi(line->substr(line->rfind(' ') + 1), &port)) << *line;
      }
    }
    ASSERT_NE(port, 0);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    registry_.reset(v1::RegistryService::NewStub(channel).release());
    labels_.reset(v1::LabelService::NewStub(channel).release());
    ledger_.reset(v1::LedgerService::NewStub(channel).release());
    waybills_.reset(v1::WaybillService::NewStub(channel).release());
  }

  static uint64_t LogSize() {
    grpc::ClientContext context;
    v1::Deployment deployment;
    EXPECT_TRUE(registry_->GetDeployment(&context, {}, &deployment).ok());
    return deployment.log_size();
  }

  static v1::SignedEnvelope Signed(const crypto::SigningKey& key, v1::RegistryRequest r) {
    if (r.request_id().empty()) r.set_request_id(absl::StrCat("e2e-", ++next_id_));
    return *envelope::Sign(api::kRegistryContext, r.SerializeAsString(), key);
  }

  static grpc::Status Submit(const v1::SignedEnvelope& envelope, v1::SubmitResponse* response) {
    grpc::ClientContext context;
    return registry_->Submit(&context, envelope, response);
  }

  static void SubmitOk(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    v1::SubmitResponse response;
    grpc::Status status = Submit(Signed(key, r), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Refused with `code`, a message naming `field`, and the log unchanged.
  static void Refused(const v1::SignedEnvelope& envelope, grpc::StatusCode code,
                      const std::string& field) {
    const uint64_t before = LogSize();
    v1::SubmitResponse response;
    grpc::Status status = Submit(envelope, &response);
    EXPECT_EQ(status.error_code(), code) << field << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(field), std::string::npos)
        << "message does not name " << field << ": " << status.error_message();
    EXPECT_EQ(LogSize(), before) << "refused request changed the log: " << field;
  }

  static v1::RegistryRequest Enterprise(const std::string& uscc) {
    v1::RegistryRequest r;
    *r.mutable_register_enterprise() = registry::testing::ExampleProducer(uscc);
    return r;
  }
  static v1::RegistryRequest Product(const v1::Product& p) {
    v1::RegistryRequest r;
    *r.mutable_register_product() = p;
    return r;
  }
  static v1::RegistryRequest Actor(const std::string& name, v1::ActorRole role,
                                   const std::string& uscc, const crypto::SigningKey& key) {
    v1::RegistryRequest r;
    v1::Actor* a = r.mutable_add_actor();
    a->set_name(name);
    a->set_role(role);
    a->set_enterprise_uscc(uscc);
    a->set_public_key(key.verifying_key().ToBytes());
    return r;
  }

  // Registers Acme (with an admin and an operator) and Other once.
  static void EnsureEnterprises() {
    if (enterprises_ready_) return;
    SubmitOk(*admin_, Enterprise(kAcme));
    SubmitOk(*admin_, Enterprise(kOther));
    SubmitOk(*admin_, Actor("acme admin", v1::ENTERPRISE_ADMIN, kAcme, *acme_admin_));
    SubmitOk(*acme_admin_, Actor("acme line", v1::ENTERPRISE_OPERATOR, kAcme, *acme_operator_));
    SubmitOk(*admin_, Actor("other admin", v1::ENTERPRISE_ADMIN, kOther, *other_admin_));
    SubmitOk(*admin_, Actor("inspector", v1::REGULATOR, "", *regulator_));
    SubmitOk(*acme_admin_, Product(registry::testing::ExampleMethanol(kAcme, "M01")));
    enterprises_ready_ = true;
  }

  static v1::SignedEnvelope IssueRequest(const std::string& batch, uint32_t count,
                                         const crypto::SigningKey& key) {
    v1::IssueLabelsRequest r;
    r.set_request_id(absl::StrCat("issue-", ++next_id_));
    r.set_enterprise_uscc(kAcme);
    r.set_product_number("M01");
    r.set_batch(batch);
    *r.mutable_production_date() = Today();
    r.set_package_count(count);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    return *envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), key);
  }

  struct Issued {
    grpc::Status status;
    std::vector<v1::IssuedLabel> labels;
    uint64_t log_index = 0;
    bool replayed = false;
  };
  static Issued Issue(const v1::SignedEnvelope& envelope) {
    grpc::ClientContext context;
    auto reader = labels_->IssueLabels(&context, envelope);
    Issued out;
    v1::IssueLabelsResponse message;
    while (reader->Read(&message)) {
      out.log_index = message.log_index();
      out.replayed = message.replayed();
      for (const v1::IssuedLabel& l : message.labels()) out.labels.push_back(l);
    }
    out.status = reader->Finish();
    return out;
  }

  static crypto::TrustList FetchTrustList() {
    grpc::ClientContext context;
    v1::TrustListResponse response;
    grpc::Status status = labels_->GetTrustList(&context, {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    // Verified against the key pinned at init, not the one the server sends.
    absl::StatusOr<crypto::NoteVerifier> root =
        crypto::NoteVerifier::FromVerifierKey(*note_verifier_key_);
    EXPECT_TRUE(root.ok()) << root.status();
    absl::StatusOr<crypto::TrustList> list = crypto::OpenTrustList(response.signed_note(), *root);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : crypto::TrustList{};
  }

  // Registers a producer at `uscc` (with the methanol product M01) and an
  // admin of it named `name`; returns the admin's key.
  static crypto::SigningKey RegisterProducer(const std::string& uscc, const std::string& name) {
    crypto::SigningKey key = crypto::SigningKey::Generate();
    SubmitOk(*admin_, Enterprise(uscc));
    SubmitOk(*admin_, Actor(name, v1::ENTERPRISE_ADMIN, uscc, key));
    SubmitOk(key, Product(registry::testing::ExampleMethanol(uscc, "M01")));
    return key;
  }

  // Registers a road carrier at `uscc`, holding a 道路运输经营许可证, and its
  // dispatcher `name`; returns the dispatcher's key.
  static crypto::SigningKey RegisterCarrier(const std::string& uscc, const std::string& name) {
    crypto::SigningKey key = crypto::SigningKey::Generate();
    v1::RegistryRequest r;
    *r.mutable_register_enterprise() =
        registry::testing::ExampleEnterprise(uscc, v1::CARRIER, v1::ROAD_TRANSPORT);
    SubmitOk(*admin_, r);
    SubmitOk(*admin_, Actor(name, v1::ENTERPRISE_ADMIN, uscc, key));
    return key;
  }

  // Issues `count` labels of `uscc`'s product M01, 25 KGM each, in `batch`.
  static Issued IssueM01(const std::string& uscc, const crypto::SigningKey& key,
                         const std::string& batch, uint32_t count) {
    v1::IssueLabelsRequest r;
    r.set_request_id(absl::StrCat("issue-", batch, "-", ++next_id_));
    r.set_enterprise_uscc(uscc);
    r.set_product_number("M01");
    r.set_batch(batch);
    *r.mutable_production_date() = Today();
    r.set_package_count(count);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    return Issue(*envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), key));
  }

  static grpc::Status AppendEvent(const crypto::SigningKey& key, const v1::Event& e,
                                  v1::AppendResponse* response = nullptr) {
    grpc::ClientContext context;
    v1::AppendResponse ignored;
    return ledger_->Append(&context,
                           *envelope::Sign(api::kEventContext, e.SerializeAsString(), key),
                           response != nullptr ? response : &ignored);
  }

  static grpc::Status GetHistory(const crypto::SigningKey& reader, const std::string& code,
                                 v1::History* history) {
    grpc::ClientContext context;
    read_auth::AttachReadCredentials(&context, api::kGetHistoryMethod, reader);
    v1::GetHistoryRequest request;
    request.set_code(code);
    return ledger_->GetHistory(&context, request, history);
  }

  static grpc::Status GetWaybill(const crypto::SigningKey& reader, const std::string& number,
                                 v1::WaybillRecord* record) {
    grpc::ClientContext context;
    read_auth::AttachReadCredentials(&context, api::kGetWaybillMethod, reader);
    v1::GetWaybillRequest request;
    request.set_waybill_number(number);
    return waybills_->GetWaybill(&context, request, record);
  }

  // Sends `requests` on one SubmitStream without waiting for any answer (a
  // thread writes them all while this one reads; writing all before reading
  // could fill both directions' flow-control windows), and returns the
  // results.
  static std::vector<v1::WaybillResult> StreamWaybills(
      const std::vector<v1::SignedEnvelope>& requests) {
    grpc::ClientContext context;
    auto stream = waybills_->SubmitStream(&context);
    size_t written = 0;
    std::thread writer([&] {
      for (const v1::SignedEnvelope& r : requests) {
        if (!stream->Write(r)) break;
        ++written;
      }
      stream->WritesDone();
    });
    std::vector<v1::WaybillResult> results;
    v1::WaybillResult result;
    while (stream->Read(&result)) results.push_back(result);
    writer.join();
    const grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(written, requests.size()) << "the stream broke while writing";
    return results;
  }

  // The log's current checkpoint, verified with the key pinned at init (not
  // one the server sends).
  static absl::StatusOr<crypto::Checkpoint> VerifiedCheckpoint() {
    grpc::ClientContext context;
    v1::Checkpoint checkpoint;
    const grpc::Status status = ledger_->GetCheckpoint(&context, {}, &checkpoint);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    absl::StatusOr<crypto::NoteVerifier> root =
        crypto::NoteVerifier::FromVerifierKey(*note_verifier_key_);
    if (!root.ok()) return root.status();
    return crypto::OpenCheckpoint(checkpoint.signed_note(), "chemledger.test", *root);
  }

  // Checks `code`'s history client-side: each event's hash is the leaf hash
  // of its entry, links to the previous event of `code` (the first to none),
  // and proves by the server's inclusion proof into `checkpoint`.
  static void ExpectHistoryVerifies(const std::string& code, const v1::History& history,
                                    const crypto::Checkpoint& checkpoint) {
    ASSERT_GT(history.events_size(), 0) << code;
    std::string previous;
    for (const v1::EventRecord& record : history.events()) {
      const std::string bytes = record.entry().SerializeAsString();
      EXPECT_EQ(crypto::HashLeaf(bytes).ToBytes(), record.event_hash()) << code;
      v1::EventLinks links;
      ASSERT_TRUE(links.ParseFromString(record.entry().assignment()));
      bool linked = false;
      for (const auto& link : links.links()) {
        if (link.code() == code) {
          linked = true;
          EXPECT_EQ(link.previous_event_hash(), previous) << code;
        }
      }
      EXPECT_TRUE(linked) << code << " at " << record.log_index();
      previous = record.event_hash();

      ASSERT_LT(record.log_index(), checkpoint.size) << "the checkpoint is older than the event";
      grpc::ClientContext proof_context;
      v1::GetInclusionProofRequest proof_request;
      proof_request.set_leaf_index(record.log_index());
      proof_request.set_tree_size(checkpoint.size);
      v1::InclusionProof proof;
      ASSERT_TRUE(ledger_->GetInclusionProof(&proof_context, proof_request, &proof).ok());
      std::vector<crypto::Sha256Digest> hashes;
      for (const std::string& h : proof.hashes()) {
        absl::StatusOr<crypto::Sha256Digest> digest = crypto::Sha256Digest::FromBytes(h);
        ASSERT_TRUE(digest.ok()) << digest.status();
        hashes.push_back(*digest);
      }
      absl::StatusOr<crypto::Sha256Digest> leaf =
          crypto::Sha256Digest::FromBytes(record.event_hash());
      ASSERT_TRUE(leaf.ok()) << leaf.status();
      EXPECT_TRUE(crypto::VerifyInclusion(record.log_index(), checkpoint.size, *leaf, hashes,
                                          checkpoint.root_hash)
                      .ok())
          << "event at " << record.log_index() << " does not prove into the checkpoint";
    }
  }

  static inline std::string* dir_ = nullptr;
  static inline std::string* note_verifier_key_ = nullptr;
  static inline crypto::SigningKey *admin_, *acme_admin_, *acme_operator_, *other_admin_,
      *regulator_;
  static inline Subprocess* server_ = nullptr;
  static inline std::unique_ptr<v1::RegistryService::Stub> registry_;
  static inline std::unique_ptr<v1::LabelService::Stub> labels_;
  static inline std::unique_ptr<v1::LedgerService::Stub> ledger_;
  static inline std::unique_ptr<v1::WaybillService::Stub> waybills_;
  static inline int next_id_ = 0;
  static inline bool enterprises_ready_ = false;
};

TEST_F(ChemledgerdTest, IssuesA100000CodeBatchThatRendersReadsBackAndVerifiesOffline) {
  EnsureEnterprises();
  Issued issued = Issue(IssueRequest("B20261123", 100000, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_EQ(issued.labels.size(), 100000u);

  const crypto::TrustList trust = FetchTrustList();
  EXPECT_EQ(trust.resolver, "CL.EXAMPLE.CN");
  std::set<std::string> codes;
  for (size_t i = 0; i < issued.labels.size(); ++i) {
    const v1::IssuedLabel& label = issued.labels[i];
    ASSERT_EQ(label.serial(), i + 1);
    codes.insert(label.code());
    crypto::LabelCheck check = crypto::VerifyLabel(label.url(), trust);
    ASSERT_EQ(check.verdict, crypto::LabelVerdict::kAuthentic) << label.url() << ": " << check.detail;
    ASSERT_EQ(check.label->claims.Code(), label.code());
  }
  EXPECT_EQ(codes.size(), 100000u) << "codes are not unique";

  // Render a few, read them back with ZXing and with zbarimg.
  for (size_t i : {size_t{0}, size_t{4999}, size_t{99999}}) {
    const std::string& url = issued.labels[i].url();
    absl::StatusOr<label::QrSymbol> qr = label::EncodeQr(url);
    ASSERT_TRUE(qr.ok());
    EXPECT_LE(qr->version(), 10);
    absl::StatusOr<std::string> png = label::QrToPng(*qr);
    ASSERT_TRUE(png.ok());
    absl::StatusOr<std::vector<std::string>> read = label::ReadQrCodes(*png);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(*read, std::vector<std::string>{url});
    EXPECT_EQ(crypto::VerifyLabel((*read)[0], trust).verdict, crypto::LabelVerdict::kAuthentic);

    const std::string path = absl::StrCat(*dir_, "/label-", i, ".png");
    std::ofstream(path, std::ios::binary) << *png;
    Subprocess zbar;
    ASSERT_TRUE(zbar.Start({"/usr/bin/zbarimg", "--quiet", "--raw", path}).ok());
    bool eof = false;
    std::vector<std::string> out;
    while (!eof) {
      for (std::string& l : zbar.ReadLines(absl::Now() + absl::Seconds(30), &eof)) out.push_back(l);
    }
    ASSERT_TRUE(zbar.Wait().ok());
    EXPECT_EQ(out, std::vector<std::string>{url}) << "zbarimg read " << path;
  }

  // The printable label (GB 15258 style, A6 at 200 dpi) of one package,
  // from the product and supplier the registry serves, reads back too.
  {
    grpc::ClientContext product_context, enterprise_context;
    read_auth::AttachReadCredentials(&product_context, api::kGetProductMethod,
                                     *acme_operator_);
    read_auth::AttachReadCredentials(&enterprise_context, api::kGetEnterpriseMethod,
                                     *acme_operator_);
    v1::GetProductRequest product_request;
    product_request.set_enterprise_uscc(kAcme);
    product_request.set_product_number("M01");
    label::PrintableLabel printable;
    ASSERT_TRUE(registry_->GetProduct(&product_context, product_request, &printable.product).ok());
    v1::GetEnterpriseRequest enterprise_request;
    enterprise_request.set_uscc(kAcme);
    v1::EnterpriseRecord enterprise;
    ASSERT_TRUE(
        registry_->GetEnterprise(&enterprise_context, enterprise_request, &enterprise).ok());
    printable.supplier = enterprise.enterprise();
    const v1::IssuedLabel& issued_label = issued.labels[77];
    const crypto::LabelClaims claims = crypto::VerifyLabel(issued_label.url(), trust).label->claims;
    printable.url = issued_label.url();
    printable.code = issued_label.code();
    printable.batch = claims.batch;
    printable.production_date = claims.production_date;
    printable.quantity = api::NetQuantityText(claims.quantity_milli, claims.unit);
    absl::StatusOr<std::string> png = label::RenderLabelPng(printable);
    ASSERT_TRUE(png.ok()) << png.status();
    absl::StatusOr<std::vector<std::string>> read = label::ReadQrCodes(*png);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, std::vector<std::string>{issued_label.url()});
  }

  // Online resolution agrees, and a code that was never issued is caught.
  grpc::ClientContext context;
  v1::ResolveLabelRequest resolve;
  resolve.set_url(issued.labels[123].url());
  v1::ResolveLabelResponse resolved;
  ASSERT_TRUE(labels_->ResolveLabel(&context, resolve, &resolved).ok());
  EXPECT_EQ(resolved.verdict(), "authentic") << resolved.detail();
  EXPECT_EQ(resolved.issuance_log_index(), issued.log_index);
  EXPECT_EQ(resolved.product().name_zh(), "甲醇");
  EXPECT_EQ(resolved.enterprise().enterprise().uscc(), kAcme);
}

TEST_F(ChemledgerdTest, RetryRedeliversTheSameCodesAndSerialsContinue) {
  EnsureEnterprises();
  const v1::SignedEnvelope request = IssueRequest("RETRY1", 30, *acme_operator_);
  Issued first = Issue(request);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  const uint64_t size = LogSize();
  Issued again = Issue(request);
  ASSERT_TRUE(again.status.ok());
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.log_index, first.log_index);
  EXPECT_EQ(LogSize(), size);
  ASSERT_EQ(again.labels.size(), 30u);
  EXPECT_EQ(again.labels[29].url(), first.labels[29].url());

  Issued more = Issue(IssueRequest("RETRY1", 5, *acme_operator_));
  ASSERT_TRUE(more.status.ok());
  EXPECT_EQ(more.labels[0].serial(), 31u);
}

TEST_F(ChemledgerdTest, RefusalsNameTheFieldAndLeaveTheLogUnchanged) {
  EnsureEnterprises();
  using grpc::StatusCode;
  v1::RegistryRequest bad = Enterprise("91350100M000100Y44");
  Refused(Signed(*admin_, bad), StatusCode::INVALID_ARGUMENT, "enterprise.uscc");

  auto product = [](const std::function<void(v1::Product*)>& change) {
    v1::Product p = registry::testing::ExampleMethanol(kAcme, "P1");
    change(&p);
    return Product(p);
  };
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_cas("67-56-2"); })),
          StatusCode::INVALID_ARGUMENT, "product.cas");
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_un_number("123"); })),
          StatusCode::INVALID_ARGUMENT, "product.un_number");
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_un_number("1203"); })),
          StatusCode::INVALID_ARGUMENT, "product.un_number");  // catalogue says 1230
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_catalogue_number(2829); })),
          StatusCode::INVALID_ARGUMENT, "product.catalogue_number");
  // Chlorine is class 2.3: no packing group.
  Refused(Signed(*acme_admin_, product([](v1::Product* p) {
            p->set_name_zh("氯");
            p->set_name_en("Chlorine");
            p->set_cas("7782-50-5");
            p->set_un_number("1017");
            p->set_hazard_class("2.3");
            p->set_packing_group("II");
            p->set_catalogue_number(1381);
            p->clear_control_flags();
            p->add_control_flags("剧毒");
            p->add_control_flags("重点监管");
          })),
          StatusCode::INVALID_ARGUMENT, "product.packing_group");
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->clear_packing_group(); })),
          StatusCode::INVALID_ARGUMENT, "product.packing_group");
  Refused(Signed(*acme_admin_, Product(registry::testing::ExampleMethanol(kAcme, "M01"))),
          StatusCode::ALREADY_EXISTS, "product.product_number");
  Refused(Signed(*admin_, Product(registry::testing::ExampleMethanol("91440300MA5ABCDE1X", "M01"))),
          StatusCode::INVALID_ARGUMENT, "enterprise_uscc");
  // A valid code nobody registered.
  const std::string unknown = registry::testing::ExampleUscc("330200");
  Refused(Signed(*admin_, Product(registry::testing::ExampleMethanol(unknown, "M01"))),
          StatusCode::NOT_FOUND, "product.enterprise_uscc");
  // Unsigned, and signed by one actor with another's key id.
  v1::SignedEnvelope unsigned_envelope =
      Signed(*acme_admin_, Product(registry::testing::ExampleMethanol(kAcme, "P2")));
  unsigned_envelope.clear_signatures();
  Refused(unsigned_envelope, StatusCode::INVALID_ARGUMENT, "signatures");
  v1::SignedEnvelope impostor =
      Signed(*other_admin_, Product(registry::testing::ExampleMethanol(kAcme, "P2")));
  impostor.mutable_signatures(0)->set_key_id(acme_admin_->key_id().ToString());
  Refused(impostor, StatusCode::UNAUTHENTICATED, "envelope.signatures[0].sig");
  // Another enterprise's admin may not register Acme's products.
  Refused(Signed(*other_admin_, Product(registry::testing::ExampleMethanol(kAcme, "P3"))),
          StatusCode::PERMISSION_DENIED, "envelope.signatures[0].key_id: actor 'other admin'");
}

TEST_F(ChemledgerdTest, RevokedKeysAndBlacklistedEnterprisesAreRefused) {
  EnsureEnterprises();
  using grpc::StatusCode;
  // A revoked operator can no longer issue.
  crypto::SigningKey temp = crypto::SigningKey::Generate();
  SubmitOk(*acme_admin_, Actor("temp", v1::ENTERPRISE_ADMIN, kAcme, temp));
  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(temp.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("lost laptop");
  SubmitOk(*acme_admin_, revoke);
  Refused(Signed(temp, Product(registry::testing::ExampleMethanol(kAcme, "P9"))),
          StatusCode::PERMISSION_DENIED,
          "envelope.signatures[0].key_id: key " + temp.key_id().ToString() + " was revoked");
  const uint64_t before = LogSize();
  Issued refused = Issue(IssueRequest("B9", 1, temp));
  EXPECT_EQ(refused.status.error_code(), StatusCode::PERMISSION_DENIED)
      << refused.status.error_message();
  EXPECT_TRUE(refused.labels.empty());
  EXPECT_EQ(LogSize(), before);

  // Blacklist Other: its products and labels are refused; lift it again.
  SubmitOk(*other_admin_, Product(registry::testing::ExampleMethanol(kOther, "M01")));
  v1::RegistryRequest blacklist;
  blacklist.mutable_blacklist()->set_enterprise_uscc(kOther);
  blacklist.mutable_blacklist()->set_blacklisted(true);
  blacklist.mutable_blacklist()->set_reason("unlicensed storage");
  *blacklist.mutable_blacklist()->mutable_date() = Today();
  SubmitOk(*regulator_, blacklist);
  Refused(Signed(*admin_, Product(registry::testing::ExampleMethanol(kOther, "M02"))),
          StatusCode::PERMISSION_DENIED, "product.enterprise_uscc: enterprise " + std::string(kOther) +
                                             " is blacklisted");
  Refused(Signed(*other_admin_, Product(registry::testing::ExampleMethanol(kOther, "M03"))),
          StatusCode::PERMISSION_DENIED,
          "envelope.signatures[0].key_id: the signer's enterprise " + std::string(kOther) +
              " is blacklisted");
  v1::IssueLabelsRequest r;
  r.set_request_id("blacklisted-issue");
  r.set_enterprise_uscc(kOther);
  r.set_product_number("M01");
  r.set_batch("B1");
  *r.mutable_production_date() = Today();
  r.set_package_count(1);
  r.set_net_quantity("1");
  r.set_unit("LTR");
  const uint64_t size = LogSize();
  Issued blocked =
      Issue(*envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), *other_admin_));
  EXPECT_EQ(blocked.status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_NE(blocked.status.error_message().find("envelope.signatures[0].key_id: the signer's "
                                                "enterprise " + std::string(kOther) +
                                                " is blacklisted"),
            std::string::npos)
      << blocked.status.error_message();
  EXPECT_EQ(LogSize(), size);

  // Lifted, Other may register products again (and other tests see it clean).
  blacklist.mutable_blacklist()->set_blacklisted(false);
  blacklist.mutable_blacklist()->set_reason("storage brought into compliance");
  SubmitOk(*regulator_, blacklist);
  SubmitOk(*other_admin_, Product(registry::testing::ExampleMethanol(kOther, "M04")));
}

TEST_F(ChemledgerdTest, NothingAcknowledgedIsLostToSigkill) {
  EnsureEnterprises();
  Issued issued = Issue(IssueRequest("KILL1", 10, *acme_operator_));
  ASSERT_TRUE(issued.status.ok());
  const uint64_t size = LogSize();
  ASSERT_TRUE(server_->Kill(SIGKILL).ok());
  ASSERT_TRUE(server_->Wait().ok());
  StartServer();
  EXPECT_EQ(LogSize(), size);
  grpc::ClientContext context;
  v1::ResolveLabelRequest resolve;
  resolve.set_url(issued.labels[9].url());
  v1::ResolveLabelResponse resolved;
  ASSERT_TRUE(labels_->ResolveLabel(&context, resolve, &resolved).ok());
  EXPECT_EQ(resolved.verdict(), "authentic") << resolved.detail();
  Issued more = Issue(IssueRequest("KILL1", 1, *acme_operator_));
  ASSERT_TRUE(more.status.ok());
  EXPECT_EQ(more.labels[0].serial(), 11u) << "a serial was reissued after the restart";
}

TEST_F(ChemledgerdTest, AnIssuanceKilledMidStreamIsRedeliveredWhole) {
  EnsureEnterprises();
  const v1::SignedEnvelope request = IssueRequest("MIDKILL", 100000, *acme_operator_);
  uint64_t log_index = 0;
  {
    grpc::ClientContext context;
    auto reader = labels_->IssueLabels(&context, request);
    v1::IssueLabelsResponse first;
    // The first message comes only after the issuance is durable.
    ASSERT_TRUE(reader->Read(&first));
    log_index = first.log_index();
    EXPECT_FALSE(first.replayed());
    ASSERT_TRUE(server_->Kill(SIGKILL).ok());
    ASSERT_TRUE(server_->Wait().ok());
    context.TryCancel();
  }
  StartServer();
  Issued again = Issue(request);
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.log_index, log_index);
  ASSERT_EQ(again.labels.size(), 100000u);
  EXPECT_EQ(again.labels.front().serial(), 1u);
  EXPECT_EQ(again.labels.back().serial(), 100000u);
  // And the batch goes on after them, never reissuing one.
  Issued more = Issue(IssueRequest("MIDKILL", 1, *acme_operator_));
  ASSERT_TRUE(more.status.ok());
  EXPECT_EQ(more.labels[0].serial(), 100001u);
}

TEST_F(ChemledgerdTest, RegistryReadsNeedAnActorsSignatureAndTheScanShowsLess) {
  EnsureEnterprises();
  v1::GetEnterpriseRequest request;
  request.set_uscc(kAcme);
  v1::EnterpriseRecord record;
  {
    grpc::ClientContext anonymous;
    grpc::Status status = registry_->GetEnterprise(&anonymous, request, &record);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
    EXPECT_NE(status.error_message().find("chemledger-key-id"), std::string::npos);
  }
  {
    // Signed for another method: refused.
    grpc::ClientContext wrong_method;
    read_auth::AttachReadCredentials(&wrong_method, api::kGetProductMethod, *regulator_);
    grpc::Status status = registry_->GetEnterprise(&wrong_method, request, &record);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  }
  {
    // Signed an hour ago: refused.
    grpc::ClientContext stale;
    read_auth::ReadCredentials c = read_auth::SignRead(api::kGetEnterpriseMethod,
                                                       *regulator_, absl::Now() - absl::Hours(1));
    stale.AddMetadata(read_auth::kKeyIdHeader, c.key_id);
    stale.AddMetadata(read_auth::kTimeHeader, c.time);
    stale.AddMetadata(read_auth::kSignatureHeader, c.signature);
    grpc::Status status = registry_->GetEnterprise(&stale, request, &record);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
    EXPECT_NE(status.error_message().find("chemledger-time"), std::string::npos);
  }
  {
    // A stranger's key is not registered.
    grpc::ClientContext stranger;
    read_auth::AttachReadCredentials(&stranger, api::kGetEnterpriseMethod,
                                     crypto::SigningKey::Generate());
    EXPECT_EQ(registry_->GetEnterprise(&stranger, request, &record).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext regulator;
    read_auth::AttachReadCredentials(&regulator, api::kGetEnterpriseMethod, *regulator_);
    grpc::Status status = registry_->GetEnterprise(&regulator, request, &record);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(record.enterprise().uscc(), kAcme);
    EXPECT_GT(record.enterprise().licences_size(), 0);
  }

  // The public scan: product and supplier name, not the supplier's licences.
  Issued issued = Issue(IssueRequest("SCAN1", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok());
  v1::ResolveLabelRequest resolve;
  resolve.set_url(issued.labels[0].url());
  v1::ResolveLabelResponse anonymous_view, actor_view;
  grpc::ClientContext anonymous, signed_context;
  ASSERT_TRUE(labels_->ResolveLabel(&anonymous, resolve, &anonymous_view).ok());
  EXPECT_EQ(anonymous_view.verdict(), "authentic");
  EXPECT_EQ(anonymous_view.product().un_number(), "1230");
  EXPECT_FALSE(anonymous_view.enterprise().enterprise().name().empty());
  EXPECT_EQ(anonymous_view.enterprise().enterprise().licences_size(), 0);
  read_auth::AttachReadCredentials(&signed_context, api::kResolveLabelMethod, *regulator_);
  ASSERT_TRUE(labels_->ResolveLabel(&signed_context, resolve, &actor_view).ok());
  EXPECT_GT(actor_view.enterprise().enterprise().licences_size(), 0);
}

// The lifecycle over gRPC: one enterprise that produces, uses and disposes
// (shipping waits for the e-waybill service) takes a batch through
// commission, store, consume, split, pack, unpack and dispose; every code's
// chain and every event's inclusion in a signed checkpoint verify client-side.
TEST_F(ChemledgerdTest, ABatchLivesItsLifeAndEveryEventProvesIntoACheckpoint) {
  EnsureEnterprises();  // the regulator and Other read below
  const std::string plant = registry::testing::ExampleUscc("350300");
  const crypto::SigningKey plant_admin = crypto::SigningKey::Generate();
  {
    v1::Enterprise e = registry::testing::ExampleProducer(plant);
    e.add_roles(v1::USER);
    e.add_roles(v1::DISPOSER);
    v1::Licence* waste = e.add_licences();
    *waste = e.licences(0);
    waste->set_type(v1::HAZARDOUS_WASTE);
    waste->set_number("闽危废经字[2024]001");
    v1::RegistryRequest r;
    *r.mutable_register_enterprise() = e;
    SubmitOk(*admin_, r);
    SubmitOk(*admin_, Actor("plant admin", v1::ENTERPRISE_ADMIN, plant, plant_admin));
    SubmitOk(plant_admin, Product(registry::testing::ExampleMethanol(plant, "M01")));
  }
  v1::IssueLabelsRequest issue;
  issue.set_request_id("plant-issue");
  issue.set_enterprise_uscc(plant);
  issue.set_product_number("M01");
  issue.set_batch("L1");
  *issue.mutable_production_date() = Today();
  issue.set_package_count(20);
  issue.set_net_quantity("200");
  issue.set_unit("LTR");
  Issued issued =
      Issue(*envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), plant_admin));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const auto code = [&](int serial) { return issued.labels[serial - 1].code(); };

  int next = 0;
  absl::Time clock = absl::Now() - absl::Minutes(30);
  const auto event = [&](v1::BusinessStep step, std::vector<std::string> codes) {
    v1::Event e;
    e.set_event_id(absl::StrCat("plant-ev-", ++next));
    e.set_step(step);
    for (auto& c : codes) e.add_codes(c);
    clock += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(plant);
    e.mutable_location()->set_site("plant 1");
    return e;
  };
  std::vector<uint64_t> indexes;
  const auto append = [&](const v1::Event& e) {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status status = ledger_->Append(
        &context, *envelope::Sign(api::kEventContext, e.SerializeAsString(), plant_admin),
        &response);
    EXPECT_TRUE(status.ok()) << v1::BusinessStep_Name(e.step()) << ": " << status.error_message();
    indexes.push_back(response.log_index());
  };
  append(event(v1::COMMISSIONING, {code(1), code(2), code(3), code(4)}));
  append(event(v1::STORING, {code(1), code(2), code(3), code(4)}));
  v1::Event use = event(v1::CONSUMING, {code(1)});
  use.set_quantity_milli(50000);
  append(use);
  v1::Event split = event(v1::REPACKAGING, {code(2)});
  split.set_quantity_milli(200000);
  split.add_outputs()->set_code(code(11));
  split.mutable_outputs(0)->set_quantity_milli(100000);
  split.add_outputs()->set_code(code(12));
  split.mutable_outputs(1)->set_quantity_milli(99000);
  split.set_declared_loss_milli(1000);
  append(split);
  const std::string pallet = plant + ".LU.PAL1";
  v1::Event pack = event(v1::PACKING, {code(3), code(11)});
  pack.set_parent_code(pallet);
  append(pack);
  v1::Event unpack = event(v1::UNPACKING, {code(3), code(11)});
  unpack.set_parent_code(pallet);
  append(unpack);
  v1::Event destroy = event(v1::DESTROYING, {code(3)});
  destroy.set_manifest_id("3503002026000007");
  append(destroy);

  // A refused event (consuming more than is left) changes nothing.
  const uint64_t size_before = LogSize();
  v1::Event too_much = event(v1::CONSUMING, {code(1)});
  too_much.set_quantity_milli(150001);
  {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status status = ledger_->Append(
        &context, *envelope::Sign(api::kEventContext, too_much.SerializeAsString(), plant_admin),
        &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(status.error_message().find("event.quantity_milli"), std::string::npos);
  }
  EXPECT_EQ(LogSize(), size_before);

  // The checkpoint, verified with the key pinned at init.
  absl::StatusOr<crypto::Checkpoint> opened = VerifiedCheckpoint();
  ASSERT_TRUE(opened.ok()) << opened.status();

  // Each code's history chains, and each event proves into the checkpoint.
  for (int serial : {1, 2, 3, 11, 12}) {
    v1::History history;
    grpc::Status status = GetHistory(plant_admin, code(serial), &history);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectHistoryVerifies(code(serial), history, *opened);
  }
  grpc::ClientContext state_context;
  read_auth::AttachReadCredentials(&state_context, api::kGetHistoryMethod, *regulator_);
  v1::GetHistoryRequest request;
  request.set_code(code(1));
  v1::History history;
  ASSERT_TRUE(ledger_->GetHistory(&state_context, request, &history).ok());
  EXPECT_EQ(history.remaining_milli(), 150000u);
  EXPECT_EQ(history.events_size(), 3);
  // Another enterprise that never held the package may not read it.
  grpc::ClientContext other_context;
  read_auth::AttachReadCredentials(&other_context, api::kGetHistoryMethod, *other_admin_);
  EXPECT_EQ(ledger_->GetHistory(&other_context, request, &history).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // GetEvent: the recording enterprise and regulators read it; others learn
  // nothing, not even whether an id exists.
  {
    const auto get_event = [&](const crypto::SigningKey& key, const std::string& id,
                               v1::EventRecord* record) {
      grpc::ClientContext context;
      read_auth::AttachReadCredentials(&context, api::kGetEventMethod, key);
      v1::GetEventRequest request;
      request.set_event_id(id);
      return ledger_->GetEvent(&context, request, record);
    };
    v1::EventRecord record;
    grpc::Status status = get_event(plant_admin, destroy.event_id(), &record);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(record.entry().envelope().payload(), destroy.SerializeAsString());
    EXPECT_TRUE(get_event(*regulator_, destroy.event_id(), &record).ok());
    EXPECT_EQ(get_event(*other_admin_, destroy.event_id(), &record).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(get_event(*other_admin_, "no-such-event", &record).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(get_event(*regulator_, "no-such-event", &record).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  // A stream of batches: each batch one durable write, one result per event.
  {
    grpc::ClientContext context;
    auto stream = ledger_->AppendBatches(&context);
    v1::EventBatch batch;
    *batch.add_events() = *envelope::Sign(api::kEventContext,
                                          event(v1::STORING, {code(4)}).SerializeAsString(), plant_admin);
    v1::Event over = event(v1::CONSUMING, {code(4)});
    over.set_quantity_milli(200001);
    *batch.add_events() = *envelope::Sign(api::kEventContext, over.SerializeAsString(), plant_admin);
    v1::Event ok_use = event(v1::CONSUMING, {code(4)});
    ok_use.set_quantity_milli(200000);
    *batch.add_events() = *envelope::Sign(api::kEventContext, ok_use.SerializeAsString(), plant_admin);
    const uint64_t before = LogSize();
    ASSERT_TRUE(stream->Write(batch));
    v1::EventBatchResult result;
    ASSERT_TRUE(stream->Read(&result));
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
    ASSERT_EQ(result.results_size(), 3);
    EXPECT_EQ(result.results(0).code(), 0) << result.results(0).message();
    EXPECT_EQ(result.results(1).code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
    EXPECT_NE(result.results(1).message().find("event.quantity_milli"), std::string::npos);
    EXPECT_EQ(result.results(2).code(), 0) << result.results(2).message();
    EXPECT_EQ(result.results(2).receipt().log_index(), result.results(0).receipt().log_index() + 1);
    EXPECT_EQ(LogSize(), before + 2);
  }

  // 8 concurrent clients, each storing its own package 25 times: nothing lost
  // or duplicated, chains intact.
  append(event(v1::COMMISSIONING, {code(13), code(14), code(15), code(16), code(17), code(18),
                                   code(19), code(20)}));
  std::vector<std::vector<v1::SignedEnvelope>> work(8);
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 25; ++i) {
      v1::Event e = event(v1::STORING, {code(13 + t)});
      work[t].push_back(*envelope::Sign(api::kEventContext, e.SerializeAsString(), plant_admin));
    }
  }
  const uint64_t before_threads = LogSize();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (const v1::SignedEnvelope& env : work[t]) {
        grpc::ClientContext context;
        v1::AppendResponse response;
        if (!ledger_->Append(&context, env, &response).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(LogSize(), before_threads + 200);

  // The log only grew: the new checkpoint is consistent with the first one.
  {
    absl::StatusOr<crypto::Checkpoint> second = VerifiedCheckpoint();
    ASSERT_TRUE(second.ok()) << second.status();
    grpc::ClientContext proof_context;
    v1::GetConsistencyProofRequest request;
    request.set_first_size(opened->size);
    request.set_second_size(second->size);
    v1::ConsistencyProof proof;
    ASSERT_TRUE(ledger_->GetConsistencyProof(&proof_context, request, &proof).ok());
    std::vector<crypto::Sha256Digest> hashes;
    for (const std::string& h : proof.hashes()) hashes.push_back(*crypto::Sha256Digest::FromBytes(h));
    EXPECT_TRUE(crypto::VerifyConsistency(opened->size, second->size, opened->root_hash,
                                          second->root_hash, hashes)
                    .ok());
    EXPECT_FALSE(crypto::VerifyConsistency(opened->size, second->size, second->root_hash,
                                           second->root_hash, hashes)
                     .ok());
  }
  for (int t = 0; t < 8; ++t) {
    grpc::ClientContext context;
    read_auth::AttachReadCredentials(&context, api::kGetHistoryMethod, plant_admin);
    v1::GetHistoryRequest r;
    r.set_code(code(13 + t));
    v1::History h;
    ASSERT_TRUE(ledger_->GetHistory(&context, r, &h).ok());
    EXPECT_EQ(h.events_size(), 26);
    std::string previous;
    for (const v1::EventRecord& record : h.events()) {
      v1::EventLinks links;
      links.ParseFromString(record.entry().assignment());
      bool linked = false;
      for (const auto& link : links.links()) {
        if (link.code() != code(13 + t)) continue;
        linked = true;
        EXPECT_EQ(link.previous_event_hash(), previous);
      }
      EXPECT_TRUE(linked);
      previous = record.event_hash();
    }
  }
}

// E-waybills over gRPC: a carrier streams waybills (one refused for its
// plate, one for a package already on another waybill); the consignor ships
// under the accepted one; the consignee receives; the waybill closes. The
// same stream sent again gets the same results.
TEST_F(ChemledgerdTest, PackagesMoveBetweenEnterprisesOnAWaybill) {
  EnsureEnterprises();
  const std::string carrier = registry::testing::ExampleUscc("110105");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "dispatcher");
  v1::IssueLabelsRequest issue;
  issue.set_request_id("wb-issue");
  issue.set_enterprise_uscc(kAcme);
  issue.set_product_number("M01");
  issue.set_batch("WB1");
  *issue.mutable_production_date() = Today();
  issue.set_package_count(3);
  issue.set_net_quantity("25");
  issue.set_unit("KGM");
  Issued issued =
      Issue(*envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const auto code = [&](int serial) { return issued.labels[serial - 1].code(); };
  absl::Time clock = absl::Now() - absl::Minutes(10);
  int next = 0;
  const auto event = [&](const crypto::SigningKey& key, const std::string& who, v1::BusinessStep step,
                         std::vector<std::string> codes, const std::string& waybill = "") {
    v1::Event e;
    e.set_event_id(absl::StrCat("wb-ev-", ++next));
    e.set_step(step);
    for (auto& c : codes) e.add_codes(c);
    clock += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(who);
    e.mutable_location()->set_site("dock");
    e.set_waybill_id(waybill);
    if (!waybill.empty()) e.set_consignee_uscc(kOther);
    grpc::ClientContext context;
    v1::AppendResponse response;
    return ledger_->Append(&context, *envelope::Sign(api::kEventContext, e.SerializeAsString(), key),
                           &response);
  };
  ASSERT_TRUE(event(*acme_operator_, kAcme, v1::COMMISSIONING, {code(1), code(2), code(3)}).ok());

  const auto waybill = [&](const std::string& number, std::vector<std::string> codes) {
    const v1::Waybill w =
        waybill::testing::ExampleWaybill(number, carrier, kAcme, kOther, codes, 25000, "KGM");
    v1::WaybillRequest r;
    r.set_request_id("req-" + number);
    *r.mutable_submit() = w;
    return *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_key);
  };
  std::vector<v1::SignedEnvelope> requests = {waybill("WB-E2E-1", {code(1), code(2)}),
                                              waybill("WB-E2E-2", {code(3)}),
                                              waybill("WB-E2E-3", {code(2)})};
  {  // a bad plate on the second
    v1::WaybillRequest r;
    r.ParseFromString(requests[1].payload());
    r.mutable_submit()->mutable_vehicle()->set_plate("BAD");
    requests[1] = *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_key);
  }
  const auto stream_all = [&] { return StreamWaybills(requests); };
  const uint64_t before = LogSize();
  std::vector<v1::WaybillResult> results = stream_all();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].code(), 0) << results[0].message();
  EXPECT_EQ(results[1].code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(results[1].message().find("waybill.vehicle.plate"), std::string::npos) << results[1].message();
  EXPECT_EQ(results[2].code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_NE(results[2].message().find("already on open waybill WB-E2E-1"), std::string::npos)
      << results[2].message();
  EXPECT_EQ(LogSize(), before + 1) << "refused waybills wrote to the log";
  std::vector<v1::WaybillResult> again = stream_all();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_TRUE(again[0].replayed());
  EXPECT_EQ(again[0].log_index(), results[0].log_index());
  EXPECT_EQ(again[1].message(), results[1].message());
  EXPECT_EQ(LogSize(), before + 1);

  // Ship without a waybill: refused; under it: accepted; wrong receiver
  // refused; the consignee receives and the waybill closes.
  EXPECT_EQ(event(*acme_operator_, kAcme, v1::SHIPPING, {code(3)}, "WB-E2E-2").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(event(*acme_operator_, kAcme, v1::SHIPPING, {code(1), code(2)}, "WB-E2E-1").ok());
  EXPECT_EQ(event(*acme_admin_, kAcme, v1::RECEIVING, {code(1)}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(event(*other_admin_, kOther, v1::RECEIVING, {code(1), code(2)}).ok());
  v1::WaybillRecord record;
  ASSERT_TRUE(GetWaybill(*regulator_, "WB-E2E-1", &record).ok());
  EXPECT_EQ(record.status(), v1::CLOSED);
  EXPECT_EQ(record.received_size(), 2);
  // The package's history shows the shipment under the waybill.
  grpc::ClientContext history_context;
  read_auth::AttachReadCredentials(&history_context, api::kGetHistoryMethod, *other_admin_);
  v1::GetHistoryRequest history_request;
  history_request.set_code(code(1));
  v1::History history;
  ASSERT_TRUE(ledger_->GetHistory(&history_context, history_request, &history).ok());
  ASSERT_EQ(history.events_size(), 3);
  v1::Event shipped;
  shipped.ParseFromString(history.events(1).entry().envelope().payload());
  EXPECT_EQ(shipped.waybill_id(), "WB-E2E-1");
  EXPECT_EQ(history.custodian(), kOther);

  // Listing, a page at a time.
  {
    grpc::ClientContext context;
    v1::WaybillResult result;
    ASSERT_TRUE(waybills_->Submit(&context, waybill("WB-E2E-4", {code(3)}), &result).ok());
  }
  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    read_auth::AttachReadCredentials(&context, api::kListWaybillsMethod, *regulator_);
    v1::ListWaybillsRequest list;
    list.set_consignor_uscc(kAcme);
    list.set_carrier_uscc(carrier);  // other tests' waybills from Acme are not this test's
    list.set_page_size(1);
    list.set_page_token(token);
    v1::ListWaybillsResponse page;
    ASSERT_TRUE(waybills_->ListWaybills(&context, list, &page).ok());
    for (const auto& w : page.waybills()) listed.push_back(w.waybill().waybill_number());
    token = page.next_page_token();
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(listed, (std::vector<std::string>{"WB-E2E-1", "WB-E2E-4"}));
  {
    grpc::ClientContext context;
    read_auth::AttachReadCredentials(&context, api::kListWaybillsMethod, *regulator_);
    v1::ListWaybillsRequest list;
    list.set_consignee_uscc(kAcme);  // nobody sends to Acme
    v1::ListWaybillsResponse page;
    ASSERT_TRUE(waybills_->ListWaybills(&context, list, &page).ok());
    EXPECT_EQ(page.waybills_size(), 0);
  }
}

// A carrier streams 10,000 e-waybills, 200 of them wrong in 18 different
// ways. Each gets exactly one result, in order: a wrong one its own code and
// a message naming the field, and nothing written; a right one its own log
// entry, in stream order. The whole stream sent again gets the same results
// (the accepted ones replayed, at their log indexes) and writes nothing; so
// does it after the server is killed with SIGKILL and restarted.
TEST_F(ChemledgerdTest, AStreamOf10000WaybillsGetsOneResultEachAndReplaysWhole) {
  using grpc::StatusCode;
  EnsureEnterprises();
  const std::string producer = registry::testing::ExampleUscc("320500");
  const std::string carrier = registry::testing::ExampleUscc("320200");
  const std::string nobody = registry::testing::ExampleUscc("440300");  // never registered
  const crypto::SigningKey producer_key = RegisterProducer(producer, "bulk producer admin");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "bulk dispatcher");
  ASSERT_FALSE(HasFailure());

  constexpr int kWaybills = 10000;
  constexpr int kSpare = 50;  // issued, never commissioned
  Issued issued = IssueM01(producer, producer_key, "BULK1", kWaybills + kSpare);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_EQ(issued.labels.size(), static_cast<size_t>(kWaybills + kSpare));
  const auto code = [&](int i) -> const std::string& { return issued.labels[i].code(); };
  // The first 10,000 commissioned, kMaxCodesPerEvent to an event.
  for (int from = 0; from < kWaybills; from += api::kMaxCodesPerEvent) {
    v1::Event e;
    e.set_event_id(absl::StrCat("bulk-commission-", from));
    e.set_step(v1::COMMISSIONING);
    for (int i = from; i < from + api::kMaxCodesPerEvent; ++i) e.add_codes(code(i));
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Minutes(1)));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(producer);
    e.mutable_location()->set_site("warehouse 1");
    const grpc::Status status = AppendEvent(producer_key, e);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Waybill i lists code i. Every 50th, from the 25th, is wrong in one of
  // kKinds ways, in turn; those that refer to another waybill refer to the
  // one just before, which is right.
  constexpr int kKinds = 18;
  const auto number = [](int i) { return absl::StrCat("WB-BULK-", i); };
  const auto request_id = [](int i) { return absl::StrCat("bulk-", i); };
  struct Expected {
    StatusCode code = StatusCode::OK;
    std::string fragment;  // of the message
  };
  std::vector<v1::SignedEnvelope> requests;
  std::vector<Expected> expected;
  std::vector<int> kind_count(kKinds, 0);
  int spare = kWaybills;
  for (int i = 0; i < kWaybills; ++i) {
    v1::WaybillRequest r;
    r.set_request_id(request_id(i));
    *r.mutable_submit() = waybill::testing::ExampleWaybill(number(i), carrier, producer, kOther,
                                                           {code(i)}, 25000, "KGM");
    v1::Waybill& w = *r.mutable_submit();
    const crypto::SigningKey* signer = &carrier_key;
    bool tamper = false;
    Expected e;
    if (i % 50 == 25) {
      const int kind = (i / 50) % kKinds;
      ++kind_count[kind];
      switch (kind) {
        case 0:
          w.mutable_vehicle()->set_plate("A123456");
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.vehicle.plate: 'A123456' must begin with a province abbreviation"};
          break;
        case 1:
          w.mutable_vehicle()->set_plate_colour(v1::GREEN);
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.vehicle.plate_colour: GREEN does not go with plate '闽A12345'"};
          break;
        case 2:
          w.clear_escort();
          e = {StatusCode::INVALID_ARGUMENT, "waybill.escort.name: is required"};
          break;
        case 3:
          *w.mutable_escort() = w.driver();
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.escort: must be another person than the driver"};
          break;
        case 4:
          w.mutable_driver()->clear_qualification_number();
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.driver.qualification_number: 从业资格证号 is required"};
          break;
        case 5:
          w.mutable_planned_arrival()->set_seconds(w.planned_departure().seconds() - 3600);
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.planned_arrival: must be after planned_departure"};
          break;
        case 6:
          w.mutable_destination()->set_region_code("990000");
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.destination.region_code: '990000' starts with 99, which is no "
               "province-level division"};
          break;
        case 7:
          w.mutable_goods(0)->set_un_number("1203");
          e = {StatusCode::INVALID_ARGUMENT,
               absl::StrCat("waybill.goods[0]: UN 1203 class 3 PG 'II' does not match ", code(i),
                            " (UN 1230 class 3 PG 'II')")};
          break;
        case 8:
          w.mutable_goods(0)->set_codes(0, code(i - 1));
          e = {StatusCode::FAILED_PRECONDITION,
               absl::StrCat("waybill.goods[0].codes[0]: ", code(i - 1),
                            " is already on open waybill ", number(i - 1))};
          break;
        case 9:
          w.mutable_goods(0)->set_codes(0, code(spare));
          e = {StatusCode::NOT_FOUND,
               absl::StrCat("waybill.goods[0].codes[0]: ", code(spare), " is not in the ledger")};
          ++spare;
          break;
        case 10:  // Other sends the producer's package
          w = waybill::testing::ExampleWaybill(number(i), carrier, kOther, producer, {code(i)},
                                               25000, "KGM");
          e = {StatusCode::FAILED_PRECONDITION,
               absl::StrCat("waybill.goods[0].codes[0]: ", code(i),
                            " is not in the custody of the consignor")};
          break;
        case 11:
          w.set_waybill_number(number(i - 1));
          e = {StatusCode::ALREADY_EXISTS,
               absl::StrCat("waybill.waybill_number: '", number(i - 1), "' is already taken")};
          break;
        case 12:
          w = waybill::testing::ExampleWaybill(number(i), carrier, producer, nobody, {code(i)},
                                               25000, "KGM");
          e = {StatusCode::NOT_FOUND,
               absl::StrCat("waybill.consignee.uscc: ", nobody, " is not registered")};
          break;
        case 13:
          w.set_waste_code("900-041-49");
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.waste_manifest: 危险废物转移联单 number is required for waste"};
          break;
        case 14:
          w.set_waste_manifest("3205002026000001");
          w.set_waste_code("90004149");
          e = {StatusCode::INVALID_ARGUMENT,
               "waybill.waste_code: '90004149' must be 8 digits as NNN-NNN-NN"};
          break;
        case 15:
          tamper = true;
          e = {StatusCode::UNAUTHENTICATED, "envelope.signatures[0].sig"};
          break;
        case 16:
          signer = &producer_key;
          e = {StatusCode::PERMISSION_DENIED,
               absl::StrCat("envelope.signatures[0].key_id: actor 'bulk producer admin' may not "
                            "change waybills of ",
                            carrier, ": only the carrier's actors may")};
          break;
        case 17:
          r.set_request_id(request_id(i - 1));
          e = {StatusCode::ALREADY_EXISTS,
               absl::StrCat("request.request_id: '", request_id(i - 1),
                            "' was already used for another request")};
          break;
      }
    }
    v1::SignedEnvelope signed_request =
        *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), *signer);
    if (tamper) {  // another plate, after signing
      r.mutable_submit()->mutable_vehicle()->set_plate("闽A54321");
      signed_request.set_payload(r.SerializeAsString());
    }
    requests.push_back(std::move(signed_request));
    expected.push_back(std::move(e));
  }
  ASSERT_EQ(spare - kWaybills, kind_count[9]);
  ASSERT_LE(spare, kWaybills + kSpare);
  for (int kind = 0; kind < kKinds; ++kind) ASSERT_GE(kind_count[kind], 11) << kind;
  const size_t valid = std::count_if(expected.begin(), expected.end(),
                                     [](const Expected& e) { return e.code == StatusCode::OK; });
  ASSERT_EQ(valid, 9800u);

  // One pass: at most a few mismatches reported in full.
  const uint64_t before = LogSize();
  const absl::Time start = absl::Now();
  const std::vector<v1::WaybillResult> first = StreamWaybills(requests);
  const absl::Duration first_took = absl::Now() - start;
  ASSERT_EQ(first.size(), requests.size()) << "not one result per request";
  {
    std::vector<std::string> wrong;
    std::set<uint64_t> indexes;
    uint64_t previous = 0;
    for (int i = 0; i < kWaybills; ++i) {
      const v1::WaybillResult& r = first[i];
      const Expected& e = expected[i];
      if (e.code == StatusCode::OK) {
        if (r.code() != 0 || r.replayed() || r.log_index() < before ||
            r.log_index() >= before + valid || (!indexes.empty() && r.log_index() <= previous)) {
          wrong.push_back(absl::StrCat(i, ": code ", r.code(), " '", r.message(), "' at ",
                                       r.log_index(), " replayed ", r.replayed(),
                                       " (previous accepted at ", previous, ")"));
        }
        indexes.insert(r.log_index());
        previous = r.log_index();
      } else if (r.code() != static_cast<int>(e.code) ||
                 r.message().find(e.fragment) == std::string::npos || r.log_index() != 0 ||
                 r.replayed()) {
        wrong.push_back(absl::StrCat(i, ": code ", r.code(), " '", r.message(), "', expected ",
                                     static_cast<int>(e.code), " '", e.fragment, "'"));
      }
    }
    EXPECT_EQ(indexes.size(), valid) << "accepted waybills share log indexes";
    EXPECT_TRUE(wrong.empty()) << wrong.size() << " unexpected results, first: "
                               << absl::StrJoin(wrong.begin(),
                                                wrong.begin() + std::min<size_t>(wrong.size(), 10),
                                                "\n");
  }
  EXPECT_EQ(LogSize(), before + valid) << "the log grew by other than the accepted waybills";

  // The refused wrote nothing: no waybill of their numbers.
  for (int i = 25; i < kWaybills; i += 50) {
    v1::WaybillRecord record;
    EXPECT_EQ(GetWaybill(*regulator_, number(i), &record).error_code(), StatusCode::NOT_FOUND)
        << number(i);
  }
  {
    v1::WaybillRecord record;
    ASSERT_TRUE(GetWaybill(*regulator_, number(kWaybills - 1), &record).ok());
    EXPECT_EQ(record.status(), v1::OPEN);
    EXPECT_EQ(record.log_index(), first.back().log_index());
    ASSERT_EQ(record.waybill().goods_size(), 1);
    EXPECT_EQ(record.waybill().goods(0).codes(0), code(kWaybills - 1));
  }

  // The same stream again, and again after SIGKILL: the same results.
  const auto same_as_first = [&](const std::vector<v1::WaybillResult>& again,
                                 const std::string& when) {
    ASSERT_EQ(again.size(), first.size()) << when;
    std::vector<std::string> wrong;
    for (int i = 0; i < kWaybills; ++i) {
      const v1::WaybillResult& a = first[i];
      const v1::WaybillResult& b = again[i];
      if (b.code() != a.code() || b.message() != a.message() || b.log_index() != a.log_index() ||
          b.replayed() != (a.code() == 0)) {
        wrong.push_back(absl::StrCat(i, ": code ", b.code(), " '", b.message(), "' at ",
                                     b.log_index(), " replayed ", b.replayed(), "; first code ",
                                     a.code(), " '", a.message(), "' at ", a.log_index()));
      }
    }
    EXPECT_TRUE(wrong.empty()) << when << ": " << wrong.size() << " results differ, first: "
                               << absl::StrJoin(wrong.begin(),
                                                wrong.begin() + std::min<size_t>(wrong.size(), 10),
                                                "\n");
  };
  const absl::Time retry_start = absl::Now();
  same_as_first(StreamWaybills(requests), "retried");
  const absl::Duration retry_took = absl::Now() - retry_start;
  EXPECT_EQ(LogSize(), before + valid) << "the retry wrote to the log";

  ASSERT_TRUE(server_->Kill(SIGKILL).ok());
  ASSERT_TRUE(server_->Wait().ok());
  const absl::Time restart_start = absl::Now();
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  const absl::Duration restart_took = absl::Now() - restart_start;
  EXPECT_EQ(LogSize(), before + valid) << "acknowledged waybills lost to SIGKILL";
  same_as_first(StreamWaybills(requests), "after SIGKILL");
  EXPECT_EQ(LogSize(), before + valid) << "the retry after SIGKILL wrote to the log";
  RecordProperty("first_stream_ms", static_cast<int>(absl::ToInt64Milliseconds(first_took)));
  RecordProperty("retry_stream_ms", static_cast<int>(absl::ToInt64Milliseconds(retry_took)));
  RecordProperty("restart_ms", static_cast<int>(absl::ToInt64Milliseconds(restart_took)));
}


// One waybill's life across two enterprises' custody, over gRPC: submitted
// (a second open waybill for one of its packages refused), shipped by the
// consignor, departed and arrived by the carrier, refused to a third
// enterprise, received by the consignee; it closes. Each package's history
// shows the shipment under the waybill and the custodian's change, and every
// event proves into a signed checkpoint. Shipping under a cancelled waybill
// is refused.
TEST_F(ChemledgerdTest, AWaybillShipsDepartsArrivesAndIsReceivedAcrossCustody) {
  using grpc::StatusCode;
  EnsureEnterprises();
  const std::string consignor = registry::testing::ExampleUscc("370200");
  const std::string consignee = registry::testing::ExampleUscc("370600");
  const std::string third = registry::testing::ExampleUscc("370300");
  const std::string carrier = registry::testing::ExampleUscc("370100");
  const crypto::SigningKey consignor_key = RegisterProducer(consignor, "life consignor admin");
  const crypto::SigningKey consignee_key = RegisterProducer(consignee, "life consignee admin");
  const crypto::SigningKey third_key = RegisterProducer(third, "life third admin");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "life dispatcher");
  ASSERT_FALSE(HasFailure());
  Issued issued = IssueM01(consignor, consignor_key, "LIFE1", 4);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const auto code = [&](int serial) { return issued.labels[serial - 1].code(); };

  absl::Time clock = absl::Now() - absl::Minutes(10);
  int next = 0;
  const auto event = [&](const crypto::SigningKey& key, const std::string& who,
                         v1::BusinessStep step, std::vector<std::string> codes,
                         const std::string& waybill = "") {
    v1::Event e;
    e.set_event_id(absl::StrCat("life-ev-", ++next));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    clock += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(who);
    e.mutable_location()->set_site("dock");
    if (!waybill.empty()) {
      e.set_waybill_id(waybill);
      e.set_consignee_uscc(consignee);
    }
    return AppendEvent(key, e);
  };
  // Refused with `code` and a message holding `fragment`; the log unchanged.
  const auto refused = [&](const std::function<grpc::Status()>& call, StatusCode code,
                           const std::string& fragment) {
    const uint64_t before = LogSize();
    const grpc::Status status = call();
    EXPECT_EQ(status.error_code(), code) << fragment << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(fragment), std::string::npos)
        << "expected '" << fragment << "' in: " << status.error_message();
    EXPECT_EQ(LogSize(), before) << "refused, yet the log grew: " << fragment;
  };
  int request_number = 0;
  const auto change = [&](const std::function<void(v1::WaybillRequest*)>& fill,
                          v1::WaybillResult* result = nullptr) {
    v1::WaybillRequest r;
    r.set_request_id(absl::StrCat("life-", ++request_number));
    fill(&r);
    grpc::ClientContext context;
    v1::WaybillResult ignored;
    return waybills_->Submit(
        &context, *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_key),
        result != nullptr ? result : &ignored);
  };
  const auto submit = [&](const std::string& number, std::vector<std::string> codes,
                          v1::WaybillResult* result = nullptr) {
    return change(
        [&](v1::WaybillRequest* r) {
          *r->mutable_submit() = waybill::testing::ExampleWaybill(number, carrier, consignor,
                                                                  consignee, codes, 25000, "KGM");
        },
        result);
  };
  const auto move = [&](const std::string& number, bool depart) {
    return change([&](v1::WaybillRequest* r) {
      v1::WaybillMovement* m = depart ? r->mutable_depart() : r->mutable_arrive();
      m->set_waybill_number(number);
      m->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    });
  };
  const auto cancel = [&](const std::string& number, const std::string& reason) {
    return change([&](v1::WaybillRequest* r) {
      r->mutable_cancel()->set_waybill_number(number);
      r->mutable_cancel()->set_reason(reason);
    });
  };
  // The waybill as the carrier reads it.
  const auto record_of = [&](const std::string& number) {
    v1::WaybillRecord record;
    const grpc::Status status = GetWaybill(carrier_key, number, &record);
    EXPECT_TRUE(status.ok()) << number << ": " << status.error_message();
    return record;
  };
  const auto listed = [](const google::protobuf::RepeatedPtrField<std::string>& codes) {
    return std::vector<std::string>(codes.begin(), codes.end());
  };

  ASSERT_TRUE(event(consignor_key, consignor, v1::COMMISSIONING,
                    {code(1), code(2), code(3), code(4)})
                  .ok());

  // Submitted: OPEN. A second open waybill for one of its packages: refused.
  v1::WaybillResult submitted;
  grpc::Status status = submit("WB-LIFE-1", {code(1), code(2)}, &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  {
    // The answer carries the waybill's code, which verifies offline against
    // the trust list pinned at init and states this waybill.
    const crypto::WaybillCodeCheck check =
        crypto::VerifyWaybillCode(submitted.waybill_code(), FetchTrustList());
    ASSERT_EQ(check.verdict, crypto::LabelVerdict::kAuthentic)
        << check.detail << " " << submitted.waybill_code();
    EXPECT_EQ(check.code->claims.waybill_number, "WB-LIFE-1");
    EXPECT_EQ(check.code->claims.carrier_uscc, carrier);
    EXPECT_EQ(check.code->claims.revision, submitted.log_index());
    EXPECT_EQ(check.code->claims.goods.at(0).codes, 2u);
    const v1::WaybillRecord record = record_of("WB-LIFE-1");
    EXPECT_EQ(record.waybill_code(), submitted.waybill_code());
    EXPECT_EQ(record.status(), v1::OPEN);
    EXPECT_EQ(record.log_index(), submitted.log_index());
    EXPECT_TRUE(record.shipped().empty());
  }
  refused([&] { return submit("WB-LIFE-2", {code(3), code(2)}); }, StatusCode::FAILED_PRECONDITION,
          absl::StrCat("waybill.goods[0].codes[1]: ", code(2), " is already on open waybill WB-LIFE-1"));
  {
    v1::WaybillRecord record;
    // (Only a regulator learns that a number is unknown.)
    EXPECT_EQ(GetWaybill(*regulator_, "WB-LIFE-2", &record).error_code(), StatusCode::NOT_FOUND);
  }

  // Cancelled: shipping under it refused; its package free for another.
  ASSERT_TRUE(submit("WB-LIFE-3", {code(3)}).ok());
  refused([&] { return cancel("WB-LIFE-3", ""); }, StatusCode::INVALID_ARGUMENT,
          "cancel.reason: is required");
  status = cancel("WB-LIFE-3", "the consignee postponed the order");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(record_of("WB-LIFE-3").status(), v1::CANCELLED);
  refused([&] { return event(consignor_key, consignor, v1::SHIPPING, {code(3)}, "WB-LIFE-3"); },
          StatusCode::FAILED_PRECONDITION, "event.waybill_id: waybill 'WB-LIFE-3' is CANCELLED");
  refused([&] { return move("WB-LIFE-3", /*depart=*/true); }, StatusCode::FAILED_PRECONDITION,
          "depart.waybill_number: 'WB-LIFE-3' is CANCELLED");
  ASSERT_TRUE(submit("WB-LIFE-4", {code(3)}).ok());
  refused([&] { return move("WB-LIFE-4", /*depart=*/false); }, StatusCode::FAILED_PRECONDITION,
          "arrive.waybill_number: 'WB-LIFE-4' is OPEN, not departed");
  // A package not on the waybill does not ship under it.
  refused([&] { return event(consignor_key, consignor, v1::SHIPPING, {code(4)}, "WB-LIFE-1"); },
          StatusCode::FAILED_PRECONDITION,
          absl::StrCat("event.waybill_id: waybill 'WB-LIFE-1' does not list ", code(4)));

  // Shipped: in transit, still the consignor's.
  ASSERT_TRUE(event(consignor_key, consignor, v1::SHIPPING, {code(1), code(2)}, "WB-LIFE-1").ok());
  {
    const v1::WaybillRecord record = record_of("WB-LIFE-1");
    EXPECT_EQ(record.status(), v1::OPEN);
    EXPECT_EQ(listed(record.shipped()), (std::vector<std::string>{code(1), code(2)}));
    v1::History history;
    ASSERT_TRUE(GetHistory(consignor_key, code(1), &history).ok());
    EXPECT_EQ(history.status(), "in-transit");
    EXPECT_EQ(history.custodian(), consignor);
  }
  // Departed, then arrived; neither twice.
  status = move("WB-LIFE-1", /*depart=*/true);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(record_of("WB-LIFE-1").status(), v1::DEPARTED);
  refused([&] { return move("WB-LIFE-1", /*depart=*/true); }, StatusCode::FAILED_PRECONDITION,
          "depart.waybill_number: 'WB-LIFE-1' is DEPARTED");
  status = move("WB-LIFE-1", /*depart=*/false);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(record_of("WB-LIFE-1").status(), v1::ARRIVED);
  refused([&] { return move("WB-LIFE-1", /*depart=*/false); }, StatusCode::FAILED_PRECONDITION,
          "arrive.waybill_number: 'WB-LIFE-1' is ARRIVED, not departed");

  // Received by a third enterprise: refused. By the consignee: one, then the
  // other; the waybill closes with the last.
  refused([&] { return event(third_key, third, v1::RECEIVING, {code(1)}); },
          StatusCode::PERMISSION_DENIED,
          absl::StrCat("event.codes[0]: ", code(1), " is consigned to ", consignee, ", not to ",
                       third));
  ASSERT_TRUE(event(consignee_key, consignee, v1::RECEIVING, {code(1)}).ok());
  {
    const v1::WaybillRecord record = record_of("WB-LIFE-1");
    EXPECT_EQ(record.status(), v1::ARRIVED);
    EXPECT_EQ(listed(record.received()), std::vector<std::string>{code(1)});
  }
  ASSERT_TRUE(event(consignee_key, consignee, v1::RECEIVING, {code(2)}).ok());
  {
    const v1::WaybillRecord record = record_of("WB-LIFE-1");
    EXPECT_EQ(record.status(), v1::CLOSED);
    EXPECT_EQ(listed(record.received()), (std::vector<std::string>{code(1), code(2)}));
  }
  refused([&] { return cancel("WB-LIFE-1", "too late"); }, StatusCode::FAILED_PRECONDITION,
          "cancel.waybill_number: 'WB-LIFE-1' is CLOSED");
  // Closed, nothing more ships under it.
  refused([&] { return event(consignor_key, consignor, v1::SHIPPING, {code(4)}, "WB-LIFE-1"); },
          StatusCode::FAILED_PRECONDITION, "event.waybill_id: waybill 'WB-LIFE-1' is CLOSED");

  // Each package's history: commissioned at the consignor, shipped under the
  // waybill to the consignee, received there; every event proves into a
  // signed checkpoint. The third enterprise, which never held them, may not
  // read it.
  absl::StatusOr<crypto::Checkpoint> checkpoint = VerifiedCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  for (int serial : {1, 2}) {
    for (const crypto::SigningKey* reader :
         std::vector<const crypto::SigningKey*>{&consignee_key, &consignor_key, regulator_}) {
      v1::History history;
      status = GetHistory(*reader, code(serial), &history);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(history.custodian(), consignee);
      EXPECT_EQ(history.status(), "active");
      ASSERT_EQ(history.events_size(), 3) << code(serial);
      std::vector<v1::Event> events(3);
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(events[i].ParseFromString(history.events(i).entry().envelope().payload()));
      }
      EXPECT_EQ(events[0].step(), v1::COMMISSIONING);
      EXPECT_EQ(events[0].location().enterprise_uscc(), consignor);
      EXPECT_EQ(events[1].step(), v1::SHIPPING);
      EXPECT_EQ(events[1].location().enterprise_uscc(), consignor);
      EXPECT_EQ(events[1].waybill_id(), "WB-LIFE-1");
      EXPECT_EQ(events[1].consignee_uscc(), consignee);
      EXPECT_EQ(events[2].step(), v1::RECEIVING);
      EXPECT_EQ(events[2].location().enterprise_uscc(), consignee);
      EXPECT_GT(history.events(1).log_index(), submitted.log_index())
          << "shipped before the waybill was logged";
      ExpectHistoryVerifies(code(serial), history, *checkpoint);
    }
    v1::History history;
    EXPECT_EQ(GetHistory(third_key, code(serial), &history).error_code(),
              StatusCode::PERMISSION_DENIED);
  }
}

// A freshly started server holds hundreds of calls in flight at once: each
// waits its turn (none is refused with RESOURCE_EXHAUSTED), and every read
// says the log size it was served at.
TEST_F(ChemledgerdTest, HundredsOfConcurrentReadsAllGetAnswers) {
  EnsureEnterprises();
  StartServer();  // a fresh server, as a client after a restart meets it
  Issued issued = Issue(IssueRequest("CONC", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  v1::Event commission;
  commission.set_event_id("concurrent-reads-commission");
  commission.set_step(v1::COMMISSIONING);
  commission.add_codes(code);
  commission.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  commission.set_event_time_offset_minutes(480);
  commission.mutable_location()->set_enterprise_uscc(kAcme);
  commission.mutable_location()->set_site("plant");
  ASSERT_TRUE(AppendEvent(*acme_operator_, commission).ok());

  constexpr int kCalls = 300;
  std::vector<std::thread> readers;
  std::atomic<int> answered{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  for (int i = 0; i < kCalls; ++i) {
    readers.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      read_auth::AttachReadCredentials(&context, api::kGetHistoryMethod, *regulator_);
      v1::GetHistoryRequest request;
      request.set_code(code);
      v1::History history;
      grpc::Status status = ledger_->GetHistory(&context, request, &history);
      const auto size = context.GetServerInitialMetadata().find("chemledger-log-size");
      if (status.ok() && history.events_size() == 1 && history.log_size() > 0 &&
          size != context.GetServerInitialMetadata().end() &&
          std::string(size->second.data(), size->second.size()) ==
              std::to_string(history.log_size())) {
        ++answered;
      } else {
        std::lock_guard<std::mutex> lock(failures_mu);
        failures.push_back(absl::StrCat(status.error_code(), " ", status.error_message()));
      }
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(answered.load(), kCalls) << failures.size() << " failed, first: "
                                     << (failures.empty() ? "" : failures[0]);
}

}  // namespace
}  // namespace chemledger
