// Public scans (public_scans.h, public_scan_recorder.h) on a whole ledger
// (testing/test_ledger.h): a label page opened by anyone for a package
// reported lost, or used up, becomes a scan signal; one in use does not; the
// entry is taken only for a label of this deployment's, once per code,
// network and hour, and rebuilds from the log.

#include "services/ledger/public_scans.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/public_scan.pb.h"
#include "gtest/gtest.h"
#include "services/label/label_resolution.h"
#include "services/ledger/code_state.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/ledger/public_scan_recorder.h"

namespace chemledger::ledger {
namespace {

using namespace lifecycle_testing;  // NOLINT: the fixture's parties and helpers

class PublicScansTest : public LifecycleFixture {
 protected:
  void SetUp() override {
    LifecycleFixture::SetUp();
    absl::StatusOr<label::Issuance> issued =
        t_->IssueBatch(producer_, kProducer, "M01", "PS", 3, "25", "KGM");
    ASSERT_TRUE(issued.ok()) << issued.status();
    claims_ = issued->claims;
    key_id_ = issued->label_key_id;
  }
  std::string UrlOf(uint64_t serial) {
    crypto::LabelClaims c = claims_;
    c.serial = serial;
    absl::StatusOr<const crypto::SigningKey*> key = t_->keyring().Find(key_id_);
    EXPECT_TRUE(key.ok()) << key.status();
    absl::StatusOr<std::string> url = crypto::MakeLabelUrl(c, **key);
    EXPECT_TRUE(url.ok()) << url.status();
    return url.ok() ? *url : "";
  }
  std::string CodeOf(uint64_t serial) {
    crypto::LabelClaims c = claims_;
    c.serial = serial;
    return c.Code();
  }
  // A phone at `client` opens the page of `url`: the page's answer, told to
  // the recorder.
  void OpenPage(PublicScanRecorder& recorder, const std::string& url, const std::string& client) {
    absl::StatusOr<v1::ResolveLabelResponse> answer =
        label::ResolveLabel(*t_->snapshot(), url, api::TodayInChina(), label::Scanner::Anyone());
    ASSERT_TRUE(answer.ok()) << answer.status();
    recorder.Scanned(url, *answer, client, "scan-page");
  }
  std::vector<ScanSignal> Signals() {
    absl::StatusOr<std::vector<ScanSignal>> s = ListScanSignals(*t_->snapshot(), 0, "", 100);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::vector<ScanSignal>();
  }
  absl::Status SubmitScan(const v1::PublicScan& scan, bool sign = false) {
    journal::Request r;
    r.envelope.set_payload_type(api::kPublicScanPayloadType);
    r.envelope.set_payload(scan.SerializeAsString());
    if (sign) r.envelope.add_signatures()->set_key_id("0000000000000000");
    std::vector<journal::Request> one;
    one.push_back(std::move(r));
    return t_->client().Submit(std::move(one))[0].status();
  }

  crypto::LabelClaims claims_;
  crypto::KeyId key_id_ = TestKey(9).key_id();
};

TEST_F(PublicScansTest, ScansOfLostOrEndedPackagesBecomeSignalsAndOthersDoNot) {
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, {CodeOf(1), CodeOf(2), CodeOf(3)}));
  v1::Event lost = Event(v1::LOSS_REPORT, kProducer, {CodeOf(1)});
  lost.set_reason("stolen from the yard");
  Ok(producer_, lost);
  v1::Event use = Event(v1::CONSUMING, kProducer, {CodeOf(2)});
  use.set_quantity_milli(25000);
  Ok(producer_, use);

  const absl::Time now = absl::Now();  // one hour for every scan of the test
  PublicScanRecorder recorder(&t_->client(), [now] { return now; });
  const uint64_t before = LogSize();
  OpenPage(recorder, UrlOf(1), "ipv4:203.0.113.7");
  OpenPage(recorder, UrlOf(2), "ipv4:198.51.100.9");
  OpenPage(recorder, UrlOf(3), "ipv4:203.0.113.7");  // in use: nothing to record
  // The same phone again, and its neighbour on the same network, this hour.
  OpenPage(recorder, UrlOf(1), "ipv4:203.0.113.7");
  OpenPage(recorder, UrlOf(1), "ipv4:203.0.113.8");
  ASSERT_TRUE(recorder.Flush(absl::Seconds(10)));
  EXPECT_EQ(LogSize(), before + 2);
  const PublicScanRecorder::Counters counted = recorder.counters();
  EXPECT_EQ(counted.recorded, 2u);
  EXPECT_EQ(counted.repeated, 2u);

  std::vector<ScanSignal> signals = Signals();
  ASSERT_EQ(signals.size(), 2u);
  EXPECT_EQ(signals[0].code, CodeOf(1));
  EXPECT_EQ(signals[0].kind, kLostPackageScanned);
  EXPECT_EQ(signals[0].seen_by, kSeenByPublic);
  EXPECT_EQ(signals[0].custodian, kProducer);
  EXPECT_EQ(signals[0].status, "lost");
  EXPECT_EQ(signals[0].client_network, "ipv4:203.0.113.0/24");
  EXPECT_EQ(signals[0].channel, "scan-page");
  EXPECT_EQ(signals[1].code, CodeOf(2));
  EXPECT_EQ(signals[1].kind, kEndedPackageScanned);
  EXPECT_EQ(signals[1].client_network, "ipv4:198.51.100.0/24");
  ExpectCheckPasses();
}

TEST_F(PublicScansTest, TheLedgerTakesOnlyAScanOfItsOwnLabelOfALostOrEndedPackage) {
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, {CodeOf(1), CodeOf(2)}));
  v1::Event lost = Event(v1::LOSS_REPORT, kProducer, {CodeOf(1)});
  lost.set_reason("stolen from the yard");
  Ok(producer_, lost);
  const uint64_t before = LogSize();
  v1::PublicScan scan;
  scan.set_label_url(UrlOf(1));
  scan.set_client_network("ipv4:203.0.113.0/24");
  scan.set_channel("verify");
  scan.set_hour(PublicScanHour(absl::Now()));

  v1::PublicScan in_use = scan;
  in_use.set_label_url(UrlOf(2));
  absl::Status s = SubmitScan(in_use);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("neither reported lost nor ended"), std::string::npos) << s;

  v1::PublicScan forged = scan;
  std::string url = UrlOf(1);
  url.back() = url.back() == 'A' ? 'B' : 'A';
  forged.set_label_url(url);
  s = SubmitScan(forged);
  EXPECT_FALSE(s.ok()) << "a label whose signature fails";

  v1::PublicScan stale = scan;
  stale.set_hour(PublicScanHour(absl::Now() - absl::Hours(5)));
  s = SubmitScan(stale);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("public_scan.hour"), std::string::npos) << s;

  v1::PublicScan elsewhere = scan;
  elsewhere.set_channel("fax");
  EXPECT_EQ(SubmitScan(elsewhere).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SubmitScan(scan, /*sign=*/true).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogSize(), before) << "nothing refused was written";

  ASSERT_TRUE(SubmitScan(scan).ok());
  EXPECT_EQ(LogSize(), before + 1);
  // The same code, network and hour by another channel: the one entry.
  v1::PublicScan again = scan;
  again.set_channel("resolve-label");
  EXPECT_EQ(SubmitScan(again).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(LogSize(), before + 1);
  ExpectCheckPasses();
}

TEST_F(PublicScansTest, ScansAreLimitedPerNetworkAndInAll) {
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, {CodeOf(1), CodeOf(2), CodeOf(3)}));
  for (int serial = 1; serial <= 3; ++serial) {
    v1::Event use = Event(v1::CONSUMING, kProducer, {CodeOf(serial)});
    use.set_quantity_milli(25000);
    Ok(producer_, use);
  }
  PublicScanLimits limits;
  limits.burst_per_network = 2;
  limits.per_network_per_minute = 1;
  limits.burst_all = 3;
  limits.all_per_minute = 1;
  const absl::Time now = absl::Now();
  PublicScanRecorder recorder(
      &t_->client(), [now] { return now; }, limits);
  // One network scans three used-up labels: its budget takes two.
  for (int serial = 1; serial <= 3; ++serial) {
    OpenPage(recorder, UrlOf(serial), absl::StrCat("ipv4:203.0.113.", serial));
  }
  // Another network has its own, but all networks together have three.
  OpenPage(recorder, UrlOf(3), "ipv4:198.51.100.1");
  OpenPage(recorder, UrlOf(1), "ipv4:192.0.2.1");
  ASSERT_TRUE(recorder.Flush(absl::Seconds(10)));
  const PublicScanRecorder::Counters counted = recorder.counters();
  EXPECT_EQ(counted.recorded, 3u);
  EXPECT_EQ(counted.rate_limited, 2u);
  EXPECT_EQ(Signals().size(), 3u);
}

// A label passed around (a copy on a refilled drum, a photo shared) is
// recorded from a few networks an hour, not from every phone that opens it.
TEST_F(PublicScansTest, OneCodeIsRecordedFromAFewNetworksAnHour) {
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, {CodeOf(1)}));
  v1::Event use = Event(v1::CONSUMING, kProducer, {CodeOf(1)});
  use.set_quantity_milli(25000);
  Ok(producer_, use);
  const absl::Time now = absl::Now();
  PublicScanRecorder recorder(&t_->client(), [now] { return now; });
  const size_t networks = PublicScanRecorder::kMaxNetworksPerCode + 3;
  for (size_t n = 0; n < networks; ++n) {
    OpenPage(recorder, UrlOf(1), absl::StrCat("ipv4:10.", n, ".0.1"));
  }
  ASSERT_TRUE(recorder.Flush(absl::Seconds(10)));
  const PublicScanRecorder::Counters counted = recorder.counters();
  EXPECT_EQ(counted.recorded, PublicScanRecorder::kMaxNetworksPerCode);
  EXPECT_EQ(counted.capped, 3u);
  EXPECT_EQ(Signals().size(), PublicScanRecorder::kMaxNetworksPerCode);
}

// Before rules epoch 10 (a server writing an older epoch's entries) no
// public scan is taken.
TEST_F(PublicScansTest, NoneBeforeRulesEpochTen) {
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, {CodeOf(1)}));
  v1::Event lost = Event(v1::LOSS_REPORT, kProducer, {CodeOf(1)});
  lost.set_reason("stolen");
  Ok(producer_, lost);
  chemledger::testing::TestLedgerOptions epoch9;
  epoch9.rules_epoch = 9;
  t_->Reopen(epoch9);
  v1::PublicScan scan;
  scan.set_label_url(UrlOf(1));
  scan.set_channel("scan-page");
  scan.set_hour(PublicScanHour(absl::Now()));
  const absl::Status s = SubmitScan(scan);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("from rules epoch 10"), std::string::npos) << s;
}

}  // namespace
}  // namespace chemledger::ledger
