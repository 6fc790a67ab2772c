// End to end, the label service: a real chemledgerd per test (init, then
// serve on loopback; tests/e2e_server.h), real gRPC calls, real LevelDB on
// disk. Issues a 100,000-code batch, renders labels to PNG, reads them back
// (ZXing and the independent zbarimg) and verifies them offline against the
// trust list; resolves one online; retries an issuance and gets the same
// codes; kills the server with SIGKILL after an issuance and in the middle of
// one, and checks nothing acknowledged is lost and no serial is reissued.

#include <signal.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "chemledger/v1/verify_service.grpc.pb.h"
#include "crypto/trust_list.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "render/printable_label.h"
#include "render/qr.h"
#include "render/qr_testing.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "tests/e2e_server.h"
#include "tests/subprocess.h"

namespace chemledger {
namespace {

using testing::Subprocess;

class LabelE2eTest : public testing::ChemledgerdE2eTest {};

TEST_F(LabelE2eTest, IssuesA100000CodeBatchThatRendersReadsBackAndVerifiesOffline) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
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
    absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(url);
    ASSERT_TRUE(qr.ok());
    EXPECT_LE(qr->version(), 10);
    absl::StatusOr<std::string> png = render::QrToPng(*qr);
    ASSERT_TRUE(png.ok());
    absl::StatusOr<std::vector<std::string>> read = render::ReadQrCodes(*png);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(*read, std::vector<std::string>{url});
    EXPECT_EQ(crypto::VerifyLabel((*read)[0], trust).verdict, crypto::LabelVerdict::kAuthentic);

    const std::string path = absl::StrCat(dir_, "/label-", i, ".png");
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
    v1::GetProductRequest product_request;
    product_request.set_enterprise_uscc(kAcme);
    product_request.set_product_number("M01");
    render::PrintableLabel printable;
    ASSERT_TRUE(Read(*acme_operator_, api::kGetProductMethod, product_request, &printable.product)
                    .ok());
    v1::GetEnterpriseRequest enterprise_request;
    enterprise_request.set_uscc(kAcme);
    v1::EnterpriseRecord enterprise;
    ASSERT_TRUE(
        Read(*acme_operator_, api::kGetEnterpriseMethod, enterprise_request, &enterprise).ok());
    printable.supplier = enterprise.enterprise();
    const v1::IssuedLabel& issued_label = issued.labels[77];
    const crypto::LabelClaims claims = crypto::VerifyLabel(issued_label.url(), trust).label->claims;
    printable.url = issued_label.url();
    printable.code = issued_label.code();
    printable.batch = claims.batch;
    printable.production_date = claims.production_date;
    printable.quantity = api::NetQuantityText(claims.quantity_milli, claims.unit);
    absl::StatusOr<std::string> png = render::RenderLabelPng(printable);
    ASSERT_TRUE(png.ok()) << png.status();
    absl::StatusOr<std::vector<std::string>> read = render::ReadQrCodes(*png);
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

  // Signed by a registered actor, it shows the package's state; signed by a
  // key the registry does not know, it is refused, naming the metadata,
  // never answered as anyone's (as Verify does: scan_admission.h).
  v1::ResolveLabelResponse signed_resolved;
  grpc::Status signed_status =
      Read(*acme_operator_, api::kResolveLabelMethod, resolve, &signed_resolved);
  ASSERT_TRUE(signed_status.ok()) << signed_status.error_message();
  EXPECT_EQ(signed_resolved.verdict(), "authentic");
  EXPECT_FALSE(signed_resolved.package_state().empty());
  const crypto::SigningKey stranger = crypto::SigningKey::Generate();
  signed_status = Read(stranger, api::kResolveLabelMethod, resolve, &signed_resolved);
  EXPECT_EQ(signed_status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << signed_status.error_message();
  EXPECT_NE(signed_status.error_message().find("chemledger-key-id"), std::string::npos)
      << signed_status.error_message();
}

TEST_F(LabelE2eTest, RetryRedeliversTheSameCodesAndSerialsContinue) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  // A count that fills neither the messages (1,000 labels) nor the chunks
  // the server signs them in (125): every serial once, in order.
  const v1::SignedEnvelope request = IssueRequest("RETRY1", 2345, *acme_operator_);
  Issued first = Issue(request);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_EQ(first.labels.size(), 2345u);
  for (size_t i = 0; i < first.labels.size(); ++i) {
    ASSERT_EQ(first.labels[i].serial(), i + 1);
  }
  const uint64_t size = LogSize();
  Issued again = Issue(request);
  ASSERT_TRUE(again.status.ok());
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.log_index, first.log_index);
  EXPECT_EQ(LogSize(), size);
  ASSERT_EQ(again.labels.size(), 2345u);
  for (size_t i = 0; i < again.labels.size(); ++i) {
    ASSERT_EQ(again.labels[i].url(), first.labels[i].url()) << i;
  }

  Issued more = Issue(IssueRequest("RETRY1", 5, *acme_operator_));
  ASSERT_TRUE(more.status.ok());
  EXPECT_EQ(more.labels[0].serial(), 2346u);
}

TEST_F(LabelE2eTest, NothingAcknowledgedIsLostToSigkill) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("KILL1", 10, *acme_operator_));
  ASSERT_TRUE(issued.status.ok());
  const uint64_t size = LogSize();
  ASSERT_NO_FATAL_FAILURE(KillServer());
  ASSERT_NO_FATAL_FAILURE(StartServer());
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

TEST_F(LabelE2eTest, AnIssuanceKilledMidStreamIsRedeliveredWhole) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const v1::SignedEnvelope request = IssueRequest("MIDKILL", 100000, *acme_operator_);
  uint64_t log_index = 0;
  {
    grpc::ClientContext context;
    AttachStreamCredentials(&context, api::kIssueLabelsMethod, *acme_operator_);
    auto reader = labels_->IssueLabels(&context, request);
    v1::IssueLabelsResponse first;
    // The first message comes only after the issuance is durable.
    ASSERT_TRUE(reader->Read(&first));
    log_index = first.log_index();
    EXPECT_FALSE(first.replayed());
    ASSERT_NO_FATAL_FAILURE(KillServer());
    context.TryCancel();
  }
  ASSERT_NO_FATAL_FAILURE(StartServer());
  // The signed request is in the log, which others read: its labels go
  // (again, or for the first time: a request refused once is in the log
  // too) only to an actor of the enterprise, with read credentials.
  const auto resend = [&](const crypto::SigningKey* reader) {
    grpc::ClientContext context;
    if (reader != nullptr) AttachStreamCredentials(&context, api::kIssueLabelsMethod, *reader);
    auto stream = labels_->IssueLabels(&context, request);
    v1::IssueLabelsResponse message;
    int labels = 0;
    while (stream->Read(&message)) labels += message.labels_size();
    grpc::Status status = stream->Finish();
    EXPECT_EQ(labels, 0);
    return status;
  };
  grpc::Status refused = resend(nullptr);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("labels go only to an actor of"), std::string::npos)
      << refused.error_message();
  refused = resend(other_admin_.get());
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
  {
    // A new request without them: refused, and nothing written.
    const uint64_t before = LogSize();
    const v1::SignedEnvelope fresh = IssueRequest("MIDKILL", 1, *acme_operator_);
    grpc::ClientContext context;
    auto stream = labels_->IssueLabels(&context, fresh);
    v1::IssueLabelsResponse message;
    EXPECT_FALSE(stream->Read(&message));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(LogSize(), before);
  }
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

// An issuance takes a place among the few that stream at once only after
// its caller has shown it is an actor of the enterprise; one enterprise
// holds at most 2 of the 4. Issuances whose clients stopped reading (after
// the first message) hold their places here.
TEST_F(LabelE2eTest, AnIssuanceTakesItsPlaceOnceItsCallerIsKnownAndOneEnterpriseHoldsTwo) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string second_uscc = "91440300708461136T";
  const crypto::SigningKey second = RegisterProducer(second_uscc, "second admin");
  const auto request_of = [&](const std::string& uscc, const crypto::SigningKey& key,
                              const std::string& id, uint32_t count) {
    v1::IssueLabelsRequest r;
    r.set_request_id(id);
    r.set_enterprise_uscc(uscc);
    r.set_product_number("M01");
    r.set_batch("SLOTS");
    *r.mutable_production_date() = Today();
    r.set_package_count(count);
    r.set_net_quantity("25");
    r.set_unit("KGM");
    return *envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), key);
  };
  struct Held {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<grpc::ClientReader<v1::IssueLabelsResponse>> reader;
  };
  std::vector<Held> held;
  const auto hold = [&](const v1::SignedEnvelope& request, const crypto::SigningKey& key) {
    Held h;
    AttachStreamCredentials(h.context.get(), api::kIssueLabelsMethod, key);
    h.reader = labels_->IssueLabels(h.context.get(), request);
    v1::IssueLabelsResponse first;
    ASSERT_TRUE(h.reader->Read(&first)) << h.reader->Finish().error_message();
    held.push_back(std::move(h));
  };
  const auto refused = [&](const v1::SignedEnvelope& request, const crypto::SigningKey* key) {
    grpc::ClientContext context;
    if (key != nullptr) AttachStreamCredentials(&context, api::kIssueLabelsMethod, *key);
    auto reader = labels_->IssueLabels(&context, request);
    v1::IssueLabelsResponse message;
    EXPECT_FALSE(reader->Read(&message));
    return reader->Finish();
  };
  ASSERT_NO_FATAL_FAILURE(
      hold(request_of(kAcme, *acme_operator_, "slot-a1", 100000), *acme_operator_));
  ASSERT_NO_FATAL_FAILURE(
      hold(request_of(kAcme, *acme_operator_, "slot-a2", 100000), *acme_operator_));
  grpc::Status third =
      refused(request_of(kAcme, *acme_operator_, "slot-a3", 10), acme_operator_.get());
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_NE(third.error_message().find(absl::StrCat("2 issuances of ", kAcme, " are streaming")),
            std::string::npos)
      << third.error_message();
  // Another enterprise still gets its places.
  ASSERT_NO_FATAL_FAILURE(hold(request_of(second_uscc, second, "slot-b1", 100000), second));
  ASSERT_NO_FATAL_FAILURE(hold(request_of(second_uscc, second, "slot-b2", 100000), second));
  // All four taken: a caller without credentials is told so, not that the
  // places are full (it would have taken none); one with them, that they are.
  grpc::Status anonymous = refused(request_of(second_uscc, second, "slot-b3", 10), nullptr);
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED) << anonymous.error_message();
  grpc::Status full = refused(request_of(second_uscc, second, "slot-b3", 10), &second);
  EXPECT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << full.error_message();
  EXPECT_NE(full.error_message().find("4 issuances are streaming"), std::string::npos)
      << full.error_message();
  // Their clients go: the places are free again.
  for (Held& h : held) h.context->TryCancel();
  held.clear();
  for (int attempt = 0;; ++attempt) {
    Issued again = Issue(request_of(kAcme, *acme_operator_, "slot-a3", 10));
    if (again.status.ok()) {
      EXPECT_EQ(again.labels.size(), 10u);
      break;
    }
    ASSERT_EQ(again.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << again.status.error_message();
    ASSERT_LT(attempt, 600) << "the places were never freed";
    absl::SleepFor(absl::Milliseconds(50));
  }
}

}  // namespace
}  // namespace chemledger

namespace chemledger::testing {
namespace {

class VerifyE2eTest : public ChemledgerdE2eTest {};

// What a phone or a pallet scanner sends: URLs and photos; each code gets
// its verdict; anonymous callers are rate-limited, signed ones see more.
TEST_F(VerifyE2eTest, UrlsAndPhotosGetAVerdictEachAndAnonymousCallsAreLimited) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("V1", 2, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  auto verify = v1::VerifyService::NewStub(ChannelFor("chemledger.v1.VerifyService"));

  v1::VerifyRequest request;
  request.add_urls(issued.labels[0].url());
  request.add_urls("HTTPS://CL.EXAMPLE.CN/NOT-A-LABEL");
  absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(issued.labels[1].url());
  ASSERT_TRUE(qr.ok()) << qr.status();
  absl::StatusOr<std::string> photo = render::QrToPng(*qr);
  ASSERT_TRUE(photo.ok()) << photo.status();
  request.add_images(*photo);
  // A blank 16 x 16 PNG: an image, without a code.
  std::string blank;
  ASSERT_TRUE(
      absl::Base64Unescape("iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAAAAAA6mKC9AAAAD0lEQVR42mP4jwYYRrYAAID"
                           "5/wGR6yAaAAAAAElFTkSuQmCC",
                           &blank));
  request.add_images(blank);
  v1::VerifyResponse response;
  {
    grpc::ClientContext context;
    grpc::Status status = verify->Verify(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(response.verifications_size(), 3);
  EXPECT_EQ(response.verifications(0).label().verdict(), "authentic");
  EXPECT_EQ(response.verifications(0).label().assessment(), "genuine");
  EXPECT_TRUE(response.verifications(0).label().package_state().empty());
  EXPECT_EQ(response.verifications(1).label().assessment(), "fake");
  EXPECT_EQ(response.verifications(2).image(), 1);
  EXPECT_EQ(response.verifications(2).url(), issued.labels[1].url());
  EXPECT_EQ(response.verifications(2).label().code(), issued.labels[1].code());
  ASSERT_EQ(response.images_without_codes_size(), 1);
  EXPECT_EQ(response.images_without_codes(0), 2);

  // Bytes that are not a PNG or JPEG, or one over 16 megapixels (told from
  // its header), are refused naming the image, before any limit is charged.
  // A PNG whose header says 5000 x 5000 pixels.
  const std::string huge = render::testing::PngHeaderOfSize(5000, 5000);
  for (const std::string& bad : {std::string("not an image"), huge}) {
    v1::VerifyRequest refused;
    refused.add_urls(issued.labels[0].url());
    refused.add_images(bad);
    grpc::ClientContext context;
    v1::VerifyResponse ignored;
    grpc::Status status = verify->Verify(&context, refused, &ignored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("images[0]: image:"), std::string::npos)
        << status.error_message();
    if (bad == huge) {
      EXPECT_NE(status.error_message().find("5000 x 5000 pixels"), std::string::npos)
          << status.error_message();
    }
  }
  // More than an anonymous burst (600) in one call can never pass: refused
  // as such, not "retry later".
  {
    v1::VerifyRequest over;
    for (int i = 0; i < 601; ++i) over.add_urls(issued.labels[i % 2].url());
    grpc::ClientContext context;
    v1::VerifyResponse ignored;
    grpc::Status status = verify->Verify(&context, over, &ignored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find(
                  "more than an anonymous call may ever cost (60 codes a second, bursts of 600)"),
              std::string::npos)
        << status.error_message();
  }

  // Anonymous: 600 a burst per client address; that call cost 22 (a URL 1,
  // an image 10), so 600 URLs more are refused.
  v1::VerifyRequest many;
  for (int i = 0; i < 600; ++i) many.add_urls(issued.labels[i % 2].url());
  {
    grpc::ClientContext context;
    v1::VerifyResponse ignored;
    grpc::Status status = verify->Verify(&context, many, &ignored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  // A registered actor's signed call is limited far less, and sees the state.
  v1::VerifyResponse signed_response;
  grpc::Status status = Read(*regulator_, "/chemledger.v1.VerifyService/Verify", many,
                             &signed_response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(signed_response.verifications_size(), 600);
  EXPECT_EQ(signed_response.verifications(0).label().package_state(), "not-recorded");
  // Too many at once, signed or not: refused, naming the field.
  v1::VerifyRequest too_many;
  for (int i = 0; i < 1001; ++i) too_many.add_urls("HTTPS://CL.EXAMPLE.CN/X");
  status = Read(*regulator_, "/chemledger.v1.VerifyService/Verify", too_many, &signed_response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("urls: 1001"), std::string::npos) << status.error_message();
  // Anonymous too: told why (not to retry later), before the limit is charged.
  {
    grpc::ClientContext context;
    v1::VerifyResponse ignored;
    status = verify->Verify(&context, too_many, &ignored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("urls: 1001"), std::string::npos)
        << status.error_message();
  }
}

// A call whose URLs and images are within an anonymous burst (600), but
// whose images hold more codes than they paid for, so that the whole can
// never pass, is refused as oversized once the images are read: no retry
// could pass it, so it is not told to retry.
TEST_F(VerifyE2eTest, ACallWhoseImagesHoldMoreCodesThanTheBurstLeavesIsRefusedAsOversized) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("V1", 12, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  std::vector<std::string> urls;
  for (const v1::IssuedLabel& label : issued.labels) urls.push_back(label.url());
  const std::string photo = render::testing::PhotoOfCodes(urls);
  // How many the reader finds (most: it is a photo): more than the ten an
  // image pays for.
  absl::StatusOr<std::vector<std::string>> read = render::ReadQrCodes(photo);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_GT(read->size(), 10u);
  const size_t extra = read->size() - 10;
  // URLs and the image cost 600 - extra + 1 together: within the burst,
  // and the codes read beyond the image's ten take the whole over it.
  v1::VerifyRequest request;
  for (size_t i = 0; i < 600 - 10 - extra + 1; ++i) request.add_urls(urls[i % urls.size()]);
  request.add_images(photo);
  auto verify = v1::VerifyService::NewStub(ChannelFor("chemledger.v1.VerifyService"));
  grpc::ClientContext context;
  v1::VerifyResponse response;
  grpc::Status status = verify->Verify(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find(absl::StrCat("they hold ", extra, " codes more")),
            std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("send fewer images at once"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(status.error_message().find("retry"), std::string::npos) << status.error_message();
  EXPECT_EQ(response.verifications_size(), 0);
}

// A photo made to be slow to read (ZXing's finder-pattern search is cubic:
// this one would take it about a minute) is read in a worker process that
// is killed when the call's time is up (1 s and 1 s a photo): the caller is
// told, and the server goes on reading photos.
TEST_F(VerifyE2eTest, APhotoMadeToBeSlowToReadIsCutOffAndTheServerGoesOn) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("V3", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  auto verify = v1::VerifyService::NewStub(ChannelFor("chemledger.v1.VerifyService"));
  v1::VerifyRequest slow;
  slow.add_images(render::testing::PhotoSlowToRead(1024));
  const absl::Time start = absl::Now();
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::VerifyResponse ignored;
    const grpc::Status status = verify->Verify(&context, slow, &ignored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("images: not read within 2s"), std::string::npos)
        << status.error_message();
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  v1::VerifyRequest sharp;
  sharp.add_images(*render::QrToPng(*render::EncodeQr(issued.labels[0].url())));
  grpc::ClientContext context;
  v1::VerifyResponse response;
  const grpc::Status status = verify->Verify(&context, sharp, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.verifications_size(), 1);
  EXPECT_EQ(response.verifications(0).label().code(), issued.labels[0].code());
}

// A process's anonymous entry points share one allowance per client
// address: what Verify used up, the scan pages (served beside it in both
// shapes), ListBlacklist (both shapes) and, in the all-in-one server,
// ResolveLabel and ResolveWaybillCode no longer have. The allowance fills again at 60 a
// second, so each check drains it to under ten scans and then asks 50 times
// in a row: with one allowance some are refused unless each took over 13 ms;
// with allowances of their own none would be.
TEST_F(VerifyE2eTest, EveryAnonymousEntryPointOfAProcessSharesOneAllowance) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("V2", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_NE(http_port_, 0);
  auto verify = v1::VerifyService::NewStub(ChannelFor("chemledger.v1.VerifyService"));
  const std::string url = issued.labels[0].url();
  // Anonymous Verify calls of `size` URLs until one is refused.
  const auto drain = [&](int size) {
    v1::VerifyRequest request;
    for (int i = 0; i < size; ++i) request.add_urls(url);
    for (int call = 0; call < 1000; ++call) {
      grpc::ClientContext context;
      v1::VerifyResponse ignored;
      const grpc::Status status = verify->Verify(&context, request, &ignored);
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) return;
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    FAIL() << "Verify was never limited";
  };
  constexpr int kProbes = 50;
  const std::string page_path = url.substr(url.find('/', std::string("HTTPS://").size()));
  ASSERT_NO_FATAL_FAILURE(drain(100));
  ASSERT_NO_FATAL_FAILURE(drain(10));
  int pages_refused = 0;
  {
    httplib::Client client("127.0.0.1", http_port_);  // one kept-alive connection
    for (int probe = 0; probe < kProbes; ++probe) {
      httplib::Result page = client.Get(page_path.c_str());
      ASSERT_TRUE(page) << httplib::to_string(page.error());
      if (page->status == 429) ++pages_refused;
    }
  }
  EXPECT_GT(pages_refused, 0) << "the scan pages kept an allowance of their own";
  // ListBlacklist, asked of the process that serves Verify (verifyd in a
  // cluster; every service answers the registry's reads).
  auto blacklist = v1::RegistryService::NewStub(ChannelFor("chemledger.v1.VerifyService"));
  ASSERT_NO_FATAL_FAILURE(drain(100));
  ASSERT_NO_FATAL_FAILURE(drain(10));
  int blacklist_pages_refused = 0;
  for (int probe = 0; probe < kProbes; ++probe) {
    grpc::ClientContext context;
    v1::ListBlacklistResponse listed;
    if (blacklist->ListBlacklist(&context, v1::ListBlacklistRequest(), &listed).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++blacklist_pages_refused;
    }
  }
  EXPECT_GT(blacklist_pages_refused, 0) << "ListBlacklist kept an allowance of its own";
  if (ClusterShape()) return;  // labeld and waybilld are processes of their own
  ASSERT_NO_FATAL_FAILURE(drain(100));
  ASSERT_NO_FATAL_FAILURE(drain(10));
  int labels_refused = 0;
  for (int probe = 0; probe < kProbes; ++probe) {
    grpc::ClientContext context;
    v1::ResolveLabelRequest resolve;
    resolve.set_url(url);
    v1::ResolveLabelResponse resolved;
    if (labels_->ResolveLabel(&context, resolve, &resolved).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++labels_refused;
    }
  }
  EXPECT_GT(labels_refused, 0) << "ResolveLabel kept an allowance of its own";
  ASSERT_NO_FATAL_FAILURE(drain(100));
  ASSERT_NO_FATAL_FAILURE(drain(10));
  int waybill_codes_refused = 0;
  for (int probe = 0; probe < kProbes; ++probe) {
    grpc::ClientContext context;
    v1::ResolveWaybillCodeRequest resolve;
    resolve.set_url("HTTPS://CL.EXAMPLE.CN/W/NOT-A-CODE");
    v1::ResolveWaybillCodeResponse resolved;
    if (waybills_->ResolveWaybillCode(&context, resolve, &resolved).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++waybill_codes_refused;
    }
  }
  EXPECT_GT(waybill_codes_refused, 0) << "ResolveWaybillCode kept an allowance of its own";
}

}  // namespace
}  // namespace chemledger::testing
