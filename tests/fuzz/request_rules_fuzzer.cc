// Each service's request validation and rules (docs/fuzzing.md): whatever a
// registered actor signs, the cores behind RegistryService, LabelService,
// LedgerService and WaybillService take it or refuse it, and never crash.
// A whole ledger runs in this process on a real LevelDB store (testing/
// test_ledger.h), set up once: a platform administrator, a producer with
// its administrator, operator and methanol product, a carrier with its
// dispatcher, issued and commissioned labels. The input's first byte picks
// the kind of request and its signer; the rest is the payload, signed as it
// is and handed to the core the service would hand it to. Accepted
// requests are committed (the ledger grows as the fuzzer finds them).

#include <memory>
#include <string>
#include <vector>

#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/label_testing.h"
#include "google/protobuf/stubs/logging.h"
#include "services/common/envelope.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "services/waybill/waybill_testing.h"
#include "testing/test_ledger.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
namespace {

constexpr char kProducer[] = "91350100M000100Y43";
constexpr char kCarrier[] = "91110105M000100Y4D";
constexpr char kConsignee[] = "91110105771583283D";

struct World {
  crypto::SigningKey admin = crypto::testing::TestKey(1);
  crypto::SigningKey producer_admin = crypto::testing::TestKey(2);
  crypto::SigningKey operator_key = crypto::testing::TestKey(3);
  crypto::SigningKey dispatcher = crypto::testing::TestKey(4);
  std::unique_ptr<testing::TestLedger> ledger;
  std::vector<std::string> codes;
};

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    fprintf(stderr, "request_rules_fuzzer: setting up %s: %s\n", what, s.ToString().c_str());
    abort();
  }
}

World& TheWorld() {
  static World* world = [] {
    // Payloads that are not valid UTF-8 are refused; protobuf need not say
    // so on stderr for each.
    google::protobuf::SetLogHandler(nullptr);
    auto* w = new World();
    w->ledger = testing::TestLedger::Create("request_rules_fuzzer", w->admin);
    testing::TestLedger& t = *w->ledger;
    Check(t.AddLabelKey(w->admin).status(), "the label key");
    Check(t.RegisterEnterprise(w->admin, registry::testing::ExampleProducer(kProducer)),
          "the producer");
    Check(t.RegisterEnterprise(w->admin, registry::testing::ExampleEnterprise(
                                             kCarrier, v1::CARRIER, v1::ROAD_TRANSPORT)),
          "the carrier");
    Check(t.RegisterEnterprise(w->admin, registry::testing::ExampleEnterprise(
                                             kConsignee, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED)),
          "the consignee");
    Check(t.AddActor(w->admin, kProducer, v1::ENTERPRISE_ADMIN, w->producer_admin), "an admin");
    Check(t.AddActor(w->producer_admin, kProducer, v1::ENTERPRISE_OPERATOR, w->operator_key),
          "an operator");
    Check(t.AddActor(w->admin, kCarrier, v1::ENTERPRISE_ADMIN, w->dispatcher), "a dispatcher");
    Check(t.RegisterProduct(w->producer_admin, registry::testing::ExampleMethanol(kProducer, "M01")),
          "the product");
    Check(t.AuthorizeCarrier(w->producer_admin, kCarrier), "the carrier's authorization");
    absl::StatusOr<label::Issuance> issued =
        t.IssueBatch(w->operator_key, kProducer, "M01", "FUZZ", 20);
    Check(issued.status(), "labels");
    for (int i = 1; i <= 20; ++i) w->codes.push_back(absl::StrCat(kProducer, ".M01.FUZZ.", i));
    return w;
  }();
  return *world;
}

const crypto::SignatureContext& ContextOf(int kind) {
  static const crypto::SignatureContext* const kContexts[] = {
      &api::kRegistryContext, &api::kIssueLabelsContext, &api::kEventContext,
      &api::kWaybillContext};
  return *kContexts[kind];
}

// The first byte: the kind (low two bits) and the signer (next two).
std::string Input(int kind, int signer, const std::string& payload) {
  return std::string(1, static_cast<char>(kind | (signer << 2))) + payload;
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  World& w = TheWorld();
  std::vector<std::string> seeds;
  v1::RegistryRequest site;
  site.set_request_id("seed-site");
  *site.mutable_register_site() = registry::testing::ExampleSite(kProducer, "warehouse 9");
  seeds.push_back(Input(0, 1, site.SerializeAsString()));
  v1::IssueLabelsRequest issue;
  issue.set_request_id("seed-issue");
  issue.set_enterprise_uscc(kProducer);
  issue.set_product_number("M01");
  issue.set_batch("SEED");
  *issue.mutable_production_date() = api::ToProtoDate(api::TodayInChina() - 1);
  issue.set_package_count(3);
  issue.set_net_quantity("25");
  issue.set_unit("KGM");
  seeds.push_back(Input(1, 2, issue.SerializeAsString()));
  v1::Event e;
  e.set_event_id("seed-commission");
  e.set_step(v1::COMMISSIONING);
  e.add_codes(w.codes[0]);
  e.add_codes(w.codes[1]);
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(kProducer);
  e.mutable_location()->set_site("warehouse 1");
  seeds.push_back(Input(2, 2, e.SerializeAsString()));
  seeds.push_back(Input(2 | 0x10, 2, e.SerializeAsString()));  // as a batch
  e.set_event_id("seed-consume");
  e.set_step(v1::CONSUMING);
  e.set_quantity_milli(1000);
  seeds.push_back(Input(2, 2, e.SerializeAsString()));
  v1::WaybillRequest waybill;
  waybill.set_request_id("seed-waybill");
  *waybill.mutable_submit() = waybill::testing::ExampleWaybill(
      "WB-SEED-1", kCarrier, kProducer, kConsignee, {w.codes[0]}, 25000, "KGM");
  seeds.push_back(Input(3, 3, waybill.SerializeAsString()));
  return seeds;
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using chemledger::fuzz::World;
  if (size == 0 || size > (1 << 16)) return 0;
  World& w = chemledger::fuzz::TheWorld();
  const int kind = data[0] & 3;
  const chemledger::crypto::SigningKey* const signers[] = {&w.admin, &w.producer_admin,
                                                            &w.operator_key, &w.dispatcher};
  const chemledger::crypto::SigningKey& signer = *signers[(data[0] >> 2) & 3];
  const std::string payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<chemledger::v1::SignedEnvelope> envelope =
      chemledger::envelope::Sign(chemledger::fuzz::ContextOf(kind), payload, signer);
  if (!envelope.ok()) return 0;
  chemledger::testing::TestLedger& t = *w.ledger;
  absl::Status s;
  switch (kind) {
    case 0: {
      const chemledger::v1::SignedEnvelope* one[] = {&*envelope};
      s = chemledger::registry::SubmitSigned(t.client(), one, chemledger::api::kRegistryContext)[0]
              .status();
      break;
    }
    case 1:
      s = t.issuer().Issue(*envelope).status();
      break;
    case 2:
      if (data[0] & 0x10) {
        // As LedgerService's streams hand it on (AppendStream, AppendBatches):
        // a batch, here holding the same event twice, which must be taken
        // once (the second a replay of the first, at its index) or refused
        // twice, each time for a reason.
        const std::vector<const chemledger::v1::SignedEnvelope*> batch = {&*envelope, &*envelope};
        std::vector<absl::StatusOr<chemledger::ledger::EventReceipt>> receipts =
            t.ledger().AppendBatch(batch);
        if (receipts.size() != batch.size()) abort();
        if (receipts[0].ok() != receipts[1].ok()) abort();
        if (receipts[0].ok() && receipts[1]->log_index != receipts[0]->log_index) {
          abort();  // the same event written twice
        }
        s = receipts[0].ok() ? receipts[1].status() : receipts[0].status();
      } else {
        s = t.ledger().Append(*envelope).status();
      }
      break;
    case 3:
      s = t.waybills().Apply(*envelope).status();
      break;
  }
  // A refusal always says why.
  if (!s.ok() && s.message().empty()) abort();
  return 0;
}
