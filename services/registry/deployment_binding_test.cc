#include "services/registry/deployment_binding.h"

#include <string>

#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "gtest/gtest.h"

namespace chemledger::registry {
namespace {

// The one field number every signed write request gives `deployment`.
static_assert(v1::Event::kDeploymentFieldNumber == kDeploymentFieldNumber);
static_assert(v1::WaybillRequest::kDeploymentFieldNumber == kDeploymentFieldNumber);
static_assert(v1::IssueLabelsRequest::kDeploymentFieldNumber == kDeploymentFieldNumber);
static_assert(v1::RegistryRequest::kDeploymentFieldNumber == kDeploymentFieldNumber);

TEST(NamedDeploymentTest, ReadsTheFieldOfEveryWriteRequest) {
  v1::Event event;
  event.set_event_id("e-1");
  event.add_codes("91310000MA1K4XXXXX.P1.B1.1");
  event.set_deployment("chemledger.example");
  event.add_label_urls("");
  EXPECT_EQ(NamedDeployment(event.SerializeAsString()), "chemledger.example");

  v1::WaybillRequest waybill;
  waybill.set_request_id("w-1");
  waybill.mutable_cancel();
  waybill.set_deployment("sh.chemledger.example");
  EXPECT_EQ(NamedDeployment(waybill.SerializeAsString()), "sh.chemledger.example");

  v1::IssueLabelsRequest labels;
  labels.set_request_id("l-1");
  labels.set_package_count(3);
  labels.set_deployment("a");
  EXPECT_EQ(NamedDeployment(labels.SerializeAsString()), "a");

  v1::RegistryRequest registry;
  registry.set_request_id("r-1");
  registry.mutable_add_actor()->set_name("x");
  registry.set_deployment("b");
  EXPECT_EQ(NamedDeployment(registry.SerializeAsString()), "b");
}

TEST(NamedDeploymentTest, NoneWhenUnsetOrMalformed) {
  v1::Event event;
  event.set_event_id("e-1");
  EXPECT_EQ(NamedDeployment(event.SerializeAsString()), "");
  EXPECT_EQ(NamedDeployment(""), "");
  event.set_deployment("chemledger.example");
  std::string bytes = event.SerializeAsString();
  // Cut inside the deployment's value: not a message.
  EXPECT_EQ(NamedDeployment(bytes.substr(0, bytes.size() - 3)), "");
  // A zero tag after it: not a message either.
  EXPECT_EQ(NamedDeployment(bytes + std::string(1, '\0') + "x"), "");
}

TEST(NamedDeploymentTest, TheLastOfTwoCountsAsTheParserTakesIt) {
  v1::Event first;
  first.set_deployment("one");
  v1::Event second;
  second.set_event_id("e-2");
  second.set_deployment("two");
  const std::string both = first.SerializeAsString() + second.SerializeAsString();
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(both));
  EXPECT_EQ(parsed.deployment(), "two");
  EXPECT_EQ(NamedDeployment(both), parsed.deployment());
}

TEST(NamedDeploymentTest, AnotherWireTypeOnField30IsNotTheName) {
  // Field 30 as a varint is an unknown field to the parser's string: the
  // parser refuses it, and it names nothing here.
  std::string bytes;
  bytes.push_back(static_cast<char>(0xF0));  // (30 << 3) | 0 = 240, varint 0xF0 0x01
  bytes.push_back(static_cast<char>(0x01));
  bytes.push_back(static_cast<char>(0x07));
  EXPECT_EQ(NamedDeployment(bytes), "");
}

TEST(CheckNamedDeploymentTest, TakesItsOwnAndUnnamedRefusesAnothers) {
  v1::WaybillRequest request;
  request.set_request_id("w-1");
  EXPECT_TRUE(CheckNamedDeployment(request.SerializeAsString(), "gd.chemledger").ok());
  request.set_deployment("gd.chemledger");
  EXPECT_TRUE(CheckNamedDeployment(request.SerializeAsString(), "gd.chemledger").ok());
  absl::Status other = CheckNamedDeployment(request.SerializeAsString(), "gx.chemledger");
  EXPECT_EQ(other.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(other.message().find("deployment: the request was signed for deployment "
                                 "\"gd.chemledger\", not this one (\"gx.chemledger\")"),
            absl::string_view::npos)
      << other;
  // Case and spacing matter: the name is compared byte for byte.
  request.set_deployment("GD.chemledger");
  EXPECT_FALSE(CheckNamedDeployment(request.SerializeAsString(), "gd.chemledger").ok());
}

}  // namespace
}  // namespace chemledger::registry
