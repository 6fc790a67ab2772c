// The labels an observation carries, checked before it is sequenced
// (observation_labels.h), on a whole ledger with a registered label key and
// an issued batch (lifecycle_testing.h).

#include "services/ledger/observation_labels.h"

#include <string>

#include "crypto/label.h"
#include "gtest/gtest.h"
#include "services/common/refusal.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace {

using lifecycle_testing::kProducer;
using lifecycle_testing::kWarehouse;

class ObservationLabelsTest : public lifecycle_testing::LifecycleFixture {
 protected:
  // `code`'s label with its genuine claims, signed by `key`.
  std::string LabelSignedBy(const std::string& code, const crypto::SigningKey& key) {
    absl::StatusOr<crypto::ParsedLabel> genuine = crypto::ParseLabelUrl(LabelUrl(code));
    EXPECT_TRUE(genuine.ok()) << code;
    if (!genuine.ok()) return "";
    absl::StatusOr<std::string> url = crypto::MakeLabelUrl(genuine->claims, key);
    EXPECT_TRUE(url.ok()) << url.status();
    return url.ok() ? *url : "";
  }
  absl::Status Check(const v1::Event& e) {
    return CheckObservationLabels(*t_->snapshot(), Signed(warehouse_, e));
  }
};

TEST_F(ObservationLabelsTest, CarriesLabelsReadsTheWireWithoutParsing) {
  v1::Event e = Event(v1::OBSERVING, kWarehouse, {Code(1), Code(2)});
  EXPECT_TRUE(CarriesLabels(e.SerializeAsString()));
  e.clear_label_urls();
  EXPECT_FALSE(CarriesLabels(e.SerializeAsString()));
  // Labels after a large field (a commissioning's thousand codes) are found.
  v1::Event big = Event(v1::COMMISSIONING, kProducer, {});
  for (int i = 0; i < 1000; ++i) big.add_codes(absl::StrCat(kProducer, ".M01.B1.", i + 1));
  EXPECT_FALSE(CarriesLabels(big.SerializeAsString()));
  big.add_label_urls("x");
  EXPECT_TRUE(CarriesLabels(big.SerializeAsString()));
  EXPECT_FALSE(CarriesLabels(""));
  EXPECT_FALSE(CarriesLabels("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"));
  // A truncated message ends the scan, without reading past its bytes.
  const std::string whole = big.SerializeAsString();
  EXPECT_FALSE(CarriesLabels(absl::string_view(whole).substr(0, whole.size() / 2)));
}

TEST_F(ObservationLabelsTest, EveryLabelIsOneALabelKeyOfTheLedgerSigned) {
  v1::Event e = Event(v1::OBSERVING, kWarehouse, {Code(1), Code(2), Code(3)});
  EXPECT_TRUE(Check(e).ok()) << Check(e);
  e.set_label_urls(1, "");  // none given for this one: the rules' to judge
  EXPECT_TRUE(Check(e).ok());
  e.set_label_urls(2, LabelSignedBy(Code(3), lifecycle_testing::TestKey(60)));
  const absl::Status forged = Check(e);
  EXPECT_EQ(forged.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(forged.message(), "event.label_urls[2]: not a label this ledger issued");
  EXPECT_EQ(RefusalKindOf(forged), std::optional<std::string>("FORGED_LABEL"));
  // What the rules refuse with InvalidArgument is left to them: a label of
  // another code, an unreadable one, a count that is not one per code, a
  // step that is not an observation.
  e.set_label_urls(2, LabelSignedBy(Code(4), lifecycle_testing::TestKey(60)));
  EXPECT_TRUE(Check(e).ok());
  e.set_label_urls(2, "HTTPS://CL.EXAMPLE.CN/not-a-label");
  EXPECT_TRUE(Check(e).ok());
  e.set_label_urls(2, LabelSignedBy(Code(3), lifecycle_testing::TestKey(60)));
  e.add_codes(Code(5));
  EXPECT_TRUE(Check(e).ok());
  e.mutable_codes()->RemoveLast();
  e.set_step(v1::STORING);
  EXPECT_TRUE(Check(e).ok());
  // A payload that is not an event is the rules' to refuse.
  v1::SignedEnvelope garbage = Signed(warehouse_, e);
  garbage.set_payload("\x8a\x01\x05");
  EXPECT_TRUE(CheckObservationLabels(*t_->snapshot(), garbage).ok());
}

TEST_F(ObservationLabelsTest, ALabelOfARevokedKeyStillReadsAsSigned) {
  // Whether the log issued it before the revocation is the rules' to read
  // (LabelProvesTheScan); its signature still holds.
  absl::StatusOr<crypto::ParsedLabel> genuine = crypto::ParseLabelUrl(LabelUrl(Code(1)));
  ASSERT_TRUE(genuine.ok());
  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(genuine->key_id.ToString());
  revoke.mutable_revoke_key()->set_reason("leaked");
  absl::StatusOr<journal::Receipt> revoked = t_->Registry(admin_, revoke);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  absl::StatusOr<std::optional<registry::LabelKeyState>> key =
      registry::FindLabelKey(*t_->snapshot(), genuine->key_id);
  ASSERT_TRUE(key.ok() && *key && (*key)->revoked_at.has_value());
  v1::Event e = Event(v1::OBSERVING, kWarehouse, {Code(1)});
  EXPECT_TRUE(Check(e).ok()) << Check(e);
}

}  // namespace
}  // namespace chemledger::ledger
