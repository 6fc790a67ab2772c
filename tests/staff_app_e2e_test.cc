// The staff app (web/staff_app/, docs/staff-app.md) against a real
// chemledgerd: its files and the gRPC API over HTTP (web/api_bridge.h) with
// an HTTP client, and the app itself worked in Debian's Chromium by
// tests/browser/staff_app.js: goods out and in against a waybill (in
// offline, queued and sent later with the scans' own time), store-in by a
// photo, a stock-take, and a refusal.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "render/qr.h"
#include "render/qr_testing.h"
#include "services/common/envelope.h"
#include "services/common/read_auth.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_testing.h"
#include "tests/e2e_server.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

class StaffAppE2eTest : public ChemledgerdE2eTest {
 protected:
  void SetUp() override {
    if (ClusterShape()) GTEST_SKIP() << "the staff app is served by chemledgerd only";
    ChemledgerdE2eTest::SetUp();
  }
  struct Answer {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;
  };

  Answer Http(const std::string& method, const std::string& path, const std::string& body = "",
              const httplib::Headers& headers = {},
              const std::string& content_type = "application/x-protobuf") {
    httplib::Client client("127.0.0.1", http_port_);
    client.set_read_timeout(30, 0);
    httplib::Result r = method == "GET" ? client.Get(path.c_str(), headers)
                                        : client.Post(path.c_str(), headers, body, content_type.c_str());
    Answer a;
    if (!r) {
      ADD_FAILURE() << method << " " << path << ": " << httplib::to_string(r.error());
      return a;
    }
    a.status = r->status;
    a.body = r->body;
    for (const auto& [name, value] : r->headers) a.headers[name] = value;
    return a;
  }

  // Sends `request` as it is on a fresh connection; the answer's first line.
  std::string RawStatusLine(const std::string& request, int wait_seconds = 10) {
    const std::string answer = RawAnswer(request, /*whole=*/false, wait_seconds);
    return answer.substr(0, answer.find("\r\n"));
  }
  // The raw answer to `request`: its status line, or (whole) all the server
  // sends until it closes the connection; nothing when the server is silent
  // for `wait_seconds`.
  std::string RawAnswer(const std::string& request, bool whole = true, int wait_seconds = 10) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{wait_seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(http_port_));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
        send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size())) {
      char buffer[512];
      ssize_t n;
      while ((whole || answer.find("\r\n") == std::string::npos) &&
             (n = recv(fd, buffer, sizeof buffer, 0)) > 0) {
        answer.append(buffer, static_cast<size_t>(n));
      }
    }
    close(fd);
    return answer;
  }

  // Read credentials for `method` over `bytes`, as HTTP headers.
  httplib::Headers ReadHeaders(const crypto::SigningKey& key, const char* method,
                               const std::string& bytes) {
    const read_auth::ReadCredentials c =
        read_auth::SignRead(read_auth::ReadRequest{kDeployment, method, bytes}, key, absl::Now());
    return {{"chemledger-key-id", c.key_id},
            {"chemledger-time", c.time},
            {"chemledger-nonce", c.nonce},
            {"chemledger-signature", absl::Base64Escape(c.signature)}};
  }

  static google::protobuf::Struct Json(const std::string& text) {
    google::protobuf::Struct s;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
    return s;
  }
  static std::string Field(const google::protobuf::Struct& s, const std::string& name) {
    auto it = s.fields().find(name);
    return it == s.fields().end() ? "" : it->second.string_value();
  }

  // A waybill of Acme's `codes` from Acme to `consignee` by `carrier`.
  void SubmitWaybill(const std::string& number, const std::string& carrier,
                     const crypto::SigningKey& carrier_key, const std::string& consignee,
                     const std::vector<std::string>& codes) {
    v1::WaybillRequest submit;
    submit.set_request_id("app-wb-" + number);
    *submit.mutable_submit() = waybill::testing::ExampleWaybill(number, carrier, kAcme,
                                                                consignee, codes, 25000, "KGM");
    grpc::ClientContext context;
    v1::WaybillResult result;
    const grpc::Status status = waybills_->Submit(
        &context, *envelope::Sign(api::kWaybillContext, submit.SerializeAsString(), carrier_key),
        &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::vector<std::string> Commissioned(const std::string& batch, int count) {
    Issued issued = Issue(IssueRequest(batch, count, *acme_operator_));
    EXPECT_TRUE(issued.status.ok()) << issued.status.error_message();
    v1::Event e;
    e.set_event_id("app-commission-" + batch);
    e.set_step(v1::COMMISSIONING);
    std::vector<std::string> urls;
    for (const v1::IssuedLabel& l : issued.labels) {
      e.add_codes(l.code());
      urls.push_back(l.url());
    }
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 600);
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(kAcme);
    e.mutable_location()->set_site("warehouse 1");
    const grpc::Status status = AppendEvent(*acme_operator_, e);
    EXPECT_TRUE(status.ok()) << status.error_message();
    codes_.clear();
    for (const v1::IssuedLabel& l : issued.labels) codes_.push_back(l.code());
    return urls;
  }

  std::vector<std::string> codes_;
};

// The files, the bridge's refusals, a signed write and a signed read over
// HTTP, and the photo decoder, without a browser.
TEST_F(StaffAppE2eTest, TheBridgeCarriesSignedCallsAndRefusesTheRest) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Answer page = Http("GET", "/app/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("仓库作业"), std::string::npos);
  EXPECT_NE(page.headers["Content-Security-Policy"].find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(Http("GET", "/app/app.js").status, 200);
  EXPECT_EQ(Http("GET", "/app/sw.js").status, 200);
  EXPECT_EQ(Http("GET", "/app/nothing.js").status, 404);

  // A method the bridge does not carry.
  Answer a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/GetHistory", "");
  EXPECT_EQ(a.status, 501) << a.body;
  EXPECT_EQ(Field(Json(a.body), "code"), "UNIMPLEMENTED");
  // A read without credentials: refused before it reaches the service.
  v1::ListStockRequest stock;
  stock.set_enterprise_uscc(kAcme);
  stock.set_site("warehouse 1");
  const std::string stock_bytes = stock.SerializeAsString();
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/ListStock", stock_bytes);
  EXPECT_EQ(a.status, 401) << a.body;
  EXPECT_NE(Field(Json(a.body), "message").find("chemledger-key-id"), std::string::npos) << a.body;

  // Credentials that are not what a gRPC client could send (bytes gRPC
  // takes only in binary metadata): refused by the bridge, naming the
  // header, and the server is still there.
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"chemledger-key-id", "\xc3\xa9"},
                                                        {"chemledger-key-id", "ABCDEF0123456789"},
                                                        {"chemledger-time", "12\x01"},
                                                        {"chemledger-nonce", "%0A"},
                                                        {"chemledger-signature", "AAAA"}}) {
    httplib::Headers bad = {{"chemledger-key-id", "0123456789abcdef"},
                            {"chemledger-time", "1700000000"},
                            {"chemledger-nonce", std::string(32, 'a')},
                            {"chemledger-signature", std::string(86, 'A') + "=="}};
    bad.erase(name);
    bad.emplace(name, value);
    a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/ListStock", stock_bytes, bad);
    EXPECT_EQ(a.status, 401) << name << ": " << a.body;
    EXPECT_NE(Field(Json(a.body), "message").find(name), std::string::npos) << a.body;
  }
  // A body larger than any call's, or a photo larger than the decoder
  // takes, is refused before it is read: the answer comes to the headers
  // alone, well before the server would give up waiting for the body (5 s).
  for (const auto& [path, bytes] : std::vector<std::pair<std::string, int>>{
           {"/app/rpc/chemledger.v1.LedgerService/Append", 3 << 20},
           {"/app/api/decode", 5 << 20}}) {
    EXPECT_EQ(RawStatusLine(absl::StrCat("POST ", path,
                                         " HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                         "application/octet-stream\r\nContent-Length: ",
                                         bytes, "\r\n\r\n"),
                            /*wait_seconds=*/3),
              "HTTP/1.1 413 Payload Too Large")
        << path;
  }
  // Both limits answer as the server answers (JSON with a code), so the app
  // marks the record refused instead of taking it for a proxy's page and
  // sending it again forever: a call's, and the photo decoder's.
  for (const auto& [path, bytes] : std::vector<std::pair<std::string, int>>{
           {"/app/rpc/chemledger.v1.LedgerService/Append", 3 << 20},
           {"/app/api/decode", 5 << 20}}) {
    const std::string answer =
        RawAnswer(absl::StrCat("POST ", path,
                               " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                               "Content-Length: ",
                               bytes, "\r\n\r\n"));
    EXPECT_EQ(answer.substr(0, answer.find("\r\n")), "HTTP/1.1 413 Payload Too Large") << path;
    const size_t body = answer.find("\r\n\r\n");
    ASSERT_NE(body, std::string::npos) << path << ": " << answer;
    EXPECT_EQ(Field(Json(answer.substr(body + 4)), "code"), "RESOURCE_EXHAUSTED")
        << path << ": " << answer;
  }
  // Bodies whose size the server cannot bound before reading them are
  // refused before a byte of them is read: chunked, compressed, without a
  // length; and a body on a GET.
  for (const auto& [request, status] : std::vector<std::pair<std::string, std::string>>{
           {"POST /app/api/decode HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 411 Length Required"},
           {"POST /app/rpc/chemledger.v1.LedgerService/Append HTTP/1.1\r\nHost: x\r\n"
            "Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\n",
            "HTTP/1.1 415 Unsupported Media Type"},
           {"POST /app/rpc/chemledger.v1.LedgerService/Append HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n\r\n",
            "HTTP/1.1 411 Length Required"},
           {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 400 Bad Request"},
           // Methods no route serves, whose bodies httplib would read (PRI's
           // without a length, until the client stops).
           {"PRI / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
           {"PUT /app/api/decode HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed"}}) {
    EXPECT_EQ(RawStatusLine(request), status) << request;
  }
  // Byte ranges are not served: a request for many overlapping ranges of a
  // pictogram gets it whole, once (the library would have built thousands
  // of copies in memory).
  {
    std::string ranges = "bytes=0-";
    for (int i = 0; i < 1000; ++i) ranges += ",0-";
    const std::string whole = RawAnswer(
        "GET /static/ghs/GHS05.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string ranged = RawAnswer(absl::StrCat(
        "GET /static/ghs/GHS05.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\nRange: ", ranges,
        "\r\n\r\n"));
    EXPECT_EQ(ranged.substr(0, ranged.find("\r\n")), "HTTP/1.1 200 OK");
    ASSERT_NE(whole.find("\r\n\r\n"), std::string::npos);
    ASSERT_NE(ranged.find("\r\n\r\n"), std::string::npos);
    EXPECT_EQ(ranged.size() - ranged.find("\r\n\r\n"), whole.size() - whole.find("\r\n\r\n"));
    EXPECT_GT(whole.size() - whole.find("\r\n\r\n"), 1000u);
  }

  // The public read, no credentials.
  a = Http("POST", "/app/rpc/chemledger.v1.RegistryService/GetDeployment", "");
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Field(Json(a.body), "checkpoint_origin"), kDeployment);
  EXPECT_FALSE(a.headers["X-ChemLedger-Time"].empty());

  // A signed write: an event, as any client signs it.
  const std::vector<std::string> urls = Commissioned("APPB", 2);
  v1::Event e;
  e.set_event_id("app-bridge-1");
  e.set_step(v1::STORING);
  e.add_codes(codes_[0]);
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 5);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(kAcme);
  e.mutable_location()->set_site("warehouse 1");
  const std::string envelope =
      envelope::Sign(api::kEventContext, e.SerializeAsString(), *acme_operator_)
          ->SerializeAsString();
  const uint64_t before = LogSize();
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/Append", envelope);
  ASSERT_EQ(a.status, 200) << a.body;
  const std::string log_index = Field(Json(a.body), "log_index");
  EXPECT_EQ(log_index, absl::StrCat(before));
  // The same bytes again: the first receipt, nothing new.
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/Append", envelope);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Field(Json(a.body), "log_index"), log_index);
  EXPECT_EQ(LogSize(), before + 1);
  // A broken signature: the ledger's own refusal, as over gRPC.
  v1::SignedEnvelope broken;
  ASSERT_TRUE(broken.ParseFromString(envelope));
  (*broken.mutable_signatures(0)->mutable_sig())[0] ^= 1;
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/Append", broken.SerializeAsString());
  EXPECT_EQ(a.status, 401) << a.body;
  EXPECT_EQ(Field(Json(a.body), "code"), "UNAUTHENTICATED");
  // A rule broken: 400, FAILED_PRECONDITION, the rule named.
  v1::Event consumed_too_much = e;
  consumed_too_much.set_event_id("app-bridge-2");
  consumed_too_much.set_step(v1::CONSUMING);
  consumed_too_much.set_quantity_milli(999999999);
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/Append",
           envelope::Sign(api::kEventContext, consumed_too_much.SerializeAsString(),
                          *acme_operator_)->SerializeAsString());
  EXPECT_EQ(a.status, 400) << a.body;
  EXPECT_EQ(LogSize(), before + 1);

  // A signed read, and the same credentials again (a replay).
  const httplib::Headers headers = ReadHeaders(*acme_operator_, api::kListStockMethod, stock_bytes);
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/ListStock", stock_bytes, headers);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find(codes_[0]), std::string::npos) << a.body;
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/ListStock", stock_bytes, headers);
  EXPECT_EQ(a.status, 401) << a.body;
  EXPECT_NE(Field(Json(a.body), "message").find("chemledger-nonce"), std::string::npos) << a.body;
  // Credentials for other bytes than those sent.
  stock.set_site("elsewhere");
  a = Http("POST", "/app/rpc/chemledger.v1.LedgerService/ListStock", stock.SerializeAsString(),
           ReadHeaders(*acme_operator_, api::kListStockMethod, stock_bytes));
  EXPECT_EQ(a.status, 401) << a.body;

  // A photo in, the codes' texts out; anything else refused.
  a = Http("POST", "/app/api/decode", *render::QrToPng(*render::EncodeQr(urls[1])), {},
           "image/png");
  ASSERT_EQ(a.status, 200) << a.body;
  const google::protobuf::Struct decoded = Json(a.body);
  ASSERT_EQ(decoded.fields().at("texts").list_value().values_size(), 1) << a.body;
  EXPECT_EQ(decoded.fields().at("texts").list_value().values(0).string_value(), urls[1]);
  a = Http("POST", "/app/api/decode", "not an image", {}, "image/png");
  EXPECT_EQ(a.status, 400) << a.body;
  EXPECT_EQ(Field(Json(a.body), "code"), "INVALID_ARGUMENT");
}

// A photo made to be slow to read (ZXing's finder-pattern search is cubic)
// holds its address's one decoding slot, and its network's, until its time
// is up (2 s; the worker reading it is then killed and the app told): a
// second photo from that address, or from another address of its /24, is
// turned away at once, without paying for it, and a photo from another
// network is read meanwhile.
TEST_F(StaffAppE2eTest, OneAddressHasOnePhotoReadAtATime) {
  const std::string big = render::testing::PhotoSlowToRead(1024);
  const std::string small = *render::QrToPng(*render::EncodeQr("HTTPS://EXAMPLE.COM/A-PHOTO"));
  const httplib::Headers first_address = {{"X-Forwarded-For", "198.51.100.1"}};
  const httplib::Headers neighbour_address = {{"X-Forwarded-For", "198.51.100.2"}};
  const httplib::Headers second_address = {{"X-Forwarded-For", "203.0.113.2"}};

  std::atomic<bool> big_read{false};
  Answer big_answer;
  const absl::Time started = absl::Now();
  std::thread reading_big([&] {
    big_answer = Http("POST", "/app/api/decode", big, first_address, "image/png");
    big_read = true;
  });
  // The big photo is in the decoder once a photo from its address is
  // turned away; before that, the small ones are read.
  absl::SleepFor(absl::Milliseconds(300));
  Answer same;
  bool turned_away_while_big = false;
  for (int i = 0; i < 50 && !big_read; ++i) {
    same = Http("POST", "/app/api/decode", small, first_address, "image/png");
    if (same.status == 503) {
      turned_away_while_big = !big_read;
      break;
    }
  }
  const Answer neighbour = Http("POST", "/app/api/decode", small, neighbour_address, "image/png");
  const bool neighbour_while_big = !big_read;
  const Answer other = Http("POST", "/app/api/decode", small, second_address, "image/png");
  const bool other_while_big = !big_read;
  reading_big.join();
  const absl::Duration big_took = absl::Now() - started;

  EXPECT_EQ(big_answer.status, 400) << big_answer.body;
  EXPECT_NE(Field(Json(big_answer.body), "message").find("not read within 2s"), std::string::npos)
      << big_answer.body;
  EXPECT_LT(big_took, absl::Seconds(15));
  ASSERT_EQ(same.status, 503) << "no photo of the first address was turned away while the "
                              << "big one was read (it took " << big_took << "): " << same.body;
  EXPECT_TRUE(turned_away_while_big);
  EXPECT_EQ(Field(Json(same.body), "code"), "UNAVAILABLE");
  EXPECT_NE(Field(Json(same.body), "message").find("this network address"), std::string::npos)
      << same.body;
  EXPECT_EQ(same.headers["Retry-After"], "2");
  if (neighbour_while_big) {
    EXPECT_EQ(neighbour.status, 503) << neighbour.body;
    EXPECT_NE(Field(Json(neighbour.body), "message").find("ipv4:198.51.100.0/24"),
              std::string::npos)
        << neighbour.body;
  }
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_TRUE(other_while_big) << "the big photo took " << big_took
                               << ": too short to tell whether the other address waited";
}

// The app in Chromium on a phone: two devices enrol (their keys made in the
// browser and registered by the test as their enterprises' admins would),
// ship and receive against a waybill (the receipt made offline), store by
// photo and take stock.
TEST_F(StaffAppE2eTest, InChromiumWarehouseStaffWorkByScanOfflineToo) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("370100");
  const std::string consignee = registry::testing::ExampleUscc("350600");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "app dispatcher");
  const crypto::SigningKey consignee_admin = RegisterProducer(consignee, "app consignee admin");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_operator_, carrier));
  {
    v1::RegistryRequest site;
    *site.mutable_register_site() = registry::testing::ExampleSite(consignee, "DOCK-2");
    ASSERT_NO_FATAL_FAILURE(SubmitOk(consignee_admin, site));
  }
  const std::vector<std::string> urls = Commissioned("APPW", 4);
  const std::vector<std::string> codes = codes_;
  ASSERT_NO_FATAL_FAILURE(
      SubmitWaybill("YD-APP-1", carrier, carrier_key, consignee, {codes[0], codes[1], codes[2]}));
  const std::string photo = dir_ + "/label1.png";
  std::ofstream(photo, std::ios::binary) << *render::QrToPng(*render::EncodeQr(urls[0]));

  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string out_dir = outputs != nullptr ? outputs : dir_;
  const std::string handshake = dir_ + "/handshake";
  ASSERT_EQ(RunShell("mkdir -p '" + handshake + "'").first, 0);
  google::protobuf::Struct spec;
  auto& f = *spec.mutable_fields();
  f["base"].set_string_value(absl::StrCat("http://127.0.0.1:", http_port_));
  f["out_dir"].set_string_value(out_dir);
  f["handshake_dir"].set_string_value(handshake);
  f["waybill"].set_string_value("YD-APP-1");
  f["site"].set_string_value("DOCK-2");
  f["photo"].set_string_value(photo);
  for (const std::string& u : urls) f["labels"].mutable_list_value()->add_values()->set_string_value(u);
  std::string spec_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(spec, &spec_json).ok());
  const std::string spec_file = dir_ + "/staff-app-spec.json";
  std::ofstream(spec_file) << spec_json;

  Subprocess node;
  ASSERT_TRUE(node.Start({"/bin/sh", "-c",
                          "HOME=\"$TEST_TMPDIR\" NODE_PATH=/usr/local/share/chemledger/"
                          "browser-tests/node_modules exec node \"$0\" \"$1\"",
                          RunfilePath("tests/browser/staff_app.js"), spec_file})
                  .ok());
  // Registers each device's key as its enterprise's operator when the page
  // shows it, as the enterprise admin would with chemctl.
  const std::vector<std::pair<std::string, std::string>> devices = {{"producer", kAcme},
                                                                      {"consignee", consignee}};
  std::vector<std::string> lines;
  bool eof = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(240);
  size_t enrolled = 0;
  while (!eof && absl::Now() < deadline) {
    if (enrolled < devices.size()) {
      const auto& [name, uscc] = devices[enrolled];
      std::ifstream key_file(handshake + "/" + name + ".key");
      std::string base64;
      if (key_file >> base64) {
        std::string raw;
        ASSERT_TRUE(absl::Base64Unescape(base64, &raw));
        v1::RegistryRequest r;
        v1::Actor* actor = r.mutable_add_actor();
        actor->set_name(name == "producer" ? "发货员 王" : "收货员 李");
        actor->set_role(v1::ENTERPRISE_OPERATOR);
        actor->set_enterprise_uscc(uscc);
        actor->set_public_key(raw);
        ASSERT_NO_FATAL_FAILURE(SubmitOk(name == "producer" ? *acme_admin_ : consignee_admin, r));
        std::ofstream(handshake + "/" + name + ".registered") << "yes";
        ++enrolled;
      }
    }
    for (std::string& l : node.ReadLines(absl::Now() + absl::Milliseconds(200), &eof)) {
      lines.push_back(std::move(l));
    }
  }
  absl::StatusOr<int> status = node.Wait();
  ASSERT_TRUE(status.ok() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "node tests/browser/staff_app.js failed (its stderr is above); it said:\n"
      << absl::StrJoin(lines, "\n");
  std::map<std::string, google::protobuf::Struct> steps;
  for (const std::string& l : lines) {
    google::protobuf::Struct s = Json(l);
    EXPECT_NE(Field(s, "step"), "page-error") << l;
    steps[Field(s, "step") + (Field(s, "device").empty() ? "" : "/" + Field(s, "device"))] = s;
  }
  const auto text = [](const google::protobuf::Struct& s, const std::string& name) {
    std::string out;
    auto it = s.fields().find(name);
    if (it == s.fields().end()) return out;
    if (it->second.has_list_value()) {
      for (const auto& v : it->second.list_value().values()) absl::StrAppend(&out, v.string_value(), "\n");
      return out;
    }
    return it->second.has_number_value() ? absl::StrCat(it->second.number_value())
                                          : it->second.string_value();
  };

  // Enrolled: who the page says it is, and the consignee's registered site.
  ASSERT_TRUE(steps.count("enrolled/consignee")) << absl::StrJoin(lines, "\n");
  EXPECT_NE(text(steps["enrolled/producer"], "who").find(kAcme), std::string::npos);
  EXPECT_NE(text(steps["enrolled/consignee"], "sites").find("DOCK-2"), std::string::npos)
      << text(steps["enrolled/consignee"], "sites");

  // Goods out: 1 and 2 booked, 3 missing, 4 not on the waybill (not booked).
  const google::protobuf::Struct& shipped = steps["shipped"];
  EXPECT_NE(text(shipped, "lists").find("应到未扫 1"), std::string::npos) << text(shipped, "lists");
  EXPECT_NE(text(shipped, "lists").find("不在本运单（不会记录） 1"), std::string::npos);
  EXPECT_NE(text(shipped, "message").find("已签名 2 件"), std::string::npos) << text(shipped, "message");
  EXPECT_NE(text(shipped, "queue").find("已记录"), std::string::npos) << text(shipped, "queue");
  EXPECT_EQ(text(shipped, "waybill_kept"), "true");
  EXPECT_EQ(text(shipped, "crew_kept"), "false") << "the crew's personal data left on the device";
  v1::GetWaybillRequest get;
  get.set_waybill_number("YD-APP-1");
  v1::WaybillRecord record;
  ASSERT_TRUE(Read(carrier_key, api::kGetWaybillMethod, get, &record).ok());
  EXPECT_EQ(std::vector<std::string>(record.shipped().begin(), record.shipped().end()),
            (std::vector<std::string>{codes[0], codes[1]}));

  // Goods in, offline: queued (one pending), then recorded when back online,
  // with the time of the scans, not of the sending.
  const google::protobuf::Struct& offline = steps["received-offline"];
  // Offline, the labels were told genuine from the trust list the phone
  // fetched while online, and held for the packages' state.
  EXPECT_NE(text(offline, "scanned").find("离线核验：签名真实"), std::string::npos)
      << text(offline, "scanned");
  EXPECT_NE(text(offline, "message").find("离线核验签名真实 2 件"), std::string::npos)
      << text(offline, "message");
  EXPECT_EQ(text(offline, "pending"), "待提交 1");
  EXPECT_EQ(text(offline, "network"), "离线");
  EXPECT_NE(text(offline, "unreadable").find("无法识别"), std::string::npos);
  EXPECT_EQ(text(offline, "pending_after"), "待提交 0");
  const google::protobuf::Struct& reloaded = offline.fields().at("reloaded").struct_value();
  EXPECT_EQ(text(reloaded, "pending"), "待提交 1") << "reloaded offline, from the service worker";
  EXPECT_NE(text(reloaded, "who").find(consignee), std::string::npos);
  ASSERT_TRUE(Read(carrier_key, api::kGetWaybillMethod, get, &record).ok());
  EXPECT_EQ(std::vector<std::string>(record.received().begin(), record.received().end()),
            (std::vector<std::string>{codes[0], codes[1]}));
  v1::History history;
  ASSERT_TRUE(GetHistory(consignee_admin, codes[1], &history).ok());
  const auto events_of = [](const v1::History& h) {
    std::vector<v1::Event> events;
    for (const v1::EventRecord& r : h.events()) {
      events.emplace_back();
      EXPECT_TRUE(events.back().ParseFromString(r.entry().envelope().payload()));
    }
    return events;
  };
  std::optional<v1::Event> receipt;
  for (const v1::Event& e : events_of(history)) {
    if (e.step() == v1::RECEIVING) receipt = e;
  }
  ASSERT_TRUE(receipt.has_value()) << history.DebugString();
  const int64_t scanned_at = static_cast<int64_t>(offline.fields().at("scanned_at").number_value());
  const int64_t online_at = static_cast<int64_t>(offline.fields().at("online_at").number_value());
  EXPECT_LE(std::abs(receipt->event_time().seconds() - scanned_at), 1)
      << "the receipt carries the scan's time";
  EXPECT_GE(online_at - receipt->event_time().seconds(), 3)
      << "and not the time it was sent";
  EXPECT_EQ(receipt->location().site(), "DOCK-2");

  // Store-in by photo.
  const google::protobuf::Struct& stored = steps["stored"];
  const google::protobuf::Struct& by_photo = stored.fields().at("photo").struct_value();
  EXPECT_NE(text(by_photo, "scanned").find(codes[0]), std::string::npos)
      << text(by_photo, "scanned");
  EXPECT_NE(text(by_photo, "message").find("照片中识别到 1 个二维码"), std::string::npos)
      << text(by_photo, "message");
  // Signed in, the page sends its photo to Verify, signed (read by the
  // reader kept for registered actors), not to the anonymous decoder.
  std::vector<std::string> photo_requests;
  for (const google::protobuf::Value& v : by_photo.fields().at("requests").list_value().values()) {
    photo_requests.push_back(v.string_value());
  }
  EXPECT_NE(std::find(photo_requests.begin(), photo_requests.end(),
                      "/app/rpc/chemledger.v1.VerifyService/Verify"),
            photo_requests.end())
      << absl::StrJoin(photo_requests, " ");
  EXPECT_EQ(std::find(photo_requests.begin(), photo_requests.end(), "/app/api/decode"),
            photo_requests.end())
      << absl::StrJoin(photo_requests, " ");
  ASSERT_TRUE(GetHistory(consignee_admin, codes[0], &history).ok());
  EXPECT_EQ(events_of(history).back().step(), v1::STORING);

  // Stock-take: label 1 on the books, not scanned; label 4 scanned, not here.
  const google::protobuf::Struct& take = steps["stocktake"];
  EXPECT_NE(text(take, "message").find("账实不符"), std::string::npos) << text(take, "message");
  EXPECT_NE(text(take, "lists").find("账面有、未扫到 1"), std::string::npos) << text(take, "lists");
  EXPECT_NE(text(take, "lists").find("扫到、账面不在此库位 1"), std::string::npos);
  EXPECT_NE(text(take, "items").find(codes[0]), std::string::npos);
  EXPECT_NE(text(take, "items").find(codes[3]), std::string::npos);

  // A forged label of a package the consignee holds: 伪, not booked.
  const google::protobuf::Struct& forged = steps["forged"];
  EXPECT_NE(text(forged, "scanned").find("伪"), std::string::npos) << text(forged, "scanned");
  EXPECT_NE(text(forged, "message").find("标签核验未通过 1 件"), std::string::npos)
      << text(forged, "message");
  EXPECT_EQ(text(forged, "queue_grew"), "0");
  EXPECT_EQ(text(forged, "pending"), "待提交 0");

  // Offline, the trust list on the phone shows the forged label 伪 at once:
  // neither held nor booked.
  const google::protobuf::Struct& forged_offline = steps["forged-offline"];
  EXPECT_NE(text(forged_offline, "scanned").find("伪"), std::string::npos)
      << text(forged_offline, "scanned");
  EXPECT_NE(text(forged_offline, "scanned").find("离线核验：签名不符"), std::string::npos)
      << text(forged_offline, "scanned");
  EXPECT_NE(text(forged_offline, "message").find("标签核验未通过 1 件"), std::string::npos)
      << text(forged_offline, "message");
  EXPECT_EQ(text(forged_offline, "queue_grew"), "0");
  EXPECT_EQ(text(forged_offline, "pending"), "待提交 0");
  EXPECT_EQ(text(forged_offline, "done_grew"), "0");

  // A label it cannot judge offline is held, then verified and not booked.
  const google::protobuf::Struct& held = steps["held-offline"];
  const google::protobuf::Struct& held_before = held.fields().at("held").struct_value();
  EXPECT_EQ(text(held_before, "pending"), "待提交 1");
  EXPECT_NE(text(held_before, "queue").find("待联网核验标签后提交"), std::string::npos)
      << text(held_before, "queue");
  EXPECT_NE(text(held, "refused").find("标签核验未通过，未记录"), std::string::npos)
      << text(held, "refused");
  EXPECT_NE(text(held, "refused").find("（伪）"), std::string::npos) << text(held, "refused");
  EXPECT_EQ(text(held, "pending"), "待提交 0");
  EXPECT_EQ(text(held, "done_grew"), "0");

  // The ledger's refusal is shown and not sent again.
  const google::protobuf::Struct& refused = steps["refused"];
  EXPECT_NE(text(refused, "refused").find("被拒"), std::string::npos) << text(refused, "refused");
  EXPECT_NE(text(refused, "refused").find(codes[3]), std::string::npos) << text(refused, "refused");
  EXPECT_EQ(text(refused, "pending"), "待提交 0");
}

// --staff-app off: neither the app nor the bridge, and /app/ is not taken
// for a label.
TEST_F(StaffAppE2eTest, TheStaffAppCanBeTurnedOff) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--staff-app", "off"}));
  Answer a = Http("GET", "/app/");
  EXPECT_EQ(a.status, 404);
  EXPECT_NE(a.body.find("--staff-app off"), std::string::npos) << a.body;
  EXPECT_EQ(Http("POST", "/app/rpc/chemledger.v1.RegistryService/GetDeployment", "").status, 404);
}

// A receipt that takes a registered site over its capacity is booked, and
// flagged to the enterprise and the regulators (LedgerService.GetSiteLoad,
// ListSiteFlags); others read neither.
TEST_F(StaffAppE2eTest, ASiteOverItsCapacityIsFlaggedNotRefused) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string carrier = registry::testing::ExampleUscc("370100");
  const std::string consignee = registry::testing::ExampleUscc("350600");
  const crypto::SigningKey carrier_key = RegisterCarrier(carrier, "load dispatcher");
  const crypto::SigningKey consignee_admin = RegisterProducer(consignee, "load consignee admin");
  ASSERT_NO_FATAL_FAILURE(AuthorizeCarrier(*acme_operator_, carrier));
  v1::Site small = registry::testing::ExampleSite(consignee, "SHED-1");
  small.mutable_capacities(0)->set_capacity_milli(40000);  // 40 kg of class 3
  {
    v1::RegistryRequest site;
    *site.mutable_register_site() = small;
    ASSERT_NO_FATAL_FAILURE(SubmitOk(consignee_admin, site));
  }
  Commissioned("LOAD", 2);  // 2 × 25 kg of methanol (class 3)
  const std::vector<std::string> codes = codes_;
  ASSERT_NO_FATAL_FAILURE(SubmitWaybill("YD-LOAD-1", carrier, carrier_key, consignee, codes));
  const auto event = [&](v1::BusinessStep step, const std::string& uscc, const std::string& site) {
    v1::Event e;
    e.set_event_id(absl::StrCat("load-", v1::BusinessStep_Name(step)));
    e.set_step(step);
    for (const std::string& c : codes) e.add_codes(c);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - (step == v1::SHIPPING ? 60 : 30));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(uscc);
    e.mutable_location()->set_site(site);
    return e;
  };
  v1::Event ship = event(v1::SHIPPING, kAcme, "warehouse 1");
  ship.set_waybill_id("YD-LOAD-1");
  ship.set_consignee_uscc(consignee);
  ASSERT_TRUE(AppendEvent(*acme_operator_, ship).ok());
  v1::AppendResponse receipt;
  const grpc::Status received =
      AppendEvent(consignee_admin, event(v1::RECEIVING, consignee, "SHED-1"), &receipt);
  ASSERT_TRUE(received.ok()) << "an overfull site never refuses goods: " << received.error_message();

  v1::GetSiteLoadRequest get;
  get.set_enterprise_uscc(consignee);
  get.set_site("SHED-1");
  v1::SiteLoad load;
  ASSERT_TRUE(Read(consignee_admin, api::kGetSiteLoadMethod, get, &load).ok());
  EXPECT_TRUE(load.registered_site());
  ASSERT_EQ(load.loads_size(), 1);
  EXPECT_EQ(load.loads(0).hazard_class(), "3");
  EXPECT_EQ(load.loads(0).load_milli(), 50000u);
  ASSERT_EQ(load.capacities_size(), 2);  // 3 and 6.1
  EXPECT_TRUE(load.capacities(0).over_capacity());
  EXPECT_EQ(load.capacities(0).capacity_milli(), 40000u);
  EXPECT_FALSE(load.capacities(1).over_capacity());
  EXPECT_FALSE(load.segregation_assessed()) << "no segregation table is shipped";

  v1::ListSiteFlagsRequest list;
  v1::SiteFlags flags;
  ASSERT_TRUE(Read(consignee_admin, api::kListSiteFlagsMethod, list, &flags).ok());
  ASSERT_EQ(flags.flags_size(), 1);
  EXPECT_EQ(flags.flags(0).log_index(), receipt.log_index());
  EXPECT_EQ(flags.flags(0).site(), "SHED-1");
  EXPECT_EQ(flags.flags(0).load_milli(), 50000u);
  EXPECT_EQ(flags.flags(0).kind(), "over-capacity");
  // The regulator sees every enterprise's flags; another enterprise neither
  // the flags nor the load.
  ASSERT_TRUE(Read(*regulator_, api::kListSiteFlagsMethod, list, &flags).ok());
  EXPECT_EQ(flags.flags_size(), 1);
  list.set_enterprise_uscc(consignee);
  EXPECT_EQ(Read(*other_admin_, api::kListSiteFlagsMethod, list, &flags).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Read(*other_admin_, api::kGetSiteLoadMethod, get, &load).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace chemledger::testing
