// End to end, e-waybills: a real chemledgerd per test (init, then serve on
// loopback; tests/e2e_server.h), real gRPC calls, real LevelDB on disk.
// Packages move between enterprises on a waybill; a carrier streams 10,000
// e-waybills, 200 of them wrong, and gets one result each, the same again on
// a retry and after SIGKILL; one waybill's life across custody, with every
// event proving into a signed checkpoint.

#include <signal.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "crypto/trust_list.h"
#include "crypto/waybill_code.h"
#include "grpcpp/grpcpp.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "tests/e2e_server.h"

namespace chemledger {
namespace {

class WaybillE2eTest : public testing::ChemledgerdE2eTest {};

// E-waybills over gRPC: a carrier streams waybills (one refused for its
// plate, one for a package already on another waybill); the consignor ships
// under the accepted one; the consignee receives; the waybill closes. The
// same stream sent again gets the same results.
TEST_F(WaybillE2eTest, PackagesMoveBetweenEnterprisesOnAWaybill) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("110105");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "dispatcher");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_admin_, carrier));
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
  const auto stream_all = [&] { return StreamWaybills(carrier_key, requests); };
  const uint64_t before = LogSize();
  std::vector<v1::WaybillResult> results = stream_all();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].code(), 0) << results[0].message();
  EXPECT_EQ(results[1].code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(results[1].message().find("waybill.vehicle.plate"), std::string::npos) << results[1].message();
  EXPECT_EQ(results[2].code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_NE(results[2].message().find("on no other open waybill"), std::string::npos)
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
            grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(event(*acme_operator_, kAcme, v1::SHIPPING, {code(1), code(2)}, "WB-E2E-1").ok());
  EXPECT_EQ(event(*acme_admin_, kAcme, v1::RECEIVING, {code(1)}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(event(*other_admin_, kOther, v1::RECEIVING, {code(1), code(2)}).ok());
  v1::WaybillRecord record;
  ASSERT_TRUE(GetWaybill(*regulator_, "WB-E2E-1", &record).ok());
  EXPECT_EQ(record.status(), v1::CLOSED);
  EXPECT_EQ(record.received_size(), 2);
  // The package's history shows the shipment under the waybill.
  v1::History history;
  ASSERT_TRUE(GetHistory(*other_admin_, code(1), &history).ok());
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
    v1::ListWaybillsRequest list;
    list.set_consignor_uscc(kAcme);
    list.set_carrier_uscc(carrier);  // both filters apply
    list.set_page_size(1);
    list.set_page_token(token);
    v1::ListWaybillsResponse page;
    ASSERT_TRUE(Read(*regulator_, api::kListWaybillsMethod, list, &page).ok());
    for (const auto& w : page.waybills()) listed.push_back(w.waybill().waybill_number());
    token = page.next_page_token();
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(listed, (std::vector<std::string>{"WB-E2E-1", "WB-E2E-4"}));
  {
    // The carrier lists its own waybills without naming itself; another
    // enterprise, party to none of them, lists nothing.
    v1::ListWaybillsRequest mine;
    v1::ListWaybillsResponse page;
    ASSERT_TRUE(Read(carrier_key, api::kListWaybillsMethod, mine, &page).ok());
    std::vector<std::string> numbers;
    for (const auto& w : page.waybills()) numbers.push_back(w.waybill().waybill_number());
    EXPECT_EQ(numbers, (std::vector<std::string>{"WB-E2E-1", "WB-E2E-4"}));
    EXPECT_TRUE(page.next_page_token().empty());
    v1::ListWaybillsRequest theirs;
    theirs.set_carrier_uscc(carrier);
    v1::ListWaybillsResponse none;
    const crypto::SigningKey bystander =
        RegisterProducer(registry::testing::ExampleUscc("440300"), "bystander");
    ASSERT_TRUE(Read(bystander, api::kListWaybillsMethod, theirs, &none).ok());
    EXPECT_EQ(none.waybills_size(), 0);
  }
  {
    v1::ListWaybillsRequest list;
    list.set_consignee_uscc(kAcme);  // nobody sends to Acme
    v1::ListWaybillsResponse page;
    ASSERT_TRUE(Read(*regulator_, api::kListWaybillsMethod, list, &page).ok());
    EXPECT_EQ(page.waybills_size(), 0);
  }
}

// A carrier streams 10,000 e-waybills, 200 of them wrong in 18 different
// ways. Each gets exactly one result, in order: a wrong one its own code and
// a message naming the field, and nothing written; a right one its own log
// entry, in stream order. The whole stream sent again gets the same results
// (the accepted ones replayed, at their log indexes) and writes nothing; so
// does it after the server is killed with SIGKILL and restarted.
// SubmitBatches: one answer per batch the client made, a result per request
// in order; a request sent again in a later batch is a replay; a batch over
// the limit ends the call with nothing of it done.
TEST_F(WaybillE2eTest, BatchesOfTheClientsAreAnsweredABatchAtATime) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("110105");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "dispatcher");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_admin_, carrier));
  v1::IssueLabelsRequest issue;
  issue.set_request_id("wbb-issue");
  issue.set_enterprise_uscc(kAcme);
  issue.set_product_number("M01");
  issue.set_batch("WBB1");
  *issue.mutable_production_date() = Today();
  issue.set_package_count(2);
  issue.set_net_quantity("25");
  issue.set_unit("KGM");
  Issued issued =
      Issue(*envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  v1::Event commission;
  commission.set_event_id("wbb-ev-1");
  commission.set_step(v1::COMMISSIONING);
  for (const v1::IssuedLabel& label : issued.labels) commission.add_codes(label.code());
  commission.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  commission.set_event_time_offset_minutes(480);
  commission.mutable_location()->set_enterprise_uscc(kAcme);
  commission.mutable_location()->set_site("dock");
  {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status s = ledger_->Append(
        &context,
        *envelope::Sign(api::kEventContext, commission.SerializeAsString(), *acme_operator_),
        &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const auto waybill = [&](const std::string& number, const std::string& code,
                           const std::string& plate) {
    v1::Waybill w =
        waybill::testing::ExampleWaybill(number, carrier, kAcme, kOther, {code}, 25000, "KGM");
    if (!plate.empty()) w.mutable_vehicle()->set_plate(plate);
    v1::WaybillRequest r;
    r.set_request_id("req-" + number);
    *r.mutable_submit() = w;
    return *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_key);
  };
  const v1::SignedEnvelope first = waybill("WB-BATCH-1", issued.labels[0].code(), "");
  const v1::SignedEnvelope bad_plate = waybill("WB-BATCH-2", issued.labels[1].code(), "BAD");
  const uint64_t before = LogSize();
  grpc::Status status;
  // Two batches: [first, bad_plate] and [first] again.
  std::vector<v1::WaybillResult> results =
      BatchWaybills(carrier_key, {first, bad_plate, first}, 2, &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].code(), 0) << results[0].message();
  EXPECT_FALSE(results[0].replayed());
  EXPECT_FALSE(results[0].waybill_code().empty());
  EXPECT_EQ(results[1].code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(results[1].message().find("waybill.vehicle.plate"), std::string::npos)
      << results[1].message();
  EXPECT_EQ(results[2].code(), 0) << results[2].message();
  EXPECT_TRUE(results[2].replayed());
  EXPECT_EQ(results[2].log_index(), results[0].log_index());
  EXPECT_EQ(LogSize(), before + 1);

  // A batch of 257 after one that is answered: INVALID_ARGUMENT once the
  // first is, nothing of it answered or written, nothing after it read.
  const v1::SignedEnvelope third = waybill("WB-BATCH-3", issued.labels[1].code(), "");
  std::vector<v1::WaybillBatchResult> answers =
      BatchWaybills(carrier_key,
                    {{first},
                     std::vector<v1::SignedEnvelope>(api::kMaxWaybillsPerBatchMessage + 1, third),
                     {third}},
                    &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("at most 256"), std::string::npos)
      << status.error_message();
  ASSERT_EQ(answers.size(), 1u);
  ASSERT_EQ(answers[0].results_size(), 1);
  EXPECT_TRUE(answers[0].results(0).replayed());
  EXPECT_EQ(LogSize(), before + 1);

  // Credentials for SubmitStream do not open SubmitBatches.
  {
    grpc::ClientContext context;
    AttachStreamCredentials(&context, api::kSubmitStreamMethod, carrier_key);
    auto stream = waybills_->SubmitBatches(&context);
    stream->WritesDone();
    v1::WaybillBatchResult answer;
    EXPECT_FALSE(stream->Read(&answer));
    const grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  // One stream per actor, of either kind: with a SubmitStream open, the
  // same key's SubmitBatches is refused.
  {
    grpc::ClientContext held_context;
    AttachStreamCredentials(&held_context, api::kSubmitStreamMethod, carrier_key);
    auto held = waybills_->SubmitStream(&held_context);
    ASSERT_TRUE(held->Write(first));  // answered: the stream is open
    v1::WaybillResult replayed;
    ASSERT_TRUE(held->Read(&replayed));
    EXPECT_TRUE(replayed.replayed());
    grpc::ClientContext context;
    AttachStreamCredentials(&context, api::kSubmitBatchesMethod, carrier_key);
    auto stream = waybills_->SubmitBatches(&context);
    stream->WritesDone();
    v1::WaybillBatchResult answer;
    EXPECT_FALSE(stream->Read(&answer));
    const grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    held->WritesDone();
    EXPECT_FALSE(held->Read(&replayed));
    EXPECT_TRUE(held->Finish().ok());
  }
}

TEST_F(WaybillE2eTest, AStreamOf10000WaybillsGetsOneResultEachAndReplaysWhole) {
  using grpc::StatusCode;
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string producer = registry::testing::ExampleUscc("320500");
  const std::string carrier = registry::testing::ExampleUscc("320200");
  const std::string nobody = registry::testing::ExampleUscc("440300");  // never registered
  const crypto::SigningKey producer_key = RegisterProducer(producer, "bulk producer admin");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "bulk dispatcher");
  const crypto::SigningKey stranger_key = crypto::SigningKey::Generate();
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(producer_key, carrier));
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*other_admin_, carrier));
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
    bool two_signatures = false;
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
               absl::StrCat("waybill.goods[0].codes[0]: ", code(i - 1), " cannot be listed: it must be in the consignor's custody, active, not packed and on no other open waybill")};
          break;
        case 9:
          w.mutable_goods(0)->set_codes(0, code(spare));
          e = {StatusCode::FAILED_PRECONDITION,
               absl::StrCat("waybill.goods[0].codes[0]: ", code(spare), " cannot be listed: it must be in the consignor's custody, active, not packed and on no other open waybill")};
          ++spare;
          break;
        case 10:  // Other sends the producer's package
          w = waybill::testing::ExampleWaybill(number(i), carrier, kOther, producer, {code(i)},
                                               25000, "KGM");
          e = {StatusCode::FAILED_PRECONDITION,
               absl::StrCat("waybill.goods[0].codes[0]: ", code(i), " cannot be listed: it must be in the consignor's custody, active, not packed and on no other open waybill")};
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
        case 16:  // on the carrier's stream, what a single Submit refuses the same way
          switch ((i / 50 / kKinds) % 3) {
            case 0:  // a request another enterprise signed
              signer = &producer_key;
              e = {StatusCode::PERMISSION_DENIED,
                   absl::StrCat("envelope.signatures[0].key_id: on a stream opened by ", carrier,
                                ", every request is signed by one of its own actors")};
              break;
            case 1:  // a key nobody registered
              signer = &stranger_key;
              e = {StatusCode::UNAUTHENTICATED,
                   absl::StrCat("envelope.signatures[0].key_id: key ",
                                stranger_key.key_id().ToString(), " is not registered")};
              break;
            default:  // two signatures
              two_signatures = true;
              e = {StatusCode::INVALID_ARGUMENT,
                   "envelope.signatures: exactly one signature is required, got 2"};
              break;
          }
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
    if (two_signatures) *signed_request.add_signatures() = signed_request.signatures(0);
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
  const std::vector<v1::WaybillResult> first = StreamWaybills(carrier_key, requests);
  const absl::Duration first_took = absl::Now() - start;
  // (The log also holds the refused requests the server records, between
  // the accepted ones: LogSize() leaves them out, the indexes do not.)
  const uint64_t raw_after = RawLogSize();
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
            r.log_index() >= raw_after || (!indexes.empty() && r.log_index() <= previous)) {
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
  same_as_first(StreamWaybills(carrier_key, requests), "retried");
  const absl::Duration retry_took = absl::Now() - retry_start;
  EXPECT_EQ(LogSize(), before + valid) << "the retry wrote to the log";

  ASSERT_NO_FATAL_FAILURE(KillServer());
  const absl::Time restart_start = absl::Now();
  StartServer();
  ASSERT_FALSE(HasFatalFailure());
  const absl::Duration restart_took = absl::Now() - restart_start;
  EXPECT_EQ(LogSize(), before + valid) << "acknowledged waybills lost to SIGKILL";
  same_as_first(StreamWaybills(carrier_key, requests), "after SIGKILL");
  EXPECT_EQ(LogSize(), before + valid) << "the retry after SIGKILL wrote to the log";
  // Sent again in batches of the client's (SubmitBatches): the same results.
  grpc::Status batched;
  same_as_first(BatchWaybills(carrier_key, requests, 256, &batched), "in batches");
  EXPECT_TRUE(batched.ok()) << batched.error_message();
  EXPECT_EQ(LogSize(), before + valid) << "the batched retry wrote to the log";
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
TEST_F(WaybillE2eTest, AWaybillShipsDepartsArrivesAndIsReceivedAcrossCustody) {
  using grpc::StatusCode;
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string consignor = registry::testing::ExampleUscc("370200");
  const std::string consignee = registry::testing::ExampleUscc("370600");
  const std::string third = registry::testing::ExampleUscc("370300");
  const std::string carrier = registry::testing::ExampleUscc("370100");
  const crypto::SigningKey consignor_key = RegisterProducer(consignor, "life consignor admin");
  const crypto::SigningKey consignee_key = RegisterProducer(consignee, "life consignee admin");
  const crypto::SigningKey third_key = RegisterProducer(third, "life third admin");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "life dispatcher");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(consignor_key, carrier));
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
  {
    // Anyone resolves the code (a roadside inspector's phone), as often as
    // the per-address limit of anonymous scans allows: a burst of 600 (and
    // 60 a second more while they are asked), then RESOURCE_EXHAUSTED.
    v1::ResolveWaybillCodeRequest request;
    request.set_url(submitted.waybill_code());
    int answered = 0;
    grpc::Status last;
    for (int i = 0; i < 100000 && last.ok(); ++i) {
      grpc::ClientContext context;
      v1::ResolveWaybillCodeResponse response;
      last = waybills_->ResolveWaybillCode(&context, request, &response);
      if (last.ok()) {
        ++answered;
        if (i == 0) {
          EXPECT_EQ(response.waybill_number(), "WB-LIFE-1");
        }
      }
    }
    EXPECT_EQ(last.error_code(), StatusCode::RESOURCE_EXHAUSTED) << last.error_message();
    EXPECT_GE(answered, 600);
  }
  refused([&] { return submit("WB-LIFE-2", {code(3), code(2)}); }, StatusCode::FAILED_PRECONDITION,
          absl::StrCat("waybill.goods[0].codes[1]: ", code(2), " cannot be listed: it must be in the consignor's custody, active, not packed and on no other open waybill"));
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
          "arrive.waybill_number: 'WB-LIFE-4' is OPEN: only a DEPARTED waybill arrives");
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
          "arrive.waybill_number: 'WB-LIFE-1' is ARRIVED: only a DEPARTED waybill arrives");
  {
    // Its signed changes, each provable: submitted, departed, arrived.
    const v1::WaybillRecord record = record_of("WB-LIFE-1");
    ASSERT_EQ(record.changes_size(), 3);
    EXPECT_EQ(record.changes(0).log_index(), record.revision());
    EXPECT_EQ(record.changes(2).log_index(), record.log_index());
    absl::StatusOr<crypto::Checkpoint> checkpoint = VerifiedCheckpoint();
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    for (const v1::WaybillChange& change : record.changes()) {
      v1::LogEntry entry;
      ASSERT_TRUE(entry.ParseFromString(change.entry()));
      EXPECT_EQ(entry.envelope().payload_type(), api::kWaybillContext.payload_type());
      ExpectProvable(change.log_index(), crypto::HashLeaf(change.entry()), *checkpoint);
    }
  }

  // Received by a third enterprise: refused. By the consignee: one, then the
  // other; the waybill closes with the last.
  refused([&] { return event(third_key, third, v1::RECEIVING, {code(1)}); },
          StatusCode::PERMISSION_DENIED,
          absl::StrCat("event.codes[0]: ", code(1), " is not a code ", third,
                       " holds, has held or is sent"));
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
         std::vector<const crypto::SigningKey*>{&consignee_key, &consignor_key, regulator_.get()}) {
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

}  // namespace
}  // namespace chemledger
