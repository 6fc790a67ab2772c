// The public scan pages over real HTTP from a real chemledgerd: what a phone
// camera opens from a label or a waybill code, and the public blacklist.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "services/common/envelope.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "tests/e2e_server.h"

namespace chemledger::testing {
namespace {

class ScanPageE2eTest : public ChemledgerdE2eTest {
 protected:
  struct Page {
    int status = 0;
    std::string body;
    std::string content_type;
    std::string cache_control;
  };

  // GETs `path` from the scan pages, as a phone would.
  Page Get(const std::string& path) {
    httplib::Client client("127.0.0.1", http_port_);
    client.set_read_timeout(10, 0);
    httplib::Result r = client.Get(path.c_str());
    Page page;
    if (!r) {
      ADD_FAILURE() << "GET " << path << ": " << httplib::to_string(r.error());
      return page;
    }
    page.status = r->status;
    page.body = r->body;
    page.content_type = r->get_header_value("Content-Type");
    page.cache_control = r->get_header_value("Cache-Control");
    return page;
  }

  // The path a phone opens for `url` (HTTPS://CL.EXAMPLE.CN/...).
  static std::string PathOf(const std::string& url) {
    const std::string prefix = absl::StrCat("HTTPS://", kResolver);
    EXPECT_EQ(url.rfind(prefix, 0), 0u) << url;
    return url.substr(prefix.size());
  }

  static bool Has(const Page& page, const std::string& text) {
    return page.body.find(text) != std::string::npos;
  }

  // The verdict word of a page.
  static std::string Word(const Page& page) {
    const std::string open = "<div class=\"word\">";
    const size_t at = page.body.find(open);
    if (at == std::string::npos) return "";
    const size_t end = page.body.find("</div>", at);
    return page.body.substr(at + open.size(), end - at - open.size());
  }

  v1::Event Event(v1::BusinessStep step, const std::vector<std::string>& codes) {
    v1::Event e;
    e.set_event_id(absl::StrCat("scan-ev-", ++next_event_));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    clock_ += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock_));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(kAcme);
    e.mutable_location()->set_site("warehouse 1");
    return e;
  }

  void Append(const v1::Event& e) {
    const grpc::Status status = AppendEvent(*acme_operator_, e);
    ASSERT_TRUE(status.ok()) << v1::BusinessStep_Name(e.step()) << ": " << status.error_message();
  }

  int next_event_ = 0;
  absl::Time clock_ = absl::Now() - absl::Minutes(10);
};

// An authentic, a used-up (clone warning), a forged and a voided label; a
// lost one; English on request; the pictograms; every text escaped.
TEST_F(ScanPageE2eTest, ALabelPageShowsTheVerdictWarningsAndSafetyInformation) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("SCAN1", 5, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const auto url = [&](int serial) { return issued.labels[serial - 1].url(); };
  const auto code = [&](int serial) { return issued.labels[serial - 1].code(); };
  ASSERT_NO_FATAL_FAILURE(Append(Event(v1::COMMISSIONING, {code(1), code(2), code(3)})));
  // Used up (a disposal by a licensed disposer ends a package the same way).
  v1::Event used_up = Event(v1::CONSUMING, {code(2)});
  used_up.set_quantity_milli(25000);
  ASSERT_NO_FATAL_FAILURE(Append(used_up));
  v1::Event lose = Event(v1::LOSS_REPORT, {code(3)});
  lose.set_reason("stolen from the yard");
  ASSERT_NO_FATAL_FAILURE(Append(lose));
  v1::Event voided = Event(v1::VOIDING, {code(4)});
  voided.set_reason("misprinted");
  ASSERT_NO_FATAL_FAILURE(Append(voided));

  // Authentic: 真, with the safety information.
  Page page = Get(PathOf(url(1)));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page.cache_control, "no-store");
  EXPECT_EQ(Word(page), "真");
  EXPECT_TRUE(Has(page, "甲醇")) << page.body;
  EXPECT_TRUE(Has(page, "67-56-1"));
  EXPECT_TRUE(Has(page, "UN 1230"));
  EXPECT_TRUE(Has(page, "<img src=\"/static/ghs/GHS02.png\""));
  EXPECT_TRUE(Has(page, "应急咨询电话"));
  EXPECT_FALSE(Has(page, "<script"));
  // The pictogram it names is served, and cached.
  Page picture = Get("/static/ghs/GHS02.png");
  EXPECT_EQ(picture.status, 200);
  EXPECT_EQ(picture.content_type, "image/png");
  EXPECT_EQ(picture.body.substr(1, 3), "PNG");
  EXPECT_NE(picture.cache_control.find("max-age=31536000"), std::string::npos);
  EXPECT_EQ(Get("/static/ghs/GHS10.png").status, 404);

  // English on request.
  page = Get(PathOf(url(1)) + "?lang=en");
  EXPECT_EQ(Word(page), "Genuine");
  EXPECT_TRUE(Has(page, "Methanol"));

  // Used up: a label scanned now may be a copy.
  page = Get(PathOf(url(2)));
  EXPECT_EQ(Word(page), "可疑");
  EXPECT_TRUE(Has(page, "此包装已用完或已处置"));
  // Reported lost: what the finder should do.
  page = Get(PathOf(url(3)));
  EXPECT_EQ(Word(page), "真");
  EXPECT_TRUE(Has(page, "请远离，拨打 110 或 119"));
  // Voided.
  page = Get(PathOf(url(4)));
  EXPECT_EQ(Word(page), "可疑");
  EXPECT_TRUE(Has(page, "此码已作废"));
  // Forged: one signature character changed. Nothing of the product shows.
  std::string forged = url(5);
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  page = Get(PathOf(forged));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(Word(page), "伪");
  EXPECT_FALSE(Has(page, "甲醇"));
  // Not a label at all, with markup in the path: escaped, fake.
  page = Get("/%3Cscript%3Ealert(1)%3C/script%3E/X");
  EXPECT_EQ(Word(page), "伪");
  EXPECT_FALSE(Has(page, "<script>alert"));
}

// The waybill code a roadside inspector opens: an open and a cancelled
// waybill; crew numbers masked.
TEST_F(ScanPageE2eTest, AWaybillPageShowsTheWaybillWithTheCrewMasked) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("370100");
  const std::string consignee = registry::testing::ExampleUscc("370600");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "scan dispatcher");
  RegisterProducer(consignee, "scan consignee admin");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_operator_, carrier));
  Issued issued = Issue(IssueRequest("SCANW", 2, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  ASSERT_NO_FATAL_FAILURE(
      Append(Event(v1::COMMISSIONING, {issued.labels[0].code(), issued.labels[1].code()})));
  int request = 0;
  const auto submit = [&](v1::WaybillRequest r) {
    r.set_request_id(absl::StrCat("scan-wb-", ++request));
    grpc::ClientContext context;
    v1::WaybillResult result;
    const grpc::Status status = waybills_->Submit(
        &context, *envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_key),
        &result);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return result;
  };
  const auto waybill = [&](const std::string& number, const std::string& code) {
    v1::WaybillRequest r;
    *r.mutable_submit() = waybill::testing::ExampleWaybill(number, carrier, kAcme, consignee,
                                                           {code}, 25000, "KGM");
    return r;
  };
  const v1::WaybillResult open = submit(waybill("YD-SCAN-1", issued.labels[0].code()));
  const v1::WaybillResult doomed = submit(waybill("YD-SCAN-2", issued.labels[1].code()));
  ASSERT_FALSE(open.waybill_code().empty());
  ASSERT_FALSE(doomed.waybill_code().empty());
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("YD-SCAN-2");
  cancel.mutable_cancel()->set_reason("vehicle broke down");
  submit(cancel);

  const v1::WaybillRequest submitted = waybill("YD-SCAN-1", issued.labels[0].code());
  const v1::Waybill& example = submitted.submit();
  Page page = Get(PathOf(open.waybill_code()));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(Word(page), "有效");
  EXPECT_TRUE(Has(page, example.vehicle().plate())) << page.body;
  EXPECT_TRUE(Has(page, example.driver().name()));
  EXPECT_TRUE(Has(page, "UN " + example.goods(0).un_number()));
  EXPECT_TRUE(Has(page, "<img src=\"/static/transport/" + example.goods(0).hazard_class()));
  // The people's numbers are masked; nothing of them is whole.
  for (const v1::CrewMember* crew : {&example.driver(), &example.escort()}) {
    EXPECT_FALSE(Has(page, crew->phone())) << crew->phone();
    EXPECT_FALSE(Has(page, crew->qualification_number())) << crew->qualification_number();
    EXPECT_TRUE(Has(page, crew->phone().substr(0, 3) + "****" +
                              crew->phone().substr(crew->phone().size() - 4)));
  }
  EXPECT_EQ(Get("/static/transport/" + example.goods(0).hazard_class() + ".png").status, 200);

  page = Get(PathOf(doomed.waybill_code()));
  EXPECT_EQ(Word(page), "已取消");
  EXPECT_TRUE(Has(page, "<header class=\"bad\">"));
}

// The public blacklist, and a blacklisted supplier's label.
TEST_F(ScanPageE2eTest, TheBlacklistIsPublicAndShowsOnTheLabel) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("SCANB", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  EXPECT_TRUE(Has(Get("/blacklist"), "目前没有企业被列入黑名单"));
  v1::RegistryRequest r;
  r.mutable_blacklist()->set_enterprise_uscc(kAcme);
  r.mutable_blacklist()->set_blacklisted(true);
  r.mutable_blacklist()->set_reason("无证储存 <b>");
  *r.mutable_blacklist()->mutable_date() = Today();
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*regulator_, r));

  Page page = Get("/blacklist");
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(Has(page, kAcme));
  EXPECT_TRUE(Has(page, "无证储存 &lt;b&gt;"));
  EXPECT_TRUE(Has(page, "监管部门"));
  page = Get(PathOf(issued.labels[0].url()));
  EXPECT_TRUE(Has(page, "供应商已被列入黑名单"));
  EXPECT_TRUE(Has(page, "列入黑名单："));
  EXPECT_TRUE(Has(page, "无证储存 &lt;b&gt;"));
}

// Anonymous page scans are limited per client address: a burst, then 429.
TEST_F(ScanPageE2eTest, AnonymousScansAreLimitedPerClientAddress) {
  httplib::Client client("127.0.0.1", http_port_);
  client.set_keep_alive(true);
  int ok = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 1200 && limited == 0; ++i) {
    httplib::Result r = client.Get("/NOT-A-LABEL/X/Y");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    if (r->status == 200) ++ok;
    if (r->status == 429) {
      ++limited;
      retry_after = r->get_header_value("Retry-After");
      EXPECT_NE(r->body.find("扫描过多"), std::string::npos);
    }
  }
  EXPECT_GE(ok, 600);
  EXPECT_EQ(limited, 1);
  EXPECT_EQ(retry_after, "5");
  // The blacklist and the pictograms are not scans: still served.
  EXPECT_EQ(client.Get("/blacklist")->status, 200);
  EXPECT_EQ(client.Get("/static/ghs/GHS01.png")->status, 200);
}

// Beyond loopback the pages need TLS, as the gRPC port does.
TEST_F(ScanPageE2eTest, PlainHttpOnlyOnLoopback) {
  server_.reset();
  const auto [code, out] = RunChemledgerd({"serve", "--data", dir_ + "/data", "--listen",
                                           "127.0.0.1:0", "--http-listen", "0.0.0.0:0"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("--http-listen: 0.0.0.0:0 is not a loopback address"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace chemledger::testing
