// The HTTP request paths (docs/fuzzing.md): whatever bytes a client sends
// to the scan server (the scan pages of labels and waybill codes, the
// blacklist, static assets, the regulator console's sign-in and API, the
// staff app's gRPC bridge and photo decoding), it answers with an HTTP
// response or closes the connection, and keeps serving. The server runs in
// this process on a ledger with a real LevelDB store (testing/
// test_ledger.h), set up once with a producer, its product and issued
// labels; the staff app's bridge reaches the gRPC services it carries
// (registry, ledger, waybill, verify) over an in-process channel, as in
// chemledgerd; each input is written whole to a new loopback
// connection and the answer read until it is whole (or the server is
// silent for a tenth of a second: a request it still waits for the rest of).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "chemledger/v1/registry_service.pb.h"
#include "chemledger/v1/verify_service.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/label_testing.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "render/qr.h"
#include "render/qr_photos.h"
#include "services/audit/audit_reads.h"
#include "services/common/envelope.h"
#include "services/common/read_auth.h"
#include "services/ledger/ledger_service.h"
#include "services/notary/notary.h"
#include "services/registry/read_access.h"
#include "services/registry/registry_service.h"
#include "services/registry/registry_testing.h"
#include "services/verify/verify_service.h"
#include "services/waybill/waybill_service.h"
#include "testing/test_ledger.h"
#include "tests/fuzz/fuzz_ledger.h"
#include "tests/fuzz/fuzz_target.h"
#include "web/scan_server.h"

namespace chemledger::fuzz {
namespace {

struct Site {
  crypto::SigningKey admin = crypto::testing::TestKey(1);
  crypto::SigningKey producer_admin = crypto::testing::TestKey(2);
  std::unique_ptr<testing::TestLedger> ledger;
  AuditedLedger audited;  // the note key, its notary and the audit's answers
  // The gRPC services the staff app's bridge carries, in this process.
  std::unique_ptr<registry::ReadAuthenticator> reads;
  std::unique_ptr<registry::RegistryServiceImpl> registry_service;
  std::unique_ptr<ledger::LedgerServiceImpl> ledger_service;
  std::unique_ptr<waybill::WaybillServiceImpl> waybill_service;
  std::unique_ptr<verify::VerifyServiceImpl> verify_service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<web::ScanServer> server;
  std::string label_path;
  std::string label_url;
};

Site& TheSite() {
  static Site* site = [] {
    google::protobuf::SetLogHandler(nullptr);
    render::ReadQrPhotosInCallingThread();  // the decoder's photos, in-process
    signal(SIGPIPE, SIG_IGN);
    auto* s = new Site();
    LabelledLedger labelled =
        NewLabelledLedger("http_request_fuzzer", s->admin, s->producer_admin, "HTTP", 2, 1);
    s->ledger = std::move(labelled.ledger);
    testing::TestLedger& t = *s->ledger;
    const std::string url = labelled.labels.front().url;
    s->label_path = url.substr(url.find('/', url.find("//") + 2));
    s->audited = NewAuditedLedger(t);
    s->label_url = url;
    s->reads = std::make_unique<registry::ReadAuthenticator>(
        read_auth::ReadCredentialChecker::Options{s->audited.note_signer->name()});
    s->registry_service =
        std::make_unique<registry::RegistryServiceImpl>(&t.client(), s->reads.get());
    s->ledger_service = std::make_unique<ledger::LedgerServiceImpl>(
        &t.ledger(), &t.client(), s->audited.note_signer.get(), s->reads.get());
    s->waybill_service =
        std::make_unique<waybill::WaybillServiceImpl>(&t.waybills(), &t.client(), s->reads.get());
    s->verify_service = std::make_unique<verify::VerifyServiceImpl>(&t.client(), s->reads.get());
    grpc::ServerBuilder builder;  // no port: the in-process channel only
    builder.RegisterService(s->registry_service.get());
    builder.RegisterService(s->ledger_service.get());
    builder.RegisterService(s->waybill_service.get());
    builder.RegisterService(s->verify_service.get());
    s->grpc_server = builder.BuildAndStart();
    if (s->grpc_server == nullptr) {
      fprintf(stderr, "http_request_fuzzer: the gRPC services did not start\n");
      abort();
    }
    web::ScanServer::Options options;
    options.api_channel = s->grpc_server->InProcessChannel(grpc::ChannelArguments());
    options.listen = "127.0.0.1:0";
    options.threads = 4;
    options.audit = s->audited.audit.get();
    absl::StatusOr<std::unique_ptr<web::ScanServer>> server =
        web::ScanServer::Start(&t.client(), options);
    if (!server.ok()) {
      fprintf(stderr, "http_request_fuzzer: %s\n", server.status().ToString().c_str());
      abort();
    }
    s->server = *std::move(server);
    return s;
  }();
  return *site;
}

// Whether `answer` holds a whole HTTP response (by its Content-Length, or
// the last chunk of a chunked one).
bool Whole(const std::string& answer) {
  const size_t end = answer.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = answer.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t length = head.find("\r\ncontent-length:");
  if (length != std::string::npos) {
    const size_t body = std::strtoull(head.c_str() + length + 17, nullptr, 10);
    return answer.size() >= end + 4 + body;
  }
  if (head.find("chunked") != std::string::npos) {
    return answer.size() >= 5 && answer.compare(answer.size() - 5, 5, "0\r\n\r\n") == 0;
  }
  return false;  // read to the end
}

// Sends `request` on a new connection and reads the answer: to its end, or
// until it is whole, or until the server says nothing for `silence_ms` (a
// request it still waits for the rest of; closing the connection frees it).
// False when the server could not be reached at all.
bool Exchange(int port, const std::string& request, std::string* answer, int silence_ms = 100) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval timeout{silence_ms / 1000, (silence_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return false;
  }
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) and close before it all went
    sent += static_cast<size_t>(n);
  }
  // (No half-close: the server answers nothing to a client that closed
  // its sending half.)
  char buffer[16384];
  while (!Whole(*answer)) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    answer->append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

// A POST of `body` to the staff app's bridge for gRPC `method`, with read
// credentials of `reader` (none for a write, whose body is signed).
std::string AppCall(const char* method, const std::string& body, const crypto::SigningKey* reader) {
  std::string headers;
  if (reader != nullptr) {
    const read_auth::ReadCredentials c = read_auth::SignRead(
        {TheSite().audited.note_signer->name(), method, body}, *reader, absl::Now());
    headers = absl::StrCat(read_auth::kKeyIdHeader, ": ", c.key_id, "\r\n",
                           read_auth::kTimeHeader, ": ", c.time, "\r\n", read_auth::kNonceHeader,
                           ": ", c.nonce, "\r\nchemledger-signature: ",
                           absl::Base64Escape(c.signature), "\r\n");
  }
  return absl::StrCat("POST /app/rpc", method,
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n",
                      headers, "Content-Length: ", body.size(), "\r\n\r\n", body);
}

// A commissioning of the first label, signed by the producer's administrator.
std::string SignedEvent(Site& s) {
  v1::Event e;
  e.set_event_id("fuzz-commission");
  e.set_step(v1::COMMISSIONING);
  e.add_codes(s.label_url);
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(kFuzzProducer);
  e.mutable_location()->set_site("warehouse 1");
  absl::StatusOr<v1::SignedEnvelope> signed_event =
      envelope::Sign(api::kEventContext, e.SerializeAsString(), s.producer_admin);
  return signed_event.ok() ? signed_event->SerializeAsString() : "";
}

std::string ListStockRequest() {
  v1::ListStockRequest r;
  r.set_site("warehouse 1");
  return r.SerializeAsString();
}

std::string VerifyRequest(const Site& s) {
  v1::VerifyRequest r;
  r.add_urls(s.label_url);
  return r.SerializeAsString();
}

// A photo of the label's QR code, POSTed to /app/api/decode.
std::string Photo(const std::string& url) {
  absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(url);
  absl::StatusOr<std::string> png =
      qr.ok() ? render::QrToPng(*qr, 2) : absl::StatusOr<std::string>(qr.status());
  const std::string body = png.ok() ? *png : "";
  return absl::StrCat("POST /app/api/decode HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      "Content-Type: image/png\r\nContent-Length: ", body.size(), "\r\n\r\n",
                      body);
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  Site& s = TheSite();
  const std::string host = "Host: 127.0.0.1\r\n";
  return {
      absl::StrCat("GET ", s.label_path, " HTTP/1.1\r\n", host, "\r\n"),
      absl::StrCat("GET ", s.label_path, "?lang=en HTTP/1.1\r\n", host,
                   "Connection: close\r\n\r\n"),
      absl::StrCat("GET /blacklist HTTP/1.1\r\n", host, "\r\n"),
      absl::StrCat("GET /static/ghs/GHS02.svg HTTP/1.1\r\n", host, "\r\n"),
      absl::StrCat("GET /console/ HTTP/1.1\r\n", host, "\r\n"),
      absl::StrCat("POST /console/login/challenge HTTP/1.1\r\n", host,
                   "Content-Type: application/json\r\nOrigin: http://127.0.0.1\r\n"
                   "Sec-Fetch-Site: same-origin\r\nContent-Length: 2\r\n\r\n{}"),
      absl::StrCat("POST /console/api/QueryEvents HTTP/1.1\r\n", host,
                   "Content-Type: application/json\r\nCookie: __Host-chemledger_console=abc\r\n"
                   "Content-Length: 15\r\n\r\n{\"pageSize\":10}"),
      absl::StrCat("GET /console/enter?ticket=AAAA HTTP/1.1\r\n", host, "\r\n"),
      absl::StrCat("GET /HTTPS://CL.EXAMPLE.CN/W/ABC HTTP/1.1\r\n", host, "\r\n"),
      // The staff app: the public method, a signed write, signed reads, a photo.
      absl::StrCat("POST /app/rpc/", api::kGetDeploymentMethod + 1, " HTTP/1.1\r\n", host,
                   "Content-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"),
      AppCall(api::kAppendMethod, SignedEvent(s), nullptr),
      AppCall(api::kListStockMethod, ListStockRequest(), &s.producer_admin),
      AppCall(api::kVerifyMethod, VerifyRequest(s), &s.producer_admin),
      AppCall(api::kGetActorMethod, "", &s.producer_admin),
      absl::StrCat("GET /app/ HTTP/1.1\r\n", host, "\r\n"),
      Photo(s.label_url),
  };
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return 0;
  chemledger::fuzz::Site& s = chemledger::fuzz::TheSite();
  std::string answer;
  const std::string request(reinterpret_cast<const char*>(data), size);
  if (!chemledger::fuzz::Exchange(s.server->port(), request, &answer)) {
    fprintf(stderr, "http_request_fuzzer: the server could not be reached\n");
    abort();
  }
  // An answer, when there is one, is HTTP.
  if (!answer.empty() && answer.rfind("HTTP/1.", 0) != 0) {
    fprintf(stderr, "http_request_fuzzer: an answer that is not HTTP: %s\n",
            answer.substr(0, 200).c_str());
    abort();
  }
  // And the server still serves: a whole request, answered within ten
  // seconds (not a tenth: on a loaded machine the answer may take longer).
  std::string again;
  if (!chemledger::fuzz::Exchange(s.server->port(),
                                  "GET /blacklist HTTP/1.1\r\nHost: a\r\n\r\n", &again,
                                  /*silence_ms=*/10000) ||
      again.rfind("HTTP/1.1 200", 0) != 0) {
    fprintf(stderr, "http_request_fuzzer: the server stopped serving: %s\n",
            again.substr(0, 200).c_str());
    abort();
  }
  return 0;
}
