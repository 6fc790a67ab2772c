// A signed write names the deployment it is for, over gRPC: every write
// service (registry, label issuance, lifecycle events, e-waybills, unary and
// streamed) takes a request that names this deployment or none, and refuses
// one signed for another deployment (UNAUTHENTICATED, naming both) without
// writing or recording anything. The request such a replay would bring is
// made here by signing for another name with a key this deployment knows:
// the same as a key registered in two deployments.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "crypto/keys.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "journal/state_machine.h"
#include "services/common/envelope.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "tests/e2e_server.h"

namespace chemledger {
namespace {

constexpr char kElsewhere[] = "chemledger.staging";

class DeploymentBindingE2eTest : public testing::ChemledgerdE2eTest {
 protected:
  // The refusal every service gives a request signed for kElsewhere.
  static void ExpectOtherDeployment(const grpc::Status& status, const std::string& what) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(
                  absl::StrCat("deployment: the request was signed for deployment \"", kElsewhere,
                               "\", not this one (\"", kDeployment, "\")")),
              std::string::npos)
        << what << ": " << status.error_message();
  }
};

TEST_F(DeploymentBindingE2eTest, EveryWriteServiceTakesItsOwnAndRefusesAnothers) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("310115");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "dispatcher");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_admin_, carrier));

  // Label issuance.
  const auto issuance = [&](const std::string& batch, const std::string& deployment) {
    v1::IssueLabelsRequest r;
    r.set_request_id("issue-" + batch);
    r.set_enterprise_uscc(kAcme);
    r.set_product_number("M01");
    r.set_batch(batch);
    *r.mutable_production_date() = Today();
    r.set_package_count(4);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    r.set_deployment(deployment);
    return *envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), *acme_admin_);
  };
  Issued issued = Issue(issuance("B1", kDeployment), acme_admin_.get());
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_EQ(issued.labels.size(), 4u);
  const auto code = [&](int serial) { return issued.labels[serial - 1].code(); };

  // Lifecycle events.
  int next = 0;
  const auto event = [&](v1::BusinessStep step, std::vector<std::string> codes,
                         const std::string& deployment) {
    v1::Event e;
    e.set_event_id(absl::StrCat("bound-", ++next));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60 + next);
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(kAcme);
    e.mutable_location()->set_site("warehouse 1");
    e.set_deployment(deployment);
    return e;
  };
  ASSERT_TRUE(AppendEvent(*acme_operator_,
                          event(v1::COMMISSIONING, {code(1), code(2), code(3)}, kDeployment))
                  .ok());
  ASSERT_TRUE(AppendEvent(*acme_operator_, event(v1::STORING, {code(1)}, "")).ok());

  // Registry changes.
  const crypto::SigningKey clerk = crypto::SigningKey::Generate();
  v1::RegistryRequest add_clerk = Actor("clerk", v1::ENTERPRISE_OPERATOR, kAcme, clerk);
  add_clerk.set_deployment(kDeployment);
  SubmitOk(*acme_admin_, add_clerk);

  // E-waybills on a stream: this deployment's, another's, one naming none.
  const auto waybill = [&](const std::string& number, const std::vector<std::string>& codes,
                           const std::string& deployment) {
    v1::WaybillRequest r;
    r.set_request_id("req-" + number);
    *r.mutable_submit() =
        waybill::testing::ExampleWaybill(number, carrier, kAcme, kOther, codes, 25000, "KGM");
    r.set_deployment(deployment);
    return *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_key);
  };
  const uint64_t before_stream = LogSize();
  const std::vector<v1::WaybillResult> streamed =
      StreamWaybills(carrier_key, {waybill("WB-BOUND-1", {code(1)}, kDeployment),
                                   waybill("WB-BOUND-2", {code(2)}, kElsewhere),
                                   waybill("WB-BOUND-3", {code(3)}, "")});
  ASSERT_EQ(streamed.size(), 3u);
  EXPECT_EQ(streamed[0].code(), 0) << streamed[0].message();
  EXPECT_EQ(streamed[1].code(), grpc::StatusCode::UNAUTHENTICATED) << streamed[1].message();
  EXPECT_NE(streamed[1].message().find("signed for deployment \"chemledger.staging\""),
            std::string::npos)
      << streamed[1].message();
  EXPECT_EQ(streamed[2].code(), 0) << streamed[2].message();
  EXPECT_EQ(LogSize(), before_stream + 2);

  // Each service refuses a request signed for another deployment, and
  // nothing reaches the log, not even as a refusal: a rule's refusal sent
  // after them is the one entry recorded.
  const uint64_t raw_before = RawLogSize();
  {
    Issued elsewhere = Issue(issuance("B2", kElsewhere), acme_admin_.get());
    ExpectOtherDeployment(elsewhere.status, "IssueLabels");
    EXPECT_TRUE(elsewhere.labels.empty());
  }
  ExpectOtherDeployment(AppendEvent(*acme_operator_, event(v1::STORING, {code(2)}, kElsewhere)),
                        "Append");
  {
    v1::RegistryRequest r =
        Actor("intruder", v1::ENTERPRISE_OPERATOR, kAcme, crypto::SigningKey::Generate());
    r.set_deployment(kElsewhere);
    v1::SubmitResponse response;
    ExpectOtherDeployment(Submit(Signed(*acme_admin_, r), &response), "RegistryService.Submit");
  }
  {
    grpc::ClientContext context;
    v1::WaybillResult result;
    ExpectOtherDeployment(
        waybills_->Submit(&context, waybill("WB-BOUND-4", {code(2)}, kElsewhere), &result),
        "WaybillService.Submit");
  }
  // The same bytes of the refused issuance, named for this deployment, are
  // a new request and are taken.
  Issued here = Issue(issuance("B2", kDeployment), acme_admin_.get());
  EXPECT_TRUE(here.status.ok()) << here.status.error_message();
  // A rule's refusal (a code never issued), recorded by the refusal thread
  // after anything queued before it.
  EXPECT_EQ(AppendEvent(*acme_operator_,
                        event(v1::STORING, {std::string(kAcme) + ".M01.B9.1"}, kDeployment))
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (RawLogSize() < raw_before + 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::SleepFor(absl::Milliseconds(300));
  // The issuance of B2 and the recorded refusal: nothing else.
  EXPECT_EQ(RawLogSize(), raw_before + 2);
}

// A request names the last second it may be recorded in (rules epoch 15):
// over gRPC, a new one that comes later is refused and recorded as a
// refusal; a retry of one recorded in time gets its receipt.
TEST_F(DeploymentBindingE2eTest, AnExpiredRequestIsRefusedAndItsRetryAnswered) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const auto add = [&](const std::string& name, int64_t expires) {
    v1::RegistryRequest r = Actor(name, v1::ENTERPRISE_OPERATOR, kAcme,
                                  crypto::SigningKey::Generate());
    r.set_deployment(kDeployment);
    r.set_expires_unix_seconds(expires);
    return Signed(*acme_admin_, r);
  };
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const v1::SignedEnvelope in_time = add("clerk 1", now + 2);
  v1::SubmitResponse first;
  ASSERT_TRUE(Submit(in_time, &first).ok());
  EXPECT_FALSE(first.replayed());

  const uint64_t raw_before = RawLogSize();
  v1::SubmitResponse response;
  grpc::Status late = Submit(add("clerk 2", now - 1), &response);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << late.error_message();
  EXPECT_NE(late.error_message().find("expires_unix_seconds: the request expired at"),
            std::string::npos)
      << late.error_message();
  // Recorded as a refusal, by the refusal thread.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (RawLogSize() < raw_before + 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(RawLogSize(), raw_before + 1);

  // Past its expiry, the request recorded in time is answered as a retry.
  while (absl::ToUnixSeconds(absl::Now()) <= now + 2) absl::SleepFor(absl::Milliseconds(100));
  v1::SubmitResponse again;
  ASSERT_TRUE(Submit(in_time, &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.log_index(), first.log_index());
}

// A platform administrator requires every request to name the deployment
// (rules epoch 17): GetDeployment says so; over gRPC an event and a
// registry request that name none are refused (UNAUTHENTICATED, naming the
// policy's entry and the name to set), nothing recorded; named, they are
// taken; lifted, unnamed ones are taken again.
TEST_F(DeploymentBindingE2eTest, APolicyRequiresEveryWriteToNameTheDeployment) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = IssueM01(kAcme, *acme_admin_, "P1", 2);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const auto deployment = [&] {
    grpc::ClientContext context;
    v1::Deployment d;
    EXPECT_TRUE(registry_->GetDeployment(&context, {}, &d).ok());
    return d;
  };
  EXPECT_FALSE(deployment().require_named_requests());
  EXPECT_EQ(deployment().policy_log_index(), 0u);

  v1::RegistryRequest strict;
  strict.mutable_set_deployment_policy()->set_require_named_requests(true);
  v1::SubmitResponse set;
  // Unnamed, a policy request is refused: it would be replayable elsewhere.
  // (A rule's refusal of a registered key's request: recorded, by a thread
  // of its own, maybe after the answer; waited for, so that it is not
  // counted below among what the policy's refusals write.)
  const uint64_t before_refusal = RawLogSize();
  EXPECT_EQ(Submit(Signed(*admin_, strict), &set).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const absl::Time until = absl::Now() + absl::Seconds(10);
       RawLogSize() == before_refusal && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(RawLogSize(), before_refusal + 1) << "the refusal was not recorded";
  strict.set_deployment(kDeployment);
  ASSERT_TRUE(Submit(Signed(*admin_, strict), &set).ok());
  const v1::Deployment now = deployment();
  EXPECT_TRUE(now.require_named_requests());
  EXPECT_EQ(now.policy_log_index(), set.log_index());
  EXPECT_EQ(now.latest_rules_epoch(), journal::kCurrentRulesEpoch);

  const std::string refusal = absl::StrCat(
      "deployment: this deployment takes only requests that name it (a platform administrator's "
      "policy, log index ",
      set.log_index(), "): set field 30 to \"", kDeployment, "\"");
  v1::Event e;
  e.set_event_id("policy-1");
  e.set_step(v1::COMMISSIONING);
  for (const auto& label : issued.labels) e.add_codes(label.code());
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(kAcme);
  e.mutable_location()->set_site("warehouse 1");
  const uint64_t raw_before = RawLogSize();
  const grpc::Status unnamed = AppendEvent(*acme_operator_, e);
  EXPECT_EQ(unnamed.error_code(), grpc::StatusCode::UNAUTHENTICATED) << unnamed.error_message();
  EXPECT_NE(unnamed.error_message().find(refusal), std::string::npos) << unnamed.error_message();
  v1::RegistryRequest clerk =
      Actor("clerk", v1::ENTERPRISE_OPERATOR, kAcme, crypto::SigningKey::Generate());
  v1::SubmitResponse response;
  const grpc::Status unnamed_registry = Submit(Signed(*acme_admin_, clerk), &response);
  EXPECT_EQ(unnamed_registry.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << unnamed_registry.error_message();
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(RawLogSize(), raw_before);  // nothing written, nothing recorded

  e.set_deployment(kDeployment);
  EXPECT_TRUE(AppendEvent(*acme_operator_, e).ok());
  clerk.set_deployment(kDeployment);
  SubmitOk(*acme_admin_, clerk);

  v1::RegistryRequest lax;
  lax.mutable_set_deployment_policy()->set_require_named_requests(false);
  lax.set_deployment(kDeployment);
  SubmitOk(*admin_, lax);
  EXPECT_FALSE(deployment().require_named_requests());
  SubmitOk(*acme_admin_,
           Actor("clerk 2", v1::ENTERPRISE_OPERATOR, kAcme, crypto::SigningKey::Generate()));
}

// A field this server does not know (a newer client's) is never taken
// unread: every write service refuses a request carrying one, at the top or
// nested, INVALID_ARGUMENT naming its path and number, without writing or
// recording anything; an authenticated read refuses one too (its answer
// would be to another question). The same requests without the field are
// taken.
TEST_F(DeploymentBindingE2eTest, AFieldThisServerDoesNotKnowIsRefusedEverywhere) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("310115");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "dispatcher");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_admin_, carrier));
  const auto expect_unknown = [](const grpc::Status& status, const std::string& what,
                                 const std::string& said) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(said), std::string::npos)
        << what << ": " << status.error_message();
  };
  const auto add_unknown = [](google::protobuf::Message* m, int number) {
    m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(number, "newer");
  };

  v1::IssueLabelsRequest issuance;
  issuance.set_request_id("issue-unknown");
  issuance.set_enterprise_uscc(kAcme);
  issuance.set_product_number("M01");
  issuance.set_batch("B1");
  *issuance.mutable_production_date() = Today();
  issuance.set_package_count(2);
  issuance.set_net_quantity("25");
  issuance.set_unit("KGM");
  v1::Event event;
  event.set_event_id("unknown-1");
  event.set_step(v1::COMMISSIONING);
  event.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  event.set_event_time_offset_minutes(480);
  event.mutable_location()->set_enterprise_uscc(kAcme);
  event.mutable_location()->set_site("warehouse 1");
  const crypto::SigningKey clerk = crypto::SigningKey::Generate();
  const v1::RegistryRequest add_clerk = Actor("clerk", v1::ENTERPRISE_OPERATOR, kAcme, clerk);

  const uint64_t raw_before = RawLogSize();
  {
    v1::IssueLabelsRequest r = issuance;
    add_unknown(r.mutable_production_date(), 9);
    Issued refused =
        Issue(*envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), *acme_admin_),
              acme_admin_.get());
    expect_unknown(refused.status, "IssueLabels", "request.production_date: field number 9 ");
    EXPECT_TRUE(refused.labels.empty());
  }
  Issued issued =
      Issue(*envelope::Sign(api::kIssueLabelsContext, issuance.SerializeAsString(), *acme_admin_),
            acme_admin_.get());
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_EQ(issued.labels.size(), 2u);
  for (const auto& label : issued.labels) event.add_codes(label.code());
  {
    v1::Event e = event;
    add_unknown(&e, 40);
    expect_unknown(AppendEvent(*acme_operator_, e), "Append",
                   "event: field number 40 (sent as length-delimited bytes) is not a field of "
                   "chemledger.v1.Event in this server's schema");
    e = event;
    add_unknown(e.mutable_location(), 12);
    expect_unknown(AppendEvent(*acme_operator_, e), "Append", "event.location: field number 12 ");
    // Its id in the wrong wire type (event_id, a string, as a varint): the
    // id cannot be read, and the answer is the same kind.
    e = event;
    e.clear_event_id();
    v1::Event wrong_type;
    ASSERT_TRUE(wrong_type.ParseFromString(e.SerializeAsString() + std::string("\x08\x05", 2)));
    expect_unknown(AppendEvent(*acme_operator_, wrong_type), "Append",
                   "event.event_id: sent as a varint, which this server's parser does not read as "
                   "this field");
  }
  {
    v1::RegistryRequest r = add_clerk;
    add_unknown(r.mutable_add_actor(), 77);
    v1::SubmitResponse response;
    expect_unknown(Submit(Signed(*acme_admin_, r), &response), "RegistryService.Submit",
                   "request.add_actor: field number 77 ");
  }
  const auto waybill = [&](const std::string& number, bool with_unknown) {
    v1::WaybillRequest r;
    r.set_request_id("req-" + number);
    *r.mutable_submit() = waybill::testing::ExampleWaybill(number, carrier, kAcme, kOther,
                                                           {issued.labels[1].code()}, 25000, "KGM");
    if (with_unknown) add_unknown(r.mutable_submit()->mutable_goods(0), 50);
    return *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_key);
  };
  const std::vector<v1::WaybillResult> streamed =
      StreamWaybills(carrier_key, {waybill("WB-NEW-1", true)});
  ASSERT_EQ(streamed.size(), 1u);
  EXPECT_EQ(streamed[0].code(), grpc::StatusCode::INVALID_ARGUMENT) << streamed[0].message();
  EXPECT_NE(streamed[0].message().find("request.submit.goods[0]: field number 50 "),
            std::string::npos)
      << streamed[0].message();
  // Nothing was written, and nothing recorded as a refusal.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(RawLogSize(), raw_before + 1);  // the issuance taken

  // An open read too (GetDeployment, as anyone may call it).
  {
    v1::GetDeploymentRequest newer;
    add_unknown(&newer, 5);
    grpc::ClientContext context;
    v1::Deployment deployment;
    expect_unknown(registry_->GetDeployment(&context, newer, &deployment), "GetDeployment",
                   "request: field number 5 (sent as length-delimited bytes) is not a field of "
                   "chemledger.v1.GetDeploymentRequest");
  }

  // The requests without the field are taken.
  EXPECT_TRUE(AppendEvent(*acme_operator_, event).ok());
  SubmitOk(*acme_admin_, add_clerk);
  const std::vector<v1::WaybillResult> taken =
      StreamWaybills(carrier_key, {waybill("WB-NEW-1", false)});
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].code(), 0) << taken[0].message();

  // An authenticated read with a field this server does not know.
  v1::GetHistoryRequest read;
  read.set_code(issued.labels[0].code());
  v1::History history;
  ASSERT_TRUE(Read(*acme_operator_, api::kGetHistoryMethod, read, &history).ok());
  add_unknown(&read, 20);
  expect_unknown(Read(*acme_operator_, api::kGetHistoryMethod, read, &history), "GetHistory",
                 "request: field number 20 (sent as length-delimited bytes) is not a field of "
                 "chemledger.v1.GetHistoryRequest");

  // A field that holds one value, sent twice (rules epoch 18): the parser
  // would take the second location, a reader of the first the other site.
  // Refused by a write and a read alike, naming it, and nothing written.
  const uint64_t raw_before_twice = RawLogSize();
  v1::Event twice = event;
  twice.set_event_id("twice-1");
  v1::Location elsewhere = twice.location();
  elsewhere.set_site("warehouse 2");
  twice.GetReflection()->MutableUnknownFields(&twice)->AddLengthDelimited(
      v1::Event::kLocationFieldNumber, elsewhere.SerializeAsString());
  expect_unknown(AppendEvent(*acme_operator_, twice), "Append",
                 "event.location: sent twice; it holds one value (a message)");
  v1::GetHistoryRequest read_twice;
  read_twice.set_code(issued.labels[0].code());
  read_twice.GetReflection()
      ->MutableUnknownFields(&read_twice)
      ->AddLengthDelimited(v1::GetHistoryRequest::kCodeFieldNumber, issued.labels[1].code());
  expect_unknown(Read(*acme_operator_, api::kGetHistoryMethod, read_twice, &history), "GetHistory",
                 "request.code: sent twice");
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(RawLogSize(), raw_before_twice);
}

}  // namespace
}  // namespace chemledger
