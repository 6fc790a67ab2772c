#include "services/registry/request_binding.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "journal/state_machine.h"

namespace chemledger::registry {
namespace {

// The field numbers every signed write request gives them.
static_assert(v1::Event::kDeploymentFieldNumber == kDeploymentFieldNumber);
static_assert(v1::WaybillRequest::kDeploymentFieldNumber == kDeploymentFieldNumber);
static_assert(v1::IssueLabelsRequest::kDeploymentFieldNumber == kDeploymentFieldNumber);
static_assert(v1::RegistryRequest::kDeploymentFieldNumber == kDeploymentFieldNumber);
static_assert(v1::Event::kExpiresUnixSecondsFieldNumber == kExpiresFieldNumber);
static_assert(v1::WaybillRequest::kExpiresUnixSecondsFieldNumber == kExpiresFieldNumber);
static_assert(v1::IssueLabelsRequest::kExpiresUnixSecondsFieldNumber == kExpiresFieldNumber);
static_assert(v1::RegistryRequest::kExpiresUnixSecondsFieldNumber == kExpiresFieldNumber);

TEST(ReadRequestBindingTest, ReadsBothFieldsOfEveryWriteRequest) {
  v1::Event event;
  event.set_event_id("e-1");
  event.add_codes("91310000MA1K4XXXXX.P1.B1.1");
  event.set_deployment("chemledger.example");
  event.set_expires_unix_seconds(1796284800);
  event.add_label_urls("");
  RequestBinding b = *ReadRequestBinding(event.SerializeAsString());
  EXPECT_EQ(b.deployment, "chemledger.example");
  EXPECT_EQ(b.expires_unix_seconds, 1796284800);

  v1::WaybillRequest waybill;
  waybill.set_request_id("w-1");
  waybill.mutable_cancel();
  waybill.set_deployment("sh.chemledger.example");
  b = *ReadRequestBinding(waybill.SerializeAsString());
  EXPECT_EQ(b.deployment, "sh.chemledger.example");
  EXPECT_EQ(b.expires_unix_seconds, 0);

  v1::IssueLabelsRequest labels;
  labels.set_request_id("l-1");
  labels.set_package_count(3);
  labels.set_expires_unix_seconds(-5);  // negative: long expired
  b = *ReadRequestBinding(labels.SerializeAsString());
  EXPECT_EQ(b.deployment, "");
  EXPECT_EQ(b.expires_unix_seconds, -5);

  v1::RegistryRequest registry;
  registry.set_request_id("r-1");
  registry.mutable_add_actor()->set_name("x");
  registry.set_deployment("b");
  registry.set_expires_unix_seconds(7);
  b = *ReadRequestBinding(registry.SerializeAsString());
  EXPECT_EQ(b.deployment, "b");
  EXPECT_EQ(b.expires_unix_seconds, 7);
}

TEST(ReadRequestBindingTest, NothingWhenUnsetRefusedWhenMalformed) {
  v1::Event event;
  event.set_event_id("e-1");
  ASSERT_TRUE(ReadRequestBinding(event.SerializeAsString()).ok());
  EXPECT_EQ(ReadRequestBinding(event.SerializeAsString())->deployment, "");
  EXPECT_EQ(ReadRequestBinding(event.SerializeAsString())->expires_unix_seconds, 0);
  ASSERT_TRUE(ReadRequestBinding("").ok());
  EXPECT_EQ(ReadRequestBinding("")->deployment, "");
  event.set_deployment("chemledger.example");
  event.set_expires_unix_seconds(100);
  const std::string bytes = event.SerializeAsString();
  // What a malformed payload binds itself to cannot be told: refused, never
  // taken as binding to nothing. Cut inside the last value:
  absl::StatusOr<RequestBinding> cut = ReadRequestBinding(bytes.substr(0, bytes.size() - 1));
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kInvalidArgument) << cut.status();
  EXPECT_NE(cut.status().message().find("envelope.payload: not a well-formed protobuf message"),
            std::string::npos)
      << cut.status();
  // Trailing bytes after a message that names another deployment:
  EXPECT_FALSE(ReadRequestBinding(bytes + "\x0a").ok());
  // A zero tag:
  EXPECT_FALSE(ReadRequestBinding(bytes + std::string(1, '\0') + "x").ok());
  // The parser refuses each of them too.
  v1::Event parsed;
  EXPECT_FALSE(parsed.ParseFromString(bytes.substr(0, bytes.size() - 1)));
  EXPECT_FALSE(parsed.ParseFromString(bytes + "\x0a"));
}

TEST(ReadRequestBindingTest, TheLastOfTwoCountsAsTheParserTakesIt) {
  v1::Event first;
  first.set_deployment("one");
  first.set_expires_unix_seconds(1);
  v1::Event second;
  second.set_event_id("e-2");
  second.set_deployment("two");
  second.set_expires_unix_seconds(2);
  const std::string both = first.SerializeAsString() + second.SerializeAsString();
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(both));
  const RequestBinding b = *ReadRequestBinding(both);
  EXPECT_EQ(b.deployment, parsed.deployment());
  EXPECT_EQ(b.expires_unix_seconds, parsed.expires_unix_seconds());
  EXPECT_EQ(b.deployment, "two");
}

TEST(ReadRequestBindingTest, AnotherWireTypeIsNotTheFieldForEitherReader) {
  // Field 30 as a varint and field 31 as bytes: the parser keeps both as
  // unknown fields, and neither names anything here.
  std::string bytes;
  bytes += "\xF0\x01\x07";  // (30 << 3) | 0, varint 7
  bytes +=
      "\xFA\x01\x01"
      "x";  // (31 << 3) | 2, one byte
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.deployment(), "");
  EXPECT_EQ(parsed.expires_unix_seconds(), 0);
  const RequestBinding b = *ReadRequestBinding(bytes);
  EXPECT_EQ(b.deployment, "");
  EXPECT_EQ(b.expires_unix_seconds, 0);
}

ThisDeployment Here(const std::string& origin) { return ThisDeployment{origin}; }

TEST(CheckNamedDeploymentTest, TakesItsOwnAndUnnamedRefusesAnothers) {
  RequestBinding b;
  EXPECT_TRUE(CheckNamedDeployment(b, Here("gd.chemledger")).ok());
  b.deployment = "gd.chemledger";
  EXPECT_TRUE(CheckNamedDeployment(b, Here("gd.chemledger")).ok());
  absl::Status other = CheckNamedDeployment(b, Here("gx.chemledger"));
  EXPECT_EQ(other.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(other.message().find("deployment: the request was signed for deployment "
                                 "\"gd.chemledger\", not this one (\"gx.chemledger\")"),
            absl::string_view::npos)
      << other;
  // Compared byte for byte.
  b.deployment = "GD.chemledger";
  EXPECT_FALSE(CheckNamedDeployment(b, Here("gd.chemledger")).ok());
}

// Under a policy that requires it (rules epoch 17), a request that names no
// deployment is refused as one naming another is; its own is taken.
TEST(CheckNamedDeploymentTest, WhereRequiredAnUnnamedRequestIsRefused) {
  const ThisDeployment strict{"gd.chemledger", true, 42};
  RequestBinding b;
  const absl::Status unnamed = CheckNamedDeployment(b, strict);
  EXPECT_EQ(unnamed.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(unnamed.message().find("deployment: this deployment takes only requests that name it "
                                   "(a platform administrator's policy, log index 42): set field "
                                   "30 to \"gd.chemledger\""),
            absl::string_view::npos)
      << unnamed;
  b.deployment = "gd.chemledger";
  EXPECT_TRUE(CheckNamedDeployment(b, strict).ok());
  b.deployment = "gx.chemledger";
  EXPECT_NE(CheckNamedDeployment(b, strict).message().find("signed for deployment"),
            absl::string_view::npos);
}

TEST(CheckNotExpiredTest, RecordedUpToTheSecondItNames) {
  RequestBinding b;
  const absl::Time t = absl::FromUnixSeconds(1796284800);
  EXPECT_TRUE(CheckNotExpired(b, t).ok());  // no expiry
  b.expires_unix_seconds = 1796284800;
  EXPECT_TRUE(CheckNotExpired(b, t).ok());
  EXPECT_TRUE(CheckNotExpired(b, t + absl::Milliseconds(999)).ok());
  absl::Status late = CheckNotExpired(b, t + absl::Seconds(1));
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(late.message().find("expires_unix_seconds: the request expired at 1796284800 "
                                "(2026-12-03 08:00:00 UTC) and was not recorded"),
            absl::string_view::npos)
      << late;
  b.expires_unix_seconds = -1;
  EXPECT_FALSE(CheckNotExpired(b, t).ok());
}

// The schema of the signed write requests, pinned to the rules epoch: a
// field added to any message they carry changes what an older entry's
// unknown field now reads as, and what `check` of an older build refuses.
// So it comes with a new rules epoch (journal/state_machine.h), with its
// field in ParseLoggedRegistryRequest's table if it is RegistryRequest's, and
// then this pin is updated. (Comments do not count: descriptors built into
// the binary carry none.)
TEST(SignedRequestSchemaTest, IsPinnedToTheRulesEpoch) {
  std::set<std::string> seen;
  std::vector<const google::protobuf::Descriptor*> todo = {
      v1::Event::descriptor(), v1::WaybillRequest::descriptor(),
      v1::IssueLabelsRequest::descriptor(), v1::RegistryRequest::descriptor()};
  std::map<std::string, std::string> printed;
  while (!todo.empty()) {
    const google::protobuf::Descriptor* d = todo.back();
    todo.pop_back();
    if (!seen.insert(d->full_name()).second) continue;
    printed[d->full_name()] = d->DebugString();
    for (int i = 0; i < d->field_count(); ++i) {
      if (d->field(i)->message_type() != nullptr) todo.push_back(d->field(i)->message_type());
    }
  }
  std::string all;
  for (const auto& [name, text] : printed) absl::StrAppend(&all, name, "\n", text);
  EXPECT_EQ(journal::kCurrentRulesEpoch, 19u)
      << "a new rules epoch: check the pin below against the schema it reads";
  EXPECT_EQ(crypto::Sha256(all).ToHex(),
            "2c2fda88b8ae1bceb1fb1adc6c200540892aa9ab9b90903a3c7be86ee29c530a")
      << "the signed requests' schema changed (" << printed.size()
      << " messages): a new field needs a new rules epoch; then pin this value";
}

}  // namespace
}  // namespace chemledger::registry
