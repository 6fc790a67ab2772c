// The public scan pages over real HTTP from a real chemledgerd: what a phone
// camera opens from a label or a waybill code, and the public blacklist;
// and the same pages in Debian's Chromium (tests/browser/scan_pages.js).

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "crypto/key_files.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "render/qr.h"
#include "services/common/envelope.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "tests/e2e_server.h"
#include "tests/subprocess.h"

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
    return EventAt(kAcme, step, codes);
  }
  v1::Event EventAt(const std::string& enterprise, v1::BusinessStep step,
                    const std::vector<std::string>& codes) {
    v1::Event e;
    e.set_event_id(absl::StrCat("scan-ev-", ++next_event_));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    clock_ += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock_));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(enterprise);
    e.mutable_location()->set_site("warehouse 1");
    return e;
  }

  void Append(const v1::Event& e) {
    const grpc::Status status = AppendEvent(*acme_operator_, e);
    ASSERT_TRUE(status.ok()) << v1::BusinessStep_Name(e.step()) << ": " << status.error_message();
  }

  // Labels of Acme's M01 in each state a scan page tells apart.
  struct Labels {
    std::string genuine, used_up, lost, voided, forged;  // URLs
    std::string used_up_code;
  };
  void MakeLabels(Labels* out) {
    Issued issued = Issue(IssueRequest("SCAN" + std::to_string(++batches_), 5, *acme_operator_));
    ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
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
    out->genuine = issued.labels[0].url();
    out->used_up = issued.labels[1].url();
    out->used_up_code = issued.labels[1].code();
    out->lost = issued.labels[2].url();
    out->voided = issued.labels[3].url();
    // Forged: one signature character changed.
    out->forged = issued.labels[4].url();
    out->forged.back() = out->forged.back() == 'A' ? 'B' : 'A';
  }

  // An open and a cancelled waybill of Acme's goods (codes URLs), and the
  // open one's content.
  struct Waybills {
    std::string open, cancelled;
    v1::Waybill open_content;
  };
  void MakeWaybills(Waybills* out) {
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
    const v1::WaybillRequest open = waybill("YD-SCAN-1", issued.labels[0].code());
    out->open = submit(open).waybill_code();
    out->open_content = open.submit();
    out->cancelled = submit(waybill("YD-SCAN-2", issued.labels[1].code())).waybill_code();
    ASSERT_FALSE(out->open.empty());
    ASSERT_FALSE(out->cancelled.empty());
    v1::WaybillRequest cancel;
    cancel.mutable_cancel()->set_waybill_number("YD-SCAN-2");
    cancel.mutable_cancel()->set_reason("vehicle broke down");
    submit(cancel);
  }

  // Blacklists `uscc`, with `reason`.
  void Blacklist(const std::string& uscc, const std::string& reason) {
    v1::RegistryRequest r;
    r.mutable_blacklist()->set_enterprise_uscc(uscc);
    r.mutable_blacklist()->set_blacklisted(true);
    r.mutable_blacklist()->set_reason(reason);
    *r.mutable_blacklist()->mutable_date() = Today();
    ASSERT_NO_FATAL_FAILURE(SubmitOk(*regulator_, r));
  }

  int next_event_ = 0;
  int batches_ = 0;
  absl::Time clock_ = absl::Now() - absl::Minutes(10);
};

// Anyone's scan of a lost or a used-up package's label is recorded: 公安
// and the owner read it at once as a scan signal (where from: the caller's
// network, never its address); a scan of a package in use is not.
TEST_F(ScanPageE2eTest, AScanOfALostOrUsedUpLabelAlertsThePoliceAndTheOwner) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const crypto::SigningKey police = crypto::SigningKey::Generate();
  v1::RegistryRequest add_police = Actor("公安 inspector", v1::REGULATOR, "", police);
  add_police.mutable_add_actor()->set_department(v1::PUBLIC_SECURITY);
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, add_police));
  Labels labels;
  ASSERT_NO_FATAL_FAILURE(MakeLabels(&labels));
  EXPECT_EQ(Get(PathOf(labels.genuine)).status, 200);
  EXPECT_EQ(Get(PathOf(labels.lost)).status, 200);
  EXPECT_EQ(Get(PathOf(labels.used_up)).status, 200);

  const auto signals_of = [&](const crypto::SigningKey& reader) {
    v1::ListScanSignalsRequest request;
    v1::ScanSignals signals;
    const grpc::Status status = Read(reader, api::kListScanSignalsMethod, request, &signals);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return signals;
  };
  // Recorded after the page is answered: a moment later.
  v1::ScanSignals seen;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    seen = signals_of(police);
    if (seen.signals_size() >= 2) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(seen.signals_size(), 2) << seen.ShortDebugString();
  std::set<std::string> kinds;
  for (const v1::ScanSignals::Signal& s : seen.signals()) {
    kinds.insert(s.kind());
    EXPECT_EQ(s.seen_by(), "public");
    EXPECT_EQ(s.custodian(), kAcme);
    EXPECT_EQ(s.channel(), "scan-page");
    EXPECT_EQ(s.client_network(), "ipv4:127.0.0.0/24");
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"lost-package-scanned", "ended-package-scanned"}));
  // The owner reads the public scan of its lost package (not where from),
  // not the clone signal; another enterprise reads none.
  const v1::ScanSignals owner = signals_of(*acme_operator_);
  ASSERT_EQ(owner.signals_size(), 1);
  EXPECT_EQ(owner.signals(0).kind(), "lost-package-scanned");
  EXPECT_EQ(owner.signals(0).client_network(), "");
  EXPECT_EQ(signals_of(*other_admin_).signals_size(), 0);
}

// An authentic, a used-up (clone warning), a forged and a voided label; a
// lost one; English on request; the pictograms; every text escaped.
TEST_F(ScanPageE2eTest, ALabelPageShowsTheVerdictWarningsAndSafetyInformation) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Labels labels;
  ASSERT_NO_FATAL_FAILURE(MakeLabels(&labels));

  // Authentic: 真, with the safety information.
  Page page = Get(PathOf(labels.genuine));
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
  page = Get(PathOf(labels.genuine) + "?lang=en");
  EXPECT_EQ(Word(page), "Genuine");
  EXPECT_TRUE(Has(page, "Methanol"));

  // Used up: a label scanned now may be a copy.
  page = Get(PathOf(labels.used_up));
  EXPECT_EQ(Word(page), "可疑");
  EXPECT_TRUE(Has(page, "此包装已用完或已处置"));
  // Reported lost: what the finder should do.
  page = Get(PathOf(labels.lost));
  EXPECT_EQ(Word(page), "真");
  EXPECT_TRUE(Has(page, "请远离，拨打 110 或 119"));
  // Voided.
  page = Get(PathOf(labels.voided));
  EXPECT_EQ(Word(page), "可疑");
  EXPECT_TRUE(Has(page, "此码已作废"));
  // Forged: one signature character changed. Nothing of the product shows.
  page = Get(PathOf(labels.forged));
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
  Waybills waybills;
  ASSERT_NO_FATAL_FAILURE(MakeWaybills(&waybills));
  const v1::Waybill& example = waybills.open_content;
  Page page = Get(PathOf(waybills.open));
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

  page = Get(PathOf(waybills.cancelled));
  EXPECT_EQ(Word(page), "已取消");
  EXPECT_TRUE(Has(page, "<header class=\"bad\">"));

  // chemscan online: the open waybill's code genuine; the cancelled one's,
  // which the log holds, suspicious (not fake).
  std::ofstream(dir_ + "/waybill-codes.txt") << waybills.open << "\n" << waybills.cancelled << "\n";
  auto [code, out] = RunShell(absl::StrCat("exec '", RunfilePath("tools/chemscan/chemscan"),
                                           "' verify ", ServerFlags("chemledger.v1.VerifyService"),
                                           " - < '", dir_, "/waybill-codes.txt'"));
  EXPECT_EQ(code, 1) << out;
  const std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "genuine\t")) << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[1], "suspicious\t")) << lines[1];
  EXPECT_NE(lines[1].find("cancelled"), std::string::npos) << lines[1];
}

// The public blacklist, and a blacklisted supplier's label.
TEST_F(ScanPageE2eTest, TheBlacklistIsPublicAndShowsOnTheLabel) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("SCANB", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  EXPECT_TRUE(Has(Get("/blacklist"), "目前没有企业被列入黑名单"));
  ASSERT_NO_FATAL_FAILURE(Blacklist(kAcme, "无证储存 <b>"));

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
  // Behind a TLS terminator on this machine, each phone is the address the
  // proxy appended last to X-Forwarded-For: another phone is not limited,
  // and what the phone itself claims earlier in the header counts for nothing.
  httplib::Headers phone = {{"X-Forwarded-For", "203.0.113.7"}};
  EXPECT_EQ(client.Get("/NOT-A-LABEL/X/Y", phone)->status, 200);
  // The exhausted bucket refills a token every 1/60 s, so a single request
  // may slip through: 40 in a row, of which a fresh address (the spoofed
  // one) would have all 40 answered.
  const auto limited_of_40 = [&](const httplib::Headers& headers) {
    int refused = 0;
    for (int i = 0; i < 40; ++i) refused += client.Get("/NOT-A-LABEL/X/Y", headers)->status == 429;
    return refused;
  };
  httplib::Headers spoofing = {{"X-Forwarded-For", "198.51.100.1, 127.0.0.1"}};
  EXPECT_GE(limited_of_40(spoofing), 35);
  // Nor does a header line of its own before the proxy's.
  httplib::Headers two_lines = {{"X-Forwarded-For", "198.51.100.2"},
                                {"X-Forwarded-For", "127.0.0.1"}};
  EXPECT_GE(limited_of_40(two_lines), 35);
  // Nor text that is no address (each made-up value would be a client of
  // its own): it counts as the proxy's own address, whose bucket is empty.
  EXPECT_GE(limited_of_40({{"X-Forwarded-For", "1:2:3"}}), 35);
  EXPECT_GE(limited_of_40({{"X-Forwarded-For", "[fe80::1"}}), 35);
  // What browsers ask for by themselves is no scan.
  EXPECT_EQ(client.Get("/favicon.ico")->status, 404);
  EXPECT_EQ(client.Get("/robots.txt")->status, 200);
  // A page of the blacklist (up to 100 enterprises read) costs a scan too;
  // another address reads it. The pictograms are not scans: still served.
  int blacklist_refused = 0;
  for (int i = 0; i < 40; ++i) blacklist_refused += client.Get("/blacklist")->status == 429;
  EXPECT_GE(blacklist_refused, 35);
  httplib::Result blacklist = client.Get("/blacklist", {{"X-Forwarded-For", "203.0.113.9"}});
  ASSERT_TRUE(blacklist);
  EXPECT_EQ(blacklist->status, 200);
  EXPECT_EQ(client.Get("/static/ghs/GHS01.png")->status, 200);
}

// Scans from `client`'s own address until the first is refused (429).
void SpendTheAllowance(httplib::Client& client) {
  int limited = 0;
  for (int i = 0; i < 1200 && limited == 0; ++i) {
    httplib::Result r = client.Get("/NOT-A-LABEL/X/Y");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    limited += r->status == 429;
  }
  ASSERT_EQ(limited, 1);
}

// With --trusted-proxy naming no proxy on this machine, no loopback peer's
// X-Forwarded-For is taken: a client naming another address in it spends
// its own allowance (in the cluster shape, at verifyd). A value that is no
// address stops the server, naming the flag.
class ScanPageTrustedProxyTest : public ScanPageE2eTest {
 protected:
  std::vector<std::string> ServeFlags() override {
    return {"--trusted-proxy", "192.0.2.1, 2001:db8::1"};
  }
};

TEST_F(ScanPageTrustedProxyTest, OnlyTheNamedProxiesNameTheClient) {
  httplib::Client client("127.0.0.1", http_port_);
  client.set_keep_alive(true);
  ASSERT_NO_FATAL_FAILURE(SpendTheAllowance(client));
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    refused += client.Get("/NOT-A-LABEL/X/Y", {{"X-Forwarded-For", "203.0.113.7"}})->status == 429;
  }
  EXPECT_GE(refused, 35);
  if (ClusterShape()) return;  // what follows starts chemledgerd

  ASSERT_NO_FATAL_FAILURE(KillServer());
  auto [code, out] = RunChemledgerd({"serve", "--data", dir_ + "/data", "--listen",
                                     "127.0.0.1:0", "--plaintext", "--http-listen", "127.0.0.1:0",
                                     "--trusted-proxy", "10.0.0.1,proxy.example"});
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("--trusted-proxy: 'proxy.example' is not an IPv4 or IPv6 address"),
            std::string::npos)
      << out;
}

// A named proxy's X-Forwarded-For names the client: here the loopback
// address, named in its IPv4-mapped IPv6 form, which matches the peer's
// IPv4 address.
class ScanPageNamedProxyTest : public ScanPageE2eTest {
 protected:
  std::vector<std::string> ServeFlags() override {
    return {"--trusted-proxy", "192.0.2.1, [::ffff:127.0.0.1]"};
  }
};

TEST_F(ScanPageNamedProxyTest, TheNamedProxysHeaderNamesTheClient) {
  httplib::Client client("127.0.0.1", http_port_);
  client.set_keep_alive(true);
  ASSERT_NO_FATAL_FAILURE(SpendTheAllowance(client));
  // Another phone behind the proxy has an allowance of its own.
  EXPECT_EQ(client.Get("/NOT-A-LABEL/X/Y", {{"X-Forwarded-For", "203.0.113.7"}})->status, 200);
}

// Beyond loopback the pages need TLS, as the gRPC port does; without TLS
// chemledgerd serves only when asked to (--plaintext).
TEST_F(ScanPageE2eTest, PlainHttpOnlyOnLoopback) {
  ASSERT_NO_FATAL_FAILURE(KillServer());
  auto [code, out] = RunChemledgerd({"serve", "--data", dir_ + "/data", "--listen",
                                     "127.0.0.1:0", "--plaintext", "--http-listen", "0.0.0.0:0"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("--plaintext: --http-listen 0.0.0.0:0 is not a loopback address"),
            std::string::npos)
      << out;
  // And plaintext only when asked for: no TLS and no --plaintext serves nothing.
  std::tie(code, out) = RunChemledgerd(
      {"serve", "--data", dir_ + "/data", "--listen", "127.0.0.1:0", "--http-listen", "none"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("--tls-cert and --tls-key: needed to serve; or --plaintext"),
            std::string::npos)
      << out;
  std::tie(code, out) = RunChemledgerd({"serve", "--data", dir_ + "/data", "--listen",
                                        "0.0.0.0:0", "--plaintext", "--http-listen", "none"});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("--plaintext: --listen 0.0.0.0:0 is not a loopback address"),
            std::string::npos)
      << out;
  // A cluster's service refuses --plaintext with any of the TLS flags, the
  // key too (it would be ignored).
  std::tie(code, out) = RunShell(absl::StrCat(
      "exec '", RunfilePath("services/cluster/labeld"),
      "' --ledger 127.0.0.1:1 --label-keys /nonexistent --plaintext --tls-key /nonexistent"));
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("--plaintext: not with --tls-ca, --tls-cert or --tls-key"),
            std::string::npos)
      << out;
}

// With --tls-cert and --tls-key both ports speak TLS with that certificate:
// gRPC, and the pages, which also tell browsers to keep to HTTPS.
TEST_F(ScanPageE2eTest, TlsOnBothPorts) {
  ASSERT_NO_FATAL_FAILURE(KillServer());
  const std::string ca = dir_ + "/ca";
  ASSERT_TRUE(MakeDevelopmentCa(ca, "ledgerd"));
  Subprocess server;
  ASSERT_TRUE(server
                  .Start({Binary(), "serve", "--data", dir_ + "/data", "--listen", "127.0.0.1:0",
                          "--http-listen", "127.0.0.1:0", "--tls-cert", ca + "/ledgerd.pem",
                          "--tls-key", ca + "/ledgerd.key"})
                  .ok());
  int grpc_port = 0, https_port = 0;
  ASSERT_NO_FATAL_FAILURE(ReadServingPorts(server, &grpc_port, &https_port));
  ASSERT_NE(https_port, 0);
  std::ifstream ca_file(ca + "/ca.pem");
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca_file),
                            std::istreambuf_iterator<char>());
  auto registry = v1::RegistryService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port), grpc::SslCredentials(ssl)));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::Deployment deployment;
  grpc::Status status = registry->GetDeployment(&context, v1::GetDeploymentRequest(), &deployment);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(deployment.checkpoint_origin().empty());

  httplib::SSLClient pages("127.0.0.1", https_port);
  pages.set_ca_cert_path((ca + "/ca.pem").c_str());
  pages.enable_server_certificate_verification(true);
  httplib::Result page = pages.Get("/blacklist");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Strict-Transport-Security"), "max-age=31536000");
}

// chemscan verify --server: the server's verdicts for URLs and photos, as a
// warehouse worker runs it; anonymous, then signed with --details.
TEST_F(ScanPageE2eTest, ChemscanVerifiesOnline) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Labels labels;
  ASSERT_NO_FATAL_FAILURE(MakeLabels(&labels));
  {
    std::ofstream urls(dir_ + "/urls.txt");
    urls << labels.genuine << "\n" << labels.used_up << "\n" << labels.forged << "\n";
  }
  absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(labels.voided);
  ASSERT_TRUE(qr.ok());
  std::ofstream(dir_ + "/voided.png", std::ios::binary) << *render::QrToPng(*qr);
  const auto run = [&](const std::string& flags) {
    return RunShell(absl::StrCat("exec '", RunfilePath("tools/chemscan/chemscan"),
                                   "' verify ", ServerFlags("chemledger.v1.VerifyService"), " ",
                                   flags, " - '",
                                   dir_, "/voided.png' < '", dir_, "/urls.txt'"));
  };
  auto [code, out] = run("");
  EXPECT_EQ(code, 1) << out;  // not everything is genuine
  const std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "genuine\t")) << lines[0];
  EXPECT_NE(lines[0].find("\tstdin:1\tauthentic"), std::string::npos) << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[1], "suspicious\t")) << lines[1];
  EXPECT_NE(lines[1].find("WARNING: this package was consumed"), std::string::npos) << lines[1];
  EXPECT_TRUE(absl::StartsWith(lines[2], "fake\t-\tstdin:3\tbad-signature")) << lines[2];
  EXPECT_TRUE(absl::StartsWith(lines[3], "suspicious\t")) << lines[3];
  EXPECT_NE(lines[3].find("voided.png"), std::string::npos) << lines[3];
  // Those anonymous scans of a used-up and a voided package are public
  // scans the server records (docs/events.md): wait for both.
  const auto signals_of = [&](const crypto::SigningKey& reader) {
    std::vector<v1::ScanSignals::Signal> all;
    v1::ListScanSignalsRequest list;
    list.set_page_size(1);
    for (;;) {
      v1::ScanSignals page;
      const grpc::Status status = Read(reader, api::kListScanSignalsMethod, list, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.signals().begin(), page.signals().end());
      if (page.next_page_token().empty()) break;
      list.set_page_token(page.next_page_token());
    }
    return all;
  };
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       signals_of(*regulator_).size() < 2 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(signals_of(*regulator_).size(), 2u);
  for (const v1::ScanSignals::Signal& s : signals_of(*regulator_)) {
    EXPECT_EQ(s.kind(), "ended-package-scanned");
    EXPECT_EQ(s.seen_by(), "public");
    EXPECT_EQ(s.channel(), "verify");
  }

  // Signed as a registered actor, with details: the package's state.
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  std::tie(code, out) = run(absl::StrCat("--key '", dir_, "/regulator.key' --details --json"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("\"package_state\":\"active\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"package_state\":\"consumed\""), std::string::npos) << out;
  EXPECT_NE(out.find("甲醇"), std::string::npos) << out;
  // Signed scans recorded as observations at a site: the used-up package's
  // scan is a signal; its history shows the observation. (Recording goes to
  // LedgerService, which a cluster serves at another address.)
  if (ClusterShape()) return;
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_operator_, dir_ + "/acme.key", {}).ok());
  const uint64_t before = LogSize();
  std::tie(code, out) = run(absl::StrCat("--key '", dir_, "/acme.key' --observe-at 'gate 1' ",
                                         "--enterprise ", kAcme));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("recorded the scan of 3 packages at gate 1 (OBSERVING, log index"),
            std::string::npos) << out;
  EXPECT_EQ(LogSize(), before + 1) << out;
  v1::History history;
  ASSERT_TRUE(GetHistory(*regulator_, labels.used_up_code, &history).ok());
  ASSERT_GE(history.events_size(), 1);
  const v1::LogEntry& last = history.events(history.events_size() - 1).entry();
  v1::Event observed;
  ASSERT_TRUE(observed.ParseFromString(last.envelope().payload()));
  EXPECT_EQ(observed.step(), v1::OBSERVING);
  EXPECT_EQ(observed.location().site(), "gate 1");
  // The used-up and the voided package seen again are signals on the
  // regulators' list, a page at a time, after the two public scans.
  const std::vector<v1::ScanSignals::Signal> all = signals_of(*regulator_);
  ASSERT_EQ(all.size(), 4u);
  std::set<std::string> seen;
  for (size_t i = 2; i < all.size(); ++i) {
    EXPECT_EQ(all[i].kind(), "ended-package-seen");
    EXPECT_EQ(all[i].seen_by(), kAcme);
    seen.insert(all[i].code());
  }
  EXPECT_TRUE(seen.count(labels.used_up_code)) << labels.used_up_code;
  EXPECT_EQ(seen.size(), 2u);
  // The custodian reads none of these: clone signals are the regulators'.
  EXPECT_EQ(signals_of(*acme_operator_).size(), 0u);
  // Only genuine codes: exit 0.
  std::tie(code, out) = RunShell(absl::StrCat(
      "exec '", RunfilePath("tools/chemscan/chemscan"), "' verify ",
      ServerFlags("chemledger.v1.VerifyService"), " '", labels.genuine, "'"));
  EXPECT_EQ(code, 0) << out;
}

// Goods out and goods in by scan against an e-waybill: what matches is
// booked; what was expected and not scanned, and what was scanned and not
// expected, is reported and changes nothing. Then a stock-take by scan.
TEST_F(ScanPageE2eTest, ChemscanShipsReceivesAndTakesStockByScan) {
  // chemscan calls several services at one address: a cluster needs a router
  // by service name in front for it (docs/cluster.md).
  if (ClusterShape()) GTEST_SKIP() << "chemscan ship/receive/gate talk to one address";
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("370100");
  const std::string consignee = registry::testing::ExampleUscc("370600");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "book dispatcher");
  const crypto::SigningKey consignee_key = RegisterProducer(consignee, "book consignee admin");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_operator_, carrier));
  Issued issued = Issue(IssueRequest("BOOK", 4, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  std::vector<std::string> codes, photos;
  for (int i = 0; i < 4; ++i) {
    codes.push_back(issued.labels[i].code());
    photos.push_back(absl::StrCat(dir_, "/label", i + 1, ".png"));
    std::ofstream(photos.back(), std::ios::binary)
        << *render::QrToPng(*render::EncodeQr(issued.labels[i].url()));
  }
  ASSERT_NO_FATAL_FAILURE(Append(Event(v1::COMMISSIONING, codes)));
  v1::WaybillRequest submit;
  submit.set_request_id("book-wb");
  *submit.mutable_submit() = waybill::testing::ExampleWaybill(
      "YD-BOOK-1", carrier, kAcme, consignee, {codes[0], codes[1], codes[2]}, 25000, "KGM");
  {
    grpc::ClientContext context;
    v1::WaybillResult result;
    const grpc::Status status = waybills_->Submit(
        &context,
        *envelope::Sign(api::kWaybillContext, submit.SerializeAsString(), carrier_key), &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_operator_, dir_ + "/acme.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(consignee_key, dir_ + "/consignee.key", {}).ok());
  const auto chemscan = [&](const std::string& command, const std::string& key,
                            const std::string& enterprise, const std::vector<std::string>& in) {
    std::string line = absl::StrCat("exec '", RunfilePath("tools/chemscan/chemscan"), "' ",
                                    command, " --waybill YD-BOOK-1 --enterprise ", enterprise,
                                    " --site 'dock 2' --server 127.0.0.1:", port_, " --key '",
                                    key, "'");
    for (const std::string& i : in) absl::StrAppend(&line, " '", i, "'");
    return RunShell(line);
  };
  const auto shipped = [&] {
    v1::GetWaybillRequest r;
    r.set_waybill_number("YD-BOOK-1");
    v1::WaybillRecord record;
    EXPECT_TRUE(Read(carrier_key, api::kGetWaybillMethod, r, &record).ok());
    return record;
  };

  // Goods out: 1 and 2 scanned, 3 not, 4 not on the waybill.
  uint64_t before = LogSize();
  auto [code, out] = chemscan("ship", dir_ + "/acme.key", kAcme, {photos[0], photos[1], photos[3]});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("shipped (2): " + codes[0] + " " + codes[1]), std::string::npos) << out;
  EXPECT_NE(out.find("expected, not scanned (1): " + codes[2]), std::string::npos) << out;
  EXPECT_NE(out.find("scanned, not expected (not booked) (1): " + codes[3]), std::string::npos)
      << out;
  EXPECT_EQ(LogSize(), before + 1) << "one SHIPPING event";
  v1::WaybillRecord record = shipped();
  EXPECT_EQ(std::vector<std::string>(record.shipped().begin(), record.shipped().end()),
            (std::vector<std::string>{codes[0], codes[1]}));
  // The rest goes out: nothing missing, nothing unexpected.
  std::tie(code, out) = chemscan("ship", dir_ + "/acme.key", kAcme, {photos[2]});
  EXPECT_EQ(code, 0) << out;

  // Goods in at the consignee: 1 and 3 scanned, and a forged label.
  std::string forged = issued.labels[1].url();
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  before = LogSize();
  std::tie(code, out) =
      chemscan("receive", dir_ + "/consignee.key", consignee, {photos[0], photos[2], forged});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("received (2): " + codes[0] + " " + codes[2]), std::string::npos) << out;
  EXPECT_NE(out.find("expected, not scanned (1): " + codes[1]), std::string::npos) << out;
  EXPECT_NE(out.find("argument: not booked: fake (bad-signature)"), std::string::npos) << out;
  EXPECT_EQ(LogSize(), before + 1) << "one RECEIVING event";
  record = shipped();
  EXPECT_EQ(std::vector<std::string>(record.received().begin(), record.received().end()),
            (std::vector<std::string>{codes[0], codes[2]}));
  {
    // The receipt names the waybill (rules epoch 16: checked by the ledger).
    v1::History history;
    ASSERT_TRUE(GetHistory(*regulator_, codes[0], &history).ok());
    ASSERT_GE(history.events_size(), 1);
    v1::Event received;
    ASSERT_TRUE(received.ParseFromString(
        history.events(history.events_size() - 1).entry().envelope().payload()));
    EXPECT_EQ(received.step(), v1::RECEIVING);
    EXPECT_EQ(received.waybill_id(), record.waybill().waybill_number());
  }

  // A stock-take at the consignee's dock: 1 and 3 are there; 4 is scanned
  // but is not (it is still at the producer's); 3 is not scanned at first.
  const auto stocktake = [&](const std::vector<std::string>& in) {
    std::string line = absl::StrCat("exec '", RunfilePath("tools/chemscan/chemscan"),
                                    "' stocktake --enterprise ", consignee,
                                    " --site 'dock 2' --server 127.0.0.1:", port_, " --key '",
                                    dir_, "/consignee.key'");
    for (const std::string& i : in) absl::StrAppend(&line, " '", i, "'");
    return RunShell(line);
  };
  before = LogSize();
  std::tie(code, out) = stocktake({photos[0], photos[3]});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("counted (1): " + codes[0]), std::string::npos) << out;
  EXPECT_NE(out.find("on the ledger here, not scanned (1): " + codes[2]), std::string::npos)
      << out;
  EXPECT_NE(out.find("scanned, not on the ledger here (1): " + codes[3]), std::string::npos)
      << out;
  EXPECT_EQ(LogSize(), before) << "a stock-take changes nothing";
  std::tie(code, out) = stocktake({photos[2], photos[0]});
  EXPECT_EQ(code, 0) << out;
  // Only the enterprise (and regulators) read its stock.
  v1::ListStockRequest peek;
  peek.set_enterprise_uscc(consignee);
  peek.set_site("dock 2");
  v1::Stock stock;
  EXPECT_EQ(Read(*acme_operator_, api::kListStockMethod, peek, &stock).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Read(*regulator_, api::kListStockMethod, peek, &stock).ok());
  EXPECT_EQ(stock.items_size(), 2);

  // A fire at the dock: an emergency responder reads what is there only
  // after breaking glass, which the log records first.
  const crypto::SigningKey responder = crypto::SigningKey::Generate();
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Actor("fire brigade 3", v1::RESPONDER, "", responder)));
  const grpc::Status before_glass = Read(responder, api::kListStockMethod, peek, &stock);
  EXPECT_EQ(before_glass.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(before_glass.error_message().find("no break-glass access"), std::string::npos)
      << before_glass.error_message();
  v1::RegistryRequest glass;
  glass.mutable_break_glass()->set_enterprise_uscc(consignee);
  glass.mutable_break_glass()->set_site("dock 2");
  glass.mutable_break_glass()->set_reason("119 火警: dock 2 on fire");
  const uint64_t log_before = LogSize();
  ASSERT_NO_FATAL_FAILURE(SubmitOk(responder, glass));
  EXPECT_EQ(LogSize(), log_before + 1);
  stock.Clear();
  ASSERT_TRUE(Read(responder, api::kListStockMethod, peek, &stock).ok());
  EXPECT_EQ(stock.items_size(), 2);
  // Only that site.
  peek.set_site("main");
  EXPECT_EQ(Read(responder, api::kListStockMethod, peek, &stock).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Only responders break glass.
  Refused(Signed(*acme_operator_, glass), grpc::StatusCode::PERMISSION_DENIED,
          "may not break glass: responders only");
}

// A park gate by scan: the open waybill's vehicle enters and leaves; the
// cancelled one's is refused, with the reason; a regulator sees who is
// inside.
TEST_F(ScanPageE2eTest, AParkGateByScan) {
  // chemscan calls several services at one address: a cluster needs a router
  // by service name in front for it (docs/cluster.md).
  if (ClusterShape()) GTEST_SKIP() << "chemscan ship/receive/gate talk to one address";
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Waybills waybills;
  ASSERT_NO_FATAL_FAILURE(MakeWaybills(&waybills));
  v1::RegistryRequest park;
  *park.mutable_register_park() = registry::testing::ExamplePark("FZ-CHEM");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, park));
  const crypto::SigningKey gate = crypto::SigningKey::Generate();
  v1::RegistryRequest add_gate = Actor("gate 1", v1::PARK_GATE, "", gate);
  add_gate.mutable_add_actor()->set_park_id("FZ-CHEM");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, add_gate));
  ASSERT_TRUE(crypto::SaveSigningKey(gate, dir_ + "/gate.key", {}).ok());
  for (const auto& [name, url] : {std::pair<std::string, std::string>{"open", waybills.open},
                                  {"cancelled", waybills.cancelled}}) {
    std::ofstream(dir_ + "/" + name + ".png", std::ios::binary)
        << *render::QrToPng(*render::EncodeQr(url));
  }
  const auto at_gate = [&](const std::string& direction, const std::string& photo) {
    return RunShell(absl::StrCat("exec '", RunfilePath("tools/chemscan/chemscan"),
                                 "' gate --park FZ-CHEM --gate G1 ", direction,
                                 " --server 127.0.0.1:", port_, " --key '", dir_, "/gate.key' '",
                                 dir_, "/", photo, ".png'"));
  };
  auto [code, out] = at_gate("--in", "open");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("entry recorded: waybill YD-SCAN-1"), std::string::npos) << out;
  std::tie(code, out) = at_gate("--in", "open");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("is already inside FZ-CHEM"), std::string::npos) << out;
  std::tie(code, out) = at_gate("--in", "cancelled");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("entry refused: waybill 'YD-SCAN-2' is CANCELLED"), std::string::npos)
      << out;
  v1::ListVehiclesInParkRequest who;
  who.set_park_id("FZ-CHEM");
  v1::VehiclesInPark inside;
  ASSERT_TRUE(Read(*regulator_, api::kListVehiclesInParkMethod, who, &inside).ok());
  ASSERT_EQ(inside.vehicles_size(), 1);
  EXPECT_EQ(inside.vehicles(0).waybill_number(), "YD-SCAN-1");
  EXPECT_EQ(inside.vehicles(0).vehicle_plate(), waybills.open_content.vehicle().plate());
  EXPECT_EQ(inside.vehicles(0).gate_id(), "G1");
  EXPECT_EQ(Read(*acme_operator_, api::kListVehiclesInParkMethod, who, &inside).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // An accident inside the park: a responder reads what is on the vehicle
  // (its whole waybill) after breaking glass for it, and not before.
  const crypto::SigningKey responder = crypto::SigningKey::Generate();
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Actor("hazmat team", v1::RESPONDER, "", responder)));
  v1::GetWaybillRequest load;
  load.set_waybill_number("YD-SCAN-1");
  load.set_carrier_uscc(waybills.open_content.carrier_uscc());
  v1::WaybillRecord record;
  EXPECT_EQ(Read(responder, api::kGetWaybillMethod, load, &record).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RegistryRequest glass;
  glass.mutable_break_glass()->set_carrier_uscc(waybills.open_content.carrier_uscc());
  glass.mutable_break_glass()->set_waybill_number("YD-SCAN-1");
  glass.mutable_break_glass()->set_reason("122 事故: tanker leaking at gate G1");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(responder, glass));
  ASSERT_TRUE(Read(responder, api::kGetWaybillMethod, load, &record).ok());
  EXPECT_EQ(record.waybill().goods(0).un_number(), waybills.open_content.goods(0).un_number());
  EXPECT_EQ(record.waybill().driver().phone(), waybills.open_content.driver().phone());
  // A site and a vehicle at once is refused, naming the rule.
  glass.mutable_break_glass()->set_site("dock");
  Refused(Signed(responder, glass), grpc::StatusCode::INVALID_ARGUMENT, "one of the two");

  std::tie(code, out) = at_gate("--out", "open");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("exit recorded"), std::string::npos) << out;
  ASSERT_TRUE(Read(*regulator_, api::kListVehiclesInParkMethod, who, &inside).ok());
  EXPECT_EQ(inside.vehicles_size(), 0);
}

// The pages in a real browser: Debian's Chromium, headless, at a phone's
// viewport, JavaScript off for what must show without it, and on a slow 4G
// connection for the time to load. Screenshots are test outputs
// (bazel-testlogs/tests/scan_page_e2e_test/test.outputs/).
TEST_F(ScanPageE2eTest, InChromiumOnAPhoneOverSlow4G) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Labels labels;
  ASSERT_NO_FATAL_FAILURE(MakeLabels(&labels));
  Waybills waybills;
  ASSERT_NO_FATAL_FAILURE(MakeWaybills(&waybills));
  ASSERT_NO_FATAL_FAILURE(Blacklist(kOther, "未取得危险化学品经营许可证从事经营"));

  struct Expected {
    std::string name, path, word, colour;
  };
  const std::string green = "rgb(27, 122, 53)", orange = "rgb(179, 83, 0)",
                    red = "rgb(192, 38, 45)", grey = "rgb(91, 91, 91)";
  const std::vector<Expected> pages = {
      {"label-genuine", PathOf(labels.genuine), "真", green},
      {"label-genuine-en", PathOf(labels.genuine) + "?lang=en", "Genuine", green},
      {"label-used-up", PathOf(labels.used_up), "可疑", orange},
      {"label-voided", PathOf(labels.voided), "可疑", orange},
      {"label-lost", PathOf(labels.lost), "真", red},
      {"label-forged", PathOf(labels.forged), "伪", red},
      {"waybill-open", PathOf(waybills.open), "有效", green},
      {"waybill-cancelled", PathOf(waybills.cancelled), "已取消", red},
      {"blacklist", "/blacklist", "黑名单", grey},
  };
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string out_dir = outputs != nullptr ? outputs : dir_ + "/screenshots";
  google::protobuf::Struct spec;
  (*spec.mutable_fields())["base"].set_string_value(absl::StrCat("http://127.0.0.1:", http_port_));
  (*spec.mutable_fields())["out_dir"].set_string_value(out_dir);
  google::protobuf::ListValue* list = (*spec.mutable_fields())["pages"].mutable_list_value();
  for (const Expected& e : pages) {
    google::protobuf::Struct* page = list->add_values()->mutable_struct_value();
    (*page->mutable_fields())["name"].set_string_value(e.name);
    (*page->mutable_fields())["path"].set_string_value(e.path);
  }
  std::string spec_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(spec, &spec_json).ok());
  const std::string spec_file = dir_ + "/browser-spec.json";
  {
    std::ofstream out(spec_file);
    out << spec_json;
  }

  Subprocess node;
  ASSERT_TRUE(node.Start({"/bin/sh", "-c",
                          "HOME=\"$TEST_TMPDIR\" NODE_PATH=/usr/local/share/chemledger/"
                          "browser-tests/node_modules exec node \"$0\" \"$1\"",
                          RunfilePath("tests/browser/scan_pages.js"), spec_file})
                  .ok());
  std::vector<std::string> lines;
  bool eof = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(240);
  while (!eof && absl::Now() < deadline) {
    for (std::string& l : node.ReadLines(deadline, &eof)) lines.push_back(std::move(l));
  }
  absl::StatusOr<int> status = node.Wait();
  ASSERT_TRUE(status.ok() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "node tests/browser/scan_pages.js failed (its stderr is above)";
  ASSERT_EQ(lines.size(), pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    const Expected& want = pages[i];
    google::protobuf::Struct seen;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &seen).ok()) << lines[i];
    const auto& f = seen.fields();
    SCOPED_TRACE(want.name + ": " + lines[i].substr(0, 600));
    EXPECT_EQ(f.at("name").string_value(), want.name);
    EXPECT_EQ(f.at("status").number_value(), 200);
    // The verdict shows, in its colour, with JavaScript off.
    EXPECT_EQ(f.at("word").string_value(), want.word);
    EXPECT_EQ(f.at("background").string_value(), want.colour);
    // It fits a phone's width, every image loads, nothing comes from elsewhere.
    EXPECT_FALSE(f.at("overflow").bool_value());
    EXPECT_EQ(f.at("brokenImages").number_value(), 0);
    EXPECT_EQ(f.at("external").list_value().values_size(), 0);
    // Within the page-weight budget (docs/scan-page.md). The load time on
    // slow 4G (150 ms round trip, 1.6 Mbit/s; target under a second) is a
    // benchmark figure, not a test's: on CI's two shared cores one page
    // measured 1,090 ms. Here only a page that takes seconds fails.
    EXPECT_LT(f.at("loadMs").number_value(), 3000);
    std::cerr << want.name << ": loaded in " << f.at("loadMs").number_value() << " ms\n";
    EXPECT_LE(f.at("bytes").number_value(), 100 * 1024);
  }
  const auto text_of = [&](size_t i) {
    google::protobuf::Struct seen;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(lines[i], &seen).ok());
    return seen.fields().at("text").string_value();
  };
  EXPECT_NE(text_of(0).find("危险"), std::string::npos);
  EXPECT_NE(text_of(4).find("110"), std::string::npos);
  EXPECT_NE(text_of(8).find("未取得危险化学品经营许可证从事经营"), std::string::npos);
  EXPECT_NE(text_of(6).find("****"), std::string::npos);
}

}  // namespace
}  // namespace chemledger::testing
