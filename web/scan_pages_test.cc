#include "web/scan_pages.h"

#include <string>

#include "gtest/gtest.h"
#include "reference/reference_tables.h"

namespace chemledger::web {
namespace {

bool Has(const std::string& page, absl::string_view text) {
  return page.find(std::string(text)) != std::string::npos;
}

v1::ResolveLabelResponse Genuine() {
  v1::ResolveLabelResponse r;
  r.set_verdict("authentic");
  r.set_assessment("genuine");
  r.set_code("91350100M000100Y43.ACETONE.B1.7");
  r.set_issuance_log_index(12);
  v1::Product* p = r.mutable_product();
  p->set_name_zh("丙酮");
  p->set_name_en("Acetone");
  p->set_cas("67-64-1");
  p->set_un_number("1090");
  p->set_hazard_class("3");
  p->set_packing_group("II");
  p->set_catalogue_number(137);
  p->add_ghs_pictograms("GHS02");
  p->add_ghs_pictograms("GHS07");
  p->set_signal_word(v1::DANGER);
  p->add_hazard_statements("H225");
  p->add_hazard_statements("H319");
  p->add_precautionary_statements("P210");
  p->add_precautionary_statements("P305+P351+P338");
  p->add_precautionary_statements("P403+P235");
  p->add_precautionary_statements("P501");
  p->set_fire_fighting("用抗溶性泡沫、干粉、二氧化碳灭火。");
  p->set_emergency_phone("0591-12345678");
  p->set_sds_uri("https://example.cn/sds/acetone.pdf");
  v1::Enterprise* e = r.mutable_enterprise()->mutable_enterprise();
  e->set_name("福州示例化工有限公司");
  e->set_uscc("91350100M000100Y43");
  e->set_address("福州市示例路1号");
  return r;
}

PageRequest Zh() { return PageRequest{Language::kChinese, "/X/Y"}; }
PageRequest En() { return PageRequest{Language::kEnglish, "/X/Y"}; }

TEST(ScanPagesTest, AGenuineLabelShowsTheSafetyInformation) {
  const std::string page = LabelPage(Genuine(), reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<header class=\"ok\"><div class=\"word\">真</div>"));
  EXPECT_TRUE(Has(page, "丙酮"));
  EXPECT_TRUE(Has(page, "67-64-1"));
  EXPECT_TRUE(Has(page, "UN 1090"));
  EXPECT_TRUE(Has(page, "<img src=\"/static/ghs/GHS02.png\""));
  EXPECT_TRUE(Has(page, "<img src=\"/static/ghs/GHS07.png\""));
  EXPECT_TRUE(Has(page, "<p class=\"signal\">危险</p>"));
  EXPECT_TRUE(Has(page, "<b>H225</b> 高度易燃液体和蒸气"));
  // Precautionary statements by group; no Chinese P texts are shipped, so
  // the English shows and the page says the Chinese is missing.
  EXPECT_TRUE(Has(page, "<h3>预防措施</h3>"));
  EXPECT_TRUE(Has(page, "<h3>事故响应</h3>"));
  EXPECT_TRUE(Has(page, "<h3>安全储存</h3>"));
  EXPECT_TRUE(Has(page, "<h3>废弃处置</h3>"));
  EXPECT_TRUE(Has(page, "Keep away from heat/sparks/open flames/hot surfaces."));
  EXPECT_TRUE(Has(page, "（中文文本暂缺）"));
  // What the supplier registered, and what it did not.
  EXPECT_TRUE(Has(page, "用抗溶性泡沫、干粉、二氧化碳灭火。"));
  EXPECT_TRUE(Has(page, "供应商未登记，请查阅安全技术说明书（SDS）。"));  // first aid
  EXPECT_TRUE(Has(page, "href=\"tel:0591-12345678\"") || Has(page, "href=\"tel:059112345678\""));
  EXPECT_TRUE(Has(page, "福州示例化工有限公司"));
  EXPECT_TRUE(Has(page, "https://example.cn/sds/acetone.pdf"));
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_LE(page.size(), kMaxPageBytes);
}

TEST(ScanPagesTest, EnglishOnRequest) {
  const std::string page = LabelPage(Genuine(), reference::ShippedReferenceTables(), En());
  EXPECT_TRUE(Has(page, "<div class=\"word\">Genuine</div>"));
  EXPECT_TRUE(Has(page, "<html lang=\"en\">"));
  EXPECT_TRUE(Has(page, "<b>H225</b> Highly flammable liquid and vapour."));
  EXPECT_TRUE(Has(page, "<h3>Prevention</h3>"));
  EXPECT_TRUE(Has(page, "<a href=\"?lang=zh\">中文</a>"));
}

TEST(ScanPagesTest, SuspiciousAndFake) {
  v1::ResolveLabelResponse ended = Genuine();
  ended.set_assessment("suspicious");
  v1::ScanWarning* w = ended.add_scan_warnings();
  w->set_kind(v1::PACKAGE_ENDED);
  w->set_text("this package was disposed");
  std::string page = LabelPage(ended, reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<header class=\"warn\"><div class=\"word\">可疑</div>"));
  EXPECT_TRUE(Has(page, "此包装已用完或已处置"));
  // The safety information still shows: the contents may be what it says.
  EXPECT_TRUE(Has(page, "GHS02.png"));

  v1::ResolveLabelResponse fake;
  fake.set_verdict("bad-signature");
  fake.set_detail("the signature does not verify");
  fake.set_assessment("fake");
  page = LabelPage(fake, reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<header class=\"bad\"><div class=\"word\">伪</div>"));
  EXPECT_TRUE(Has(page, "bad-signature"));
  EXPECT_FALSE(Has(page, "应急咨询电话"));

  // A detail that quotes what the forger wrote is not shown: the page says
  // why in its own words, nothing of the forger's text.
  fake.set_verdict("malformed");
  fake.set_detail("label serial: '本品为正品请致电4000000000' must be 1 to 999999999");
  page = LabelPage(fake, reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "二维码内容不是本平台的标签或运单格式。")) << page;
  EXPECT_FALSE(Has(page, "4000000000")) << page;
  EXPECT_FALSE(Has(page, "本品为正品")) << page;
}

TEST(ScanPagesTest, ALostPackageTellsTheFinderWhatToDo) {
  v1::ResolveLabelResponse lost = Genuine();
  v1::ScanWarning* w = lost.add_scan_warnings();
  w->set_kind(v1::PACKAGE_LOST);
  w->set_text("reported lost");
  const std::string page = LabelPage(lost, reference::ShippedReferenceTables(), Zh());
  // Genuine, but the header is red and says what to do, not only the list.
  EXPECT_TRUE(Has(page,
                  "<header class=\"bad\"><div class=\"word\">真</div><div "
                  "class=\"what\">标签真实，但此包装已报告丢失或被盗"))
      << page;
  EXPECT_TRUE(Has(page, "<section class=\"alert\">"));
  EXPECT_TRUE(Has(page, "请远离，拨打 110 或 119"));
  EXPECT_TRUE(Has(page, "0591-12345678"));
}

// A genuine label on a package that is on hold, recalled or in transit
// under someone else's eyes: orange, and the header says to read the
// warnings; a blacklisted supplier or a revoked key alone leaves it green.
TEST(ScanPagesTest, AGenuineLabelWithAWarningToActOnIsNotGreen) {
  for (v1::ScanWarningKind kind :
       {v1::PACKAGE_ON_HOLD, v1::PACKAGE_RECALLED, v1::IN_TRANSIT_ELSEWHERE}) {
    v1::ResolveLabelResponse r = Genuine();
    r.add_scan_warnings()->set_kind(kind);
    const std::string page = LabelPage(r, reference::ShippedReferenceTables(), Zh());
    EXPECT_TRUE(Has(page,
                    "<header class=\"warn\"><div class=\"word\">真</div><div "
                    "class=\"what\">标签真实，但此包装有警示"))
        << v1::ScanWarningKind_Name(kind);
  }
  for (v1::ScanWarningKind kind : {v1::LABEL_KEY_REVOKED, v1::SUPPLIER_BLACKLISTED}) {
    v1::ResolveLabelResponse r = Genuine();
    r.add_scan_warnings()->set_kind(kind);
    const std::string page = LabelPage(r, reference::ShippedReferenceTables(), En());
    EXPECT_TRUE(Has(page, "<header class=\"ok\"><div class=\"word\">Genuine</div>"))
        << v1::ScanWarningKind_Name(kind);
  }
}

TEST(ScanPagesTest, ABlacklistedSupplierIsShown) {
  v1::ResolveLabelResponse r = Genuine();
  v1::ScanWarning* w = r.add_scan_warnings();
  w->set_kind(v1::SUPPLIER_BLACKLISTED);
  v1::BlacklistEntry* b = r.mutable_supplier_blacklisting();
  b->set_enterprise_name("福州示例化工有限公司");
  b->set_reason("无证储存");
  b->mutable_date()->set_year(2026);
  b->mutable_date()->set_month(11);
  b->mutable_date()->set_day(2);
  const std::string page = LabelPage(r, reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "供应商已被列入黑名单"));
  EXPECT_TRUE(Has(page, "无证储存 · 2026-11-02"));
  EXPECT_TRUE(Has(page, "href=\"/blacklist\""));
}

TEST(ScanPagesTest, EverythingFromTheLogIsEscaped) {
  v1::ResolveLabelResponse r = Genuine();
  r.mutable_product()->set_name_zh("<img src=x onerror=alert(1)>");
  r.mutable_product()->set_first_aid("\"><script>alert(2)</script>");
  r.mutable_product()->set_sds_uri("https://x/\"onmouseover=\"alert(3)");
  r.mutable_product()->add_hazard_statements("H999<b>");
  PageRequest req = Zh();
  req.path = "/\"><script>alert(4)</script>";
  const std::string page = LabelPage(r, reference::ShippedReferenceTables(), req);
  EXPECT_FALSE(Has(page, "<img src=x"));
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, "\"onmouseover"));
  EXPECT_FALSE(Has(page, "H999<b>"));
  EXPECT_TRUE(Has(page, "&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_TRUE(Has(page, "（文本暂缺）"));  // H999 is in no table
}

v1::ResolveWaybillCodeResponse Waybill(const std::string& verdict, v1::WaybillStatus status) {
  v1::ResolveWaybillCodeResponse r;
  r.set_verdict(verdict);
  r.set_waybill_number("YD350100-20261130-0001");
  r.set_carrier_uscc("91350100M000100Y43");
  r.set_status(status);
  v1::PublicWaybillView* w = r.mutable_public_view();
  w->set_carrier_name("示例危货运输有限公司");
  w->set_vehicle_plate("闽A12345");
  w->set_plate_colour(v1::YELLOW);
  w->set_trailer_plate("闽A1234挂");
  w->mutable_driver()->set_name("张三");
  w->mutable_driver()->set_qualification_number("35************1233");
  w->mutable_driver()->set_phone("138****0001");
  w->set_emergency_phone("0591-87654321");
  w->set_toxic_permit("闽公剧通字2026-0001");
  v1::PublicGoodsLine* g = w->add_goods();
  g->set_un_number("1090");
  g->set_proper_shipping_name("丙酮");
  g->set_hazard_class("3");
  g->set_packing_group("II");
  g->set_quantity_milli(400000);
  g->set_unit("KGM");
  g->set_codes(2);
  v1::GoodsEmergencyInfo* e = g->add_emergency();
  e->set_product_name_zh("丙酮");
  e->set_fire_fighting("抗溶性泡沫");
  return r;
}

TEST(ScanPagesTest, AnOpenWaybill) {
  const std::string page = WaybillPage(Waybill("authentic", v1::OPEN), reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<header class=\"ok\"><div class=\"word\">有效</div>"));
  EXPECT_TRUE(Has(page, "闽A12345 (黄)"));
  EXPECT_TRUE(Has(page, "闽A1234挂"));
  EXPECT_TRUE(Has(page, "张三 · 从业资格证 35************1233 · 138****0001"));
  EXPECT_TRUE(Has(page, "UN 1090 丙酮"));
  EXPECT_TRUE(Has(page, "<img src=\"/static/transport/3.png\""));
  EXPECT_TRUE(Has(page, "400 kg · 2 个码"));
  EXPECT_TRUE(Has(page, "抗溶性泡沫"));
  EXPECT_TRUE(Has(page, "急救</dt><dd>未登记"));
  EXPECT_TRUE(Has(page, "闽公剧通字2026-0001"));
  // No general information per UN number is shipped: the page says so.
  EXPECT_TRUE(Has(page, "UN 1090 的通用应急处置信息：参考表未收录。"));
  EXPECT_LE(page.size(), kMaxPageBytes);
}

// A reference table with general emergency information for UN 1090.
class EmergencyTables : public reference::ReferenceTables {
 public:
  std::optional<std::string> StatementText(absl::string_view, reference::Language) const override {
    return std::nullopt;
  }
  std::vector<reference::TableSource> Sources() const override { return {}; }
  std::optional<std::string> EmergencyInformation(absl::string_view un,
                                                  reference::Language language) const override {
    if (un != "1090") return std::nullopt;
    return language == reference::Language::kChinese ? "测试：<疏散> 下风向" : "test: <evacuate>";
  }
};

TEST(ScanPagesTest, AWaybillShowsTheGeneralEmergencyInformationOfItsUnNumbers) {
  const EmergencyTables tables;
  std::string page = WaybillPage(Waybill("authentic", v1::OPEN), tables, Zh());
  EXPECT_TRUE(Has(page, "按联合国编号的应急处置")) << page;
  EXPECT_TRUE(Has(page, "测试：&lt;疏散&gt; 下风向"));
  EXPECT_FALSE(Has(page, "参考表未收录"));
  page = WaybillPage(Waybill("authentic", v1::OPEN), tables, En());
  EXPECT_TRUE(Has(page, "test: &lt;evacuate&gt;"));
}

TEST(ScanPagesTest, AWaybillOfManyLinesStaysWithinTheBudget) {
  v1::ResolveWaybillCodeResponse big = Waybill("authentic", v1::OPEN);
  const v1::PublicGoodsLine line = big.public_view().goods(0);
  for (int i = 0; i < 254; ++i) *big.mutable_public_view()->add_goods() = line;
  const std::string page = WaybillPage(big, reference::ShippedReferenceTables(), Zh());
  EXPECT_LE(page.size(), kMaxPageBytes);
  EXPECT_TRUE(Has(page, "行货物未列出")) << page.size();
}

// Whatever a registration holds, a label page stays within the budget: long
// names and reasons cut, statement lists cut with a count, an overlong link
// not shown.
TEST(ScanPagesTest, ALabelPageStaysWithinTheBudgetWhateverTheRegistrationHolds) {
  v1::ResolveLabelResponse r = Genuine();
  v1::Product* p = r.mutable_product();
  p->set_name_zh(std::string(4000, 'N'));
  p->set_name_en(std::string(20000, '&'));  // escaped, five times as long
  for (int i = 0; i < 2000; ++i) {
    p->add_hazard_statements("H225");
    p->add_precautionary_statements("P301+P310+P330");
  }
  p->set_first_aid(std::string(1000, '"'));  // the registry's bound, six times as long escaped
  p->set_fire_fighting(std::string(1000, '"'));
  p->set_spill_response(std::string(1000, '"'));
  p->set_sds_uri("https://example.cn/" + std::string(10000, 'a'));
  r.mutable_enterprise()->mutable_enterprise()->set_address(std::string(10000, '"'));
  v1::ScanWarning* w = r.add_scan_warnings();
  w->set_kind(v1::SUPPLIER_BLACKLISTED);
  w->set_text(std::string(10000, 'W'));
  r.mutable_supplier_blacklisting()->set_reason(std::string(10000, '>'));
  for (const PageRequest& req : {Zh(), En()}) {
    std::string page = LabelPage(r, reference::ShippedReferenceTables(), req);
    EXPECT_LE(page.size(), kMaxPageBytes);
    p->set_sds_uri("https://example.cn/" + std::string(490, '"'));  // shown, escaped
    page = LabelPage(r, reference::ShippedReferenceTables(), req);
    EXPECT_LE(page.size(), kMaxPageBytes);
    p->set_sds_uri("https://example.cn/" + std::string(10000, 'a'));
    page = LabelPage(r, reference::ShippedReferenceTables(), req);
    EXPECT_TRUE(Has(page, req.language == Language::kChinese ? "条，见安全技术说明书（SDS）"
                                                             : "more: see the safety data sheet"));
    EXPECT_FALSE(Has(page, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  }
}

// Eight products a line, each with its texts at the registry's bound and
// made five times longer by escaping: the page still keeps its budget and
// says what it left out.
TEST(ScanPagesTest, AWaybillOfLongSafetyTextsStaysWithinTheBudget) {
  v1::ResolveWaybillCodeResponse big = Waybill("authentic", v1::OPEN);
  v1::PublicGoodsLine* line = big.mutable_public_view()->mutable_goods(0);
  line->clear_emergency();
  for (int i = 0; i < 8; ++i) {
    v1::GoodsEmergencyInfo* e = line->add_emergency();
    e->set_product_name_zh(std::string(5000, '&'));
    e->set_supplier_name(std::string(5000, '&'));
    e->set_first_aid(std::string(1000, '&'));
    e->set_fire_fighting(std::string(1000, '&'));
    e->set_spill_response(std::string(1000, '&'));
  }
  line->set_proper_shipping_name(std::string(20000, '"'));
  line->set_packaging(std::string(20000, '"'));
  for (int i = 0; i < 3; ++i) *big.mutable_public_view()->add_goods() = *line;
  big.mutable_public_view()->set_toxic_permit(std::string(5000, '"'));
  big.mutable_public_view()->set_precursor_permit(std::string(5000, '"'));
  big.mutable_public_view()->set_waste_manifest(std::string(5000, '"'));
  for (const PageRequest& req : {Zh(), En()}) {
    const std::string page = WaybillPage(big, reference::ShippedReferenceTables(), req);
    EXPECT_LE(page.size(), kMaxPageBytes);
    EXPECT_TRUE(Has(page, req.language == Language::kChinese ? "种货物的应急处置信息未显示"
                                                             : "more products' emergency"));
  }
}

TEST(ScanPagesTest, ACancelledOrClosedWaybillSaysSoInRed) {
  std::string page = WaybillPage(Waybill("cancelled", v1::CANCELLED), reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<header class=\"bad\"><div class=\"word\">已取消</div>"));
  page = WaybillPage(Waybill("closed", v1::CLOSED), reference::ShippedReferenceTables(), En());
  EXPECT_TRUE(Has(page, "<header class=\"bad\"><div class=\"word\">Closed</div>"));
  v1::ResolveWaybillCodeResponse forged;
  forged.set_verdict("bad-signature");
  page = WaybillPage(forged, reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<div class=\"word\">伪</div>"));
  EXPECT_FALSE(Has(page, "车辆与人员"));
  // Signed by a key revoked since, held by the log: the waybill, in orange.
  page = WaybillPage(Waybill("revoked-key", v1::OPEN), reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<header class=\"warn\"><div class=\"word\">需换码</div>")) << page;
  forged.set_verdict("revoked-key");  // and one the log does not hold
  page = WaybillPage(forged, reference::ShippedReferenceTables(), Zh());
  EXPECT_TRUE(Has(page, "<div class=\"word\">伪</div>"));
}

TEST(ScanPagesTest, TheBlacklist) {
  v1::BlacklistEntry e;
  e.set_enterprise_uscc("91350100M000100Y43");
  e.set_enterprise_name("福州<示例>化工");
  e.set_reason("无证储存");
  e.mutable_date()->set_year(2026);
  e.mutable_date()->set_month(11);
  e.mutable_date()->set_day(2);
  e.set_listed_by("regulator");
  e.set_log_index(42);
  std::string page = BlacklistPage({e}, "/blacklist?after=91350100M000100Y43", Zh());
  EXPECT_TRUE(Has(page, "福州&lt;示例&gt;化工"));
  EXPECT_TRUE(Has(page, "无证储存"));
  EXPECT_TRUE(Has(page, "2026-11-02"));
  EXPECT_TRUE(Has(page, "监管部门"));
  EXPECT_TRUE(Has(page, "账本序号 42"));
  EXPECT_TRUE(Has(page, "下一页"));
  // A registration's long texts show their first 300 bytes.
  e.set_enterprise_name(std::string(1000, 'N'));
  e.set_reason(std::string(1000, 'R'));
  page = BlacklistPage({e}, "", Zh());
  EXPECT_TRUE(Has(page, std::string(300, 'R') + "…"));
  EXPECT_FALSE(Has(page, std::string(301, 'R')));
  EXPECT_TRUE(Has(page, std::string(300, 'N') + "…"));
  EXPECT_FALSE(Has(page, std::string(301, 'N')));
  page = BlacklistPage({}, "", Zh());
  EXPECT_TRUE(Has(page, "目前没有企业被列入黑名单。"));
}

}  // namespace
}  // namespace chemledger::web
