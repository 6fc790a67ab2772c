#include "web/scan_server.h"

#include <arpa/inet.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "crypto/random.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"
#include "render/pictograms.h"
#include "render/qr.h"
#include "render/qr_photos.h"
#include "services/common/bounded_slots.h"
#include "services/common/listen_address.h"
#include "services/common/rate_limiter.h"
#include "services/common/read_auth.h"
#include "services/label/label_resolution.h"
#include "services/registry/logged_reference_tables.h"
#include "services/registry/registry_state.h"
#include "services/waybill/waybill_code_resolution.h"
#include "web/api_bridge.h"
#include "web/console.h"
#include "web/http_port.h"
#include "web/renewing_certificate.h"
#include "web/scan_pages.h"
#include "web/staff_app_files.h"

namespace chemledger::web {
namespace {

// The request id of the HTTP request this thread serves: the client's
// X-Request-Id when it is a sane one, else a new one; sent back in the
// answer's X-Request-Id. (A namespace-scope thread_local: one declared in a
// function is constructed only on the threads that pass its declaration,
// and httplib's workers never do.)
thread_local std::string current_request_id;

// Scan pages show the state as it is now: never cached. The pictograms
// never change under their names: cached for a year.
constexpr char kNoStore[] = "no-store";
constexpr char kImmutable[] = "public, max-age=31536000, immutable";
// The pages load nothing but this server's images and their own style.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";
// The staff app runs its own script and calls back to this server only.
constexpr char kStaffAppSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; worker-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";
constexpr size_t kBlacklistPageSize = 100;
// The largest request body: a photo for the staff app's decoder (the app
// scales photos to 2000 pixels before it sends them, some 1 MB).
constexpr size_t kMaxBodyBytes = 4 << 20;
// Photos decoded at once (each takes a core for up to a second), and per
// client address and per network (an IPv4 /24, an IPv6 /48), so that one
// address or network cannot keep the decoder from everyone else; beyond
// any of them the answer is 503 and the app says to try again. (As many as
// render/qr_photos.h lets anyone's calls have.)
constexpr int kMaxConcurrentDecodes = render::kMaxQrPhotoWorkers - render::kQrPhotoWorkersForActors;
constexpr int kMaxDecodesPerClient = 1;
constexpr int kMaxDecodesPerNetwork = 1;
// What a photo costs against the anonymous limit, in scans.
constexpr double kDecodeCost = api::kVerifyImageCost;  // as in Verify
// Bridge calls in progress at once (each holds one of the server's threads
// until the service answers): the rest of the threads stay free for the
// public scan pages.
constexpr int kMaxConcurrentBridgeCalls = 6;
// The largest body of anything but a photo: an Append's envelope is at most
// about 1 MiB (the ledger's entry limit).
constexpr size_t kMaxCallBodyBytes = 2 << 20;

PageRequest PageRequestOf(const httplib::Request& req) {
  PageRequest page;
  page.path = req.path;
  if (req.get_param_value("lang") == "en") page.language = Language::kEnglish;
  return page;
}

void SendHtml(httplib::Response& res, int status, std::string html) {
  res.status = status;
  res.set_header("Cache-Control", kNoStore);
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_content(std::move(html), "text/html; charset=utf-8");
}

void SendPng(httplib::Response& res, std::optional<absl::string_view> png) {
  if (!png) {
    res.status = 404;
    res.set_content("no such image", "text/plain; charset=utf-8");
    return;
  }
  res.set_header("Cache-Control", kImmutable);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(png->data(), png->size(), "image/png");
}

bool IsLoopbackAddress(absl::string_view address) {
  return absl::StartsWith(address, "127.") || address == "::1" ||
         absl::StartsWith(address, "::ffff:127.");
}

// An address's bytes: 4 for IPv4 (an IPv4-mapped IPv6 address too, as a
// dual-stack listener reports an IPv4 peer), 16 for IPv6; empty when it is
// no address.
std::string AddressBytes(const std::string& text) {
  unsigned char bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return std::string(reinterpret_cast<char*>(bytes), 4);
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) != 1) return "";
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, bytes)) {
    return std::string(reinterpret_cast<char*>(bytes) + 12, 4);
  }
  return std::string(reinterpret_cast<char*>(bytes), 16);
}

// Whether `peer` is a proxy whose X-Forwarded-For names the client:
// any loopback peer without a list (a proxy on this machine), else one
// of the list's addresses (their bytes).
bool IsTrustedProxy(const std::string& peer,
                    const std::optional<std::vector<std::string>>& trusted) {
  if (!trusted) return IsLoopbackAddress(peer);
  const std::string bytes = AddressBytes(peer);
  return !bytes.empty() && std::find(trusted->begin(), trusted->end(), bytes) != trusted->end();
}

// The client's address as the rate limiter counts it (the form gRPC peers
// take, so that an allowance shared with the gRPC scans counts one address
// once). Behind a trusted proxy (IsTrustedProxy), the client is the address
// that proxy appended last to X-Forwarded-For; anything earlier in that
// header is the client's own say and is not trusted.
// The address a proxy wrote in X-Forwarded-For (IPv4, IPv6, either with a
// port as some proxies write it: "192.0.2.7:51234", "[2001:db8::7]:51234");
// empty when it is not an address, so that made-up text never becomes a
// client of its own.
std::string ForwardedAddress(absl::string_view text) {
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return "";
    text = text.substr(1, close - 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));  // IPv4 with a port
  }
  const std::string address(text);
  unsigned char bytes[16];
  if (inet_pton(AF_INET, address.c_str(), bytes) == 1 ||
      inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    return address;
  }
  return "";
}

std::string ClientOf(const httplib::Request& req,
                     const std::optional<std::vector<std::string>>& trusted_proxies) {
  std::string address = req.remote_addr;
  if (IsTrustedProxy(address, trusted_proxies) && req.has_header("X-Forwarded-For")) {
    // The last header line, as the proxy's is (a proxy may add a line of
    // its own after the client's).
    const std::string forwarded = req.get_header_value(
        "X-Forwarded-For", req.get_header_value_count("X-Forwarded-For") - 1);
    const size_t comma = forwarded.rfind(',');
    const std::string last = ForwardedAddress(absl::StripAsciiWhitespace(
        comma == std::string::npos ? forwarded : forwarded.substr(comma + 1)));
    if (!last.empty()) address = last;
  }
  const bool v6 = address.find(':') != std::string::npos;
  return ClientAddress(v6 ? absl::StrCat("ipv6:[", address, "]:0")
                          : absl::StrCat("ipv4:", address, ":0"));
}

void SendJson(httplib::Response& res, int status, std::string json) {
  res.status = status;
  res.set_header("Cache-Control", kNoStore);
  res.set_header("X-Content-Type-Options", "nosniff");
  // The server's clock, which the app signs its times by (its own may be off).
  res.set_header("X-ChemLedger-Time", absl::StrCat(absl::ToUnixSeconds(absl::Now())));
  res.set_content(std::move(json), "application/json; charset=utf-8");
}

}  // namespace

struct ScanServer::Impl {
  journal::LedgerClient* ledger;
  const reference::ReferenceTables* tables;
  label::PublicScanSink* public_scans = nullptr;
  std::string resolver_host;  // the resolver up to its first '/'
  // The HTTP port's certificate (null: plain HTTP); before `http`, whose TLS
  // context it serves, so that it goes after it.
  std::unique_ptr<RenewingCertificate> certificate;
  std::unique_ptr<httplib::Server> http;
  // Anonymous scans per client address: the process's shared allowance
  // (Options::anonymous_scans), else the pages' own.
  RateLimiter own_anonymous = AnonymousScanAllowance();
  RateLimiter* anonymous = &own_anonymous;
  // Options::trusted_proxies, as AddressBytes (nullopt: any loopback peer).
  std::optional<std::vector<std::string>> trusted_proxies;
  std::unique_ptr<ApiBridge> bridge;  // null: no staff app
  const audit::AuditReads* audit = nullptr;  // null: no console
  std::vector<std::string> console_addresses;
  std::unique_ptr<ConsoleSessions> console_sessions;
  RateLimiter console_sign_ins{kSignInsPerSecond, kSignInBurst};
  BoundedSlots decoding{kMaxConcurrentDecodes, {kMaxDecodesPerClient, kMaxDecodesPerNetwork}};
  BoundedSlots bridging{kMaxConcurrentBridgeCalls};
  int port = 0;
  std::thread thread;

  void Route();
  // Charges a page to the client's anonymous allowance; false, with the
  // 429 page sent, when it has no more.
  bool TakeAPage(const httplib::Request& req, const PageRequest& page, httplib::Response& res);
  void ServeScan(const httplib::Request& req, httplib::Response& res);
  void ServeBlacklist(const httplib::Request& req, httplib::Response& res);
  void RouteStaffApp();
  void ServeDecode(const httplib::Request& req, httplib::Response& res);
  void Fail(const httplib::Request& req, httplib::Response& res, const absl::Status& status);
};

void ScanServer::Impl::Fail(const httplib::Request& req, httplib::Response& res,
                            const absl::Status& status) {
  // The reason is for the operator's log, not for the public (the path as
  // C escapes: a request's %0A must not start a line of its own).
  std::cerr << "chemledgerd: scan page " << absl::CHexEscape(req.path) << ": " << status
            << std::endl;
  const PageRequest page = PageRequestOf(req);
  SendHtml(res, 500,
           MessagePage(page.language == Language::kChinese ? "暂时无法查询" : "Not available now",
                       page.language == Language::kChinese
                           ? "服务器暂时无法读取账本，请稍后再试。"
                           : "The server cannot read the ledger just now; try again shortly.",
                       page));
}

bool ScanServer::Impl::TakeAPage(const httplib::Request& req, const PageRequest& page,
                                 httplib::Response& res) {
  if (anonymous->Take(ClientOf(req, trusted_proxies), 1, absl::Now())) return true;
  const bool zh = page.language == Language::kChinese;
  res.set_header("Retry-After", "5");
  SendHtml(res, 429,
           MessagePage(zh ? "请稍候" : "Please wait",
                       zh ? "来自此网络地址的扫描过多，请几秒钟后再试。"
                          : "Too many scans from this network address: try again in a few "
                            "seconds.",
                       page));
  return false;
}

void ScanServer::Impl::ServeScan(const httplib::Request& req, httplib::Response& res) {
  const PageRequest page = PageRequestOf(req);
  if (!TakeAPage(req, page, res)) return;
  const std::string url = absl::StrCat("HTTPS://", resolver_host, req.path);
  // How long each stage took, for the Server-Timing header (what a browser's
  // developer tools and chembench read; durations only, nothing else).
  const absl::Time start = absl::Now();
  std::shared_ptr<const storage::Snapshot> snapshot = ledger->Latest();
  const absl::Time snapshot_taken = absl::Now();
  res.set_header("X-ChemLedger-Log-Size", absl::StrCat(snapshot->size()));
  const auto timing = [&](absl::Time resolved) {
    const absl::Time rendered = absl::Now();
    res.set_header("Server-Timing",
                   absl::StrFormat("snapshot;dur=%.3f, resolve;dur=%.3f, render;dur=%.3f",
                                   absl::ToDoubleMilliseconds(snapshot_taken - start),
                                   absl::ToDoubleMilliseconds(resolved - snapshot_taken),
                                   absl::ToDoubleMilliseconds(rendered - resolved)));
  };
  if (absl::StartsWith(req.path, "/W/")) {
    absl::StatusOr<v1::ResolveWaybillCodeResponse> scan =
        waybill::ResolveWaybillCode(*snapshot, url, api::TodayInChina());
    if (!scan.ok()) return Fail(req, res, scan.status());
    const absl::Time resolved = absl::Now();
    const registry::LoggedReferenceTables logged(*snapshot, *tables);
    std::string html = WaybillPage(*scan, logged, page);
    timing(resolved);
    SendHtml(res, 200, std::move(html));
    return;
  }
  absl::StatusOr<v1::ResolveLabelResponse> scan =
      label::ResolveLabel(*snapshot, url, api::TodayInChina(), label::Scanner::Anyone());
  if (!scan.ok()) return Fail(req, res, scan.status());
  const absl::Time resolved = absl::Now();
  const registry::LoggedReferenceTables logged(*snapshot, *tables);
  std::string html = LabelPage(*scan, logged, page);
  timing(resolved);
  SendHtml(res, 200, std::move(html));
  if (public_scans != nullptr)
    public_scans->Scanned(url, *scan, ClientOf(req, trusted_proxies), "scan-page");
}

void ScanServer::Impl::ServeBlacklist(const httplib::Request& req, httplib::Response& res) {
  const PageRequest page = PageRequestOf(req);
  // A page of the blacklist reads up to 100 enterprises: it costs a scan.
  if (!TakeAPage(req, page, res)) return;
  std::shared_ptr<const storage::Snapshot> snapshot = ledger->Latest();
  bool more = false;
  const std::string after = req.get_param_value("after");
  absl::StatusOr<std::vector<registry::BlacklistedEnterprise>> listed =
      registry::ListBlacklist(*snapshot, after, kBlacklistPageSize, &more);
  if (!listed.ok()) return Fail(req, res, listed.status());
  std::vector<v1::BlacklistEntry> entries;
  for (const registry::BlacklistedEnterprise& e : *listed) {
    entries.push_back(registry::ToBlacklistEntry(e));
  }
  std::string next;
  if (more && !listed->empty()) {
    next = absl::StrCat("/blacklist?after=", listed->back().uscc,
                        page.language == Language::kEnglish ? "&lang=en" : "");
  }
  SendHtml(res, 200, BlacklistPage(entries, next, page));
}

void ScanServer::Impl::ServeDecode(const httplib::Request& req, httplib::Response& res) {
  // What cannot be read is told so before it costs the address anything.
  if (!render::CheckQrImage(req.body).ok()) {
    return SendJson(res, 400,
                    ErrorJson(grpc::StatusCode::INVALID_ARGUMENT,
                              "body: not a PNG or JPEG photo of at most 16 megapixels"));
  }
  const std::string client = ClientOf(req, trusted_proxies);
  absl::StatusOr<std::vector<std::string>> texts;
  {
    // The slot first: a photo turned away for want of one costs nothing.
    const std::string network = ClientNetwork(client);
    const BoundedSlots::Slot slot = decoding.Take({client, network.empty() ? client : network});
    if (!slot.taken()) {
      res.set_header("Retry-After", "2");
      return SendJson(
          res, 503,
          ErrorJson(grpc::StatusCode::UNAVAILABLE,
                    slot.full() == BoundedSlots::kTotal
                        ? "the server is reading other photos; try again"
                    : slot.full() == 0
                        ? "a photo from this network address is being read; send the next when "
                          "it is done"
                        : absl::StrCat("a photo from this network address's network (", network,
                                       ") is being read; send the next when it is done")));
    }
    if (!anonymous->Take(client, kDecodeCost, absl::Now())) {
      res.set_header("Retry-After", "5");
      return SendJson(res, 429,
                      ErrorJson(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "too many photos from this network address; wait a "
                                "few seconds"));
    }
    // In a worker process with a time limit (render/qr_photos.h): a photo
    // made to be slow to read holds no core for long.
    absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> read =
        render::ReadQrPhotos({req.body}, {client, ClientNetwork(client), /*registered=*/false});
    if (absl::IsResourceExhausted(read.status())) {
      // Workers busy, or this address (or its network) has photos being
      // read through Verify.
      res.set_header("Retry-After", "2");
      return SendJson(
          res, 503,
          ErrorJson(grpc::StatusCode::UNAVAILABLE,
                    absl::StrContains(read.status().message(), render::kQrPhotoCallerBusy)
                        ? "a photo from this network address, or its network, is being read; "
                          "send the next when it is done"
                        : "the server is reading other photos; try again"));
    }
    if (absl::IsDeadlineExceeded(read.status())) {
      return SendJson(res, 400,
                      ErrorJson(grpc::StatusCode::INVALID_ARGUMENT,
                                absl::StrCat("body: the photo was not read within ",
                                             absl::FormatDuration(render::kQrPhotoTimePerCall +
                                                                  render::kQrPhotoTimePerPhoto),
                                             ": take a sharper photo of the codes")));
    }
    if (!read.ok()) {
      return SendJson(res, 500,
                      ErrorJson(grpc::StatusCode::INTERNAL, std::string(read.status().message())));
    }
    texts = std::move(read->front());
  }
  if (!texts.ok()) {
    // ReadQrCodes' messages name no input of anyone else; still, a fixed text.
    return SendJson(res, 400, ErrorJson(grpc::StatusCode::INVALID_ARGUMENT,
                                        "body: not a PNG or JPEG photo of at most 16 megapixels"));
  }
  google::protobuf::Struct answer;
  google::protobuf::ListValue* list = (*answer.mutable_fields())["texts"].mutable_list_value();
  for (std::string& text : *texts) list->add_values()->set_string_value(std::move(text));
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(answer, &json);
  SendJson(res, 200, std::move(json));
}

void ScanServer::Impl::RouteStaffApp() {
  const auto send_file = [](httplib::Response& res, absl::string_view name,
                            const char* content_type) {
    std::optional<absl::string_view> file = internal::FindStaffAppFile(name);
    if (!file) {
      res.status = 404;
      return;
    }
    // The app's files change with the server: revalidated on every load
    // (the service worker keeps a copy for when there is no connection).
    res.set_header("Cache-Control", "no-cache");
    res.set_header("Content-Security-Policy", kStaffAppSecurityPolicy);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_content(file->data(), file->size(), content_type);
  };
  http->Get("/app", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/app/");
  });
  http->Get("/app/", [send_file](const httplib::Request&, httplib::Response& res) {
    send_file(res, "index.html", "text/html; charset=utf-8");
  });
  http->Get("/app/app.js", [send_file](const httplib::Request&, httplib::Response& res) {
    send_file(res, "app.js", "text/javascript; charset=utf-8");
  });
  http->Get("/app/signed_note.js", [send_file](const httplib::Request&, httplib::Response& res) {
    send_file(res, "signed_note.js", "text/javascript; charset=utf-8");
  });
  http->Get("/app/sw.js", [send_file](const httplib::Request&, httplib::Response& res) {
    send_file(res, "sw.js", "text/javascript; charset=utf-8");
  });
  http->Get("/app/app.css", [send_file](const httplib::Request&, httplib::Response& res) {
    send_file(res, "app.css", "text/css; charset=utf-8");
  });
  http->Get(R"(/app/.*)", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
  });
  http->Post(R"(/app/rpc(/.+))", [this](const httplib::Request& req, httplib::Response& res) {
    BridgeCredentials credentials;
    credentials.key_id = req.get_header_value(read_auth::kKeyIdHeader);
    credentials.time = req.get_header_value(read_auth::kTimeHeader);
    credentials.nonce = req.get_header_value(read_auth::kNonceHeader);
    credentials.signature_base64 = req.get_header_value("chemledger-signature");
    const BoundedSlots::Slot slot = bridging.Take();
    if (!slot.taken()) {
      res.set_header("Retry-After", "1");
      return SendJson(res, 503, ErrorJson(grpc::StatusCode::UNAVAILABLE,
                                          "the server is busy with other calls; try again"));
    }
    BridgeAnswer answer = bridge->Call(req.matches[1].str(), req.body, credentials);
    SendJson(res, answer.http_status, std::move(answer.json));
  });
  http->Post("/app/api/decode", [this](const httplib::Request& req, httplib::Response& res) {
    ServeDecode(req, res);
  });
}

void ScanServer::Impl::Route() {
  if (audit) {
    ConsoleContext console;
    console.audit = audit;
    console.sessions = console_sessions.get();
    console.sign_in_limiter = &console_sign_ins;
    console.client_of = [trusted = trusted_proxies](const httplib::Request& req) {
      return ClientOf(req, trusted);
    };
    console.addresses = console_addresses;
    RouteConsole(console, http.get());
  } else {
    const auto off = [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content("the console is off on this server (chemledgerd serve --console off)",
                      "text/plain; charset=utf-8");
    };
    http->Get(R"(/console(/.*)?)", off);
    http->Post(R"(/console(/.*)?)", off);
  }
  if (bridge) {
    RouteStaffApp();
  } else {
    // Not a label path either: say what it is.
    const auto off = [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content(
          "the staff app is not served here (chemledgerd serve --staff-app off; the cluster's "
          "page servers do not serve it)",
          "text/plain; charset=utf-8");
    };
    http->Get(R"(/app(/.*)?)", off);
    http->Post(R"(/app(/.*)?)", off);
  }
  http->Get(R"(/static/ghs/(GHS0[1-9])\.png)",
            [](const httplib::Request& req, httplib::Response& res) {
              SendPng(res, render::GhsPictogramPng(req.matches[1].str()));
            });
  http->Get(R"(/static/transport/([0-9.]{1,3})\.png)",
            [](const httplib::Request& req, httplib::Response& res) {
              SendPng(res, render::TransportLabelPng(req.matches[1].str()));
            });
  http->Get(R"(/static/.*)", [](const httplib::Request&, httplib::Response& res) {
    SendPng(res, std::nullopt);
  });
  // What browsers and crawlers ask for by themselves: not scans.
  http->Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_header("Cache-Control", kImmutable);
  });
  http->Get("/robots.txt", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", kImmutable);
    res.set_content("User-agent: *\nDisallow: /\n", "text/plain; charset=utf-8");
  });
  http->Get("/blacklist", [this](const httplib::Request& req, httplib::Response& res) {
    ServeBlacklist(req, res);
  });
  http->Get("/", [](const httplib::Request& req, httplib::Response& res) {
    const PageRequest page = PageRequestOf(req);
    SendHtml(res, 200,
             MessagePage("ChemLedger",
                         page.language == Language::kChinese
                             ? "危险化学品一企一品一码：用手机扫描包装上的二维码或电子运单二维码，查看真伪与安全信息。"
                             : "Scan the QR code on a package or an e-waybill with a phone to "
                               "see whether it is genuine and its safety information.",
                         page));
  });
  http->Get(R"(/.+)", [this](const httplib::Request& req, httplib::Response& res) {
    ServeScan(req, res);
  });
}

ScanServer::ScanServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ScanServer::~ScanServer() {
  impl_->http->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int ScanServer::port() const { return impl_->port; }

absl::StatusOr<std::unique_ptr<ScanServer>> ScanServer::Start(journal::LedgerClient* ledger,
                                                              const Options& options) {
  absl::StatusOr<std::pair<std::string, int>> listen = SplitListenAddress(options.listen);
  if (!listen.ok()) return listen.status();
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("a TLS certificate and key go together: give both or neither");
  }
  auto impl = std::make_unique<Impl>();
  impl->ledger = ledger;
  if (options.trusted_proxies) {
    impl->trusted_proxies.emplace();
    for (const std::string& proxy : *options.trusted_proxies) {
      const std::string bytes = AddressBytes(proxy);
      if (bytes.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("trusted proxy '", proxy, "': not an IPv4 or IPv6 address"));
      }
      impl->trusted_proxies->push_back(bytes);
    }
  }
  impl->tables = options.tables;
  impl->public_scans = options.public_scans;
  if (options.anonymous_scans != nullptr) impl->anonymous = options.anonymous_scans;
  impl->console_addresses = options.console_addresses;
  if (options.api_channel) impl->bridge = std::make_unique<ApiBridge>(options.api_channel);
  {
    absl::StatusOr<state::DeploymentRecord> deployment =
        registry::ReadDeployment(*ledger->Latest());
    if (!deployment.ok()) return deployment.status();
    const std::string& resolver = deployment->resolver();
    impl->resolver_host = resolver.substr(0, resolver.find('/'));
  }
  if (options.tls_cert_file.empty()) {
    impl->http = std::make_unique<httplib::Server>();
  } else {
    absl::StatusOr<std::unique_ptr<RenewingCertificate>> certificate = RenewingCertificate::Open(
        options.tls_cert_file, options.tls_key_file, options.tls_reload_every);
    if (!certificate.ok()) return certificate.status();
    impl->certificate = *std::move(certificate);
    RenewingCertificate* served = impl->certificate.get();
    auto tls = std::make_unique<httplib::SSLServer>(
        [served](SSL_CTX& ctx) { return served->Install(ctx); });
    if (!tls->is_valid()) {
      return absl::InternalError(absl::StrCat("cannot set up TLS with the certificate ",
                                              options.tls_cert_file, " and key ",
                                              options.tls_key_file));
    }
    impl->http = std::move(tls);
    // Served over TLS itself (no proxy in front): browsers keep to HTTPS.
    impl->http->set_default_headers({{"Strict-Transport-Security", "max-age=31536000"}});
  }
  const int threads = options.threads;
  impl->http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Without it a response written in two parts waits for the client's
  // delayed ACK (40 ms on Linux) before its second part goes out.
  impl->http->set_tcp_nodelay(true);
  impl->http->set_keep_alive_timeout(10);
  // A client that sends its request slowly holds one of the threads: keep
  // that short (public deployments put a proxy in front: docs/scan-page.md).
  impl->http->set_read_timeout(5, 0);
  impl->http->set_write_timeout(10, 0);
  impl->http->set_payload_max_length(kMaxBodyBytes);
  // Each request's time in the server, for the observer (the logger runs on
  // the request's thread once it is answered).
  static thread_local absl::Time request_start;
  if (options.observe) {
    impl->http->set_logger([observe = options.observe, trusted = impl->trusted_proxies](
                               const httplib::Request& req, const httplib::Response& res) {
      const std::string& p = req.path;
      const char* route = absl::StartsWith(p, "/console")  ? "console"
                          : absl::StartsWith(p, "/app")    ? "app"
                          : absl::StartsWith(p, "/static") ? "static"
                          : p == "/" || p == "/favicon.ico" || p == "/robots.txt" ? "other"
                                                                                  : "scan";
      const std::string client = ClientOf(req, trusted);
      HttpObservation seen;
      seen.route = route;
      seen.method = req.method;
      seen.path = req.path;
      seen.status = res.status;
      seen.latency = absl::Now() - request_start;
      seen.client = client;
      // A request httplib refused before routing (400, 413, 414) got no id
      // from the pre-routing handler: it gets one here.
      if (current_request_id.empty()) {
        current_request_id = absl::BytesToHexString(crypto::RandomBytes(8));
      }
      seen.request_id = current_request_id;
      observe(seen);
      current_request_id.clear();  // not the next request's on this thread
    });
  }
  // Refused before the body is read: anything but a photo is small.
  impl->http->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    request_start = absl::Now();
    std::string& request_id = current_request_id;
    request_id = req.get_header_value("X-Request-Id");
    const bool sane = !request_id.empty() && request_id.size() <= 64 &&
                      std::all_of(request_id.begin(), request_id.end(), [](char c) {
                        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                               c == '_' || c == '.';
                      });
    if (!sane) request_id = absl::BytesToHexString(crypto::RandomBytes(8));
    res.set_header("X-Request-Id", request_id);
    // Bodies come whole, as they are, with their length: the HTTP library
    // bounds a body by its Content-Length only (a chunked body, one without
    // a length, or a compressed one would be read, or inflated, without
    // limit). The staff app and the console always send a length.
    const auto refuse = [&](int status, grpc::StatusCode code, absl::string_view why) {
      res.status = status;
      res.set_header("Connection", "close");
      res.set_content(ErrorJson(code, why), "application/json");
      return httplib::Server::HandlerResponse::Handled;
    };
    // Only the methods the routes serve. httplib reads a body for PUT,
    // PATCH, DELETE and PRI too, PRI's without a length until the client
    // stops: refused here, before any body is read.
    if (req.method != "GET" && req.method != "HEAD" && req.method != "POST") {
      res.set_header("Allow", "GET, HEAD, POST");
      return refuse(405, grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat("method: ", req.method.substr(0, 16), " is not served here"));
    }
    // Nothing here is served in parts, and httplib would build the answer to
    // every byte range asked for, overlapping ones included, in memory
    // (thousands of copies of a page for one request): the ranges it parsed
    // are dropped and every answer goes whole, as RFC 9110 (14.2) lets a
    // server do. (The Request is the library's own, not const: only this
    // handler's view of it is.)
    const_cast<httplib::Request&>(req).ranges.clear();
    if (req.has_header("Transfer-Encoding")) {
      return refuse(411, grpc::StatusCode::INVALID_ARGUMENT,
                    "Transfer-Encoding: not taken; send the body with a Content-Length");
    }
    if (req.has_header("Content-Encoding") &&
        !absl::EqualsIgnoreCase(req.get_header_value("Content-Encoding"), "identity")) {
      return refuse(415, grpc::StatusCode::INVALID_ARGUMENT,
                    "Content-Encoding: not taken; send the body as it is");
    }
    const bool has_body_method = req.method == "POST";
    if (has_body_method && !req.has_header("Content-Length")) {
      return refuse(411, grpc::StatusCode::INVALID_ARGUMENT, "Content-Length: required");
    }
    if (!has_body_method && req.get_header_value<uint64_t>("Content-Length") > 0) {
      return refuse(400, grpc::StatusCode::INVALID_ARGUMENT,
                    absl::StrCat(req.method, ": a request without a body"));
    }
    // Refused here, before a byte of the body is read (the library would
    // read and throw away a body over its own limit first).
    const bool photo = req.path == "/app/api/decode";
    if (req.get_header_value<uint64_t>("Content-Length") >
        (photo ? kMaxBodyBytes : kMaxCallBodyBytes)) {
      res.status = 413;
      res.set_header("Connection", "close");
      res.set_content(
          ErrorJson(grpc::StatusCode::RESOURCE_EXHAUSTED,
                    photo
                        ? absl::StrCat("request body: a photo of at most ", kMaxBodyBytes, " bytes")
                        : absl::StrCat("request body: at most ", kMaxCallBodyBytes,
                                       " bytes (a photo to /app/api/decode: ", kMaxBodyBytes, ")")),
          "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // A body over the library's own limit (a photo over kMaxBodyBytes) is
  // refused by httplib with an empty 413: answer it as this server answers,
  // so that a client tells it from a proxy's page and does not retry it.
  impl->http->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (res.status != 413 || !res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(ErrorJson(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  absl::StrCat("request body: at most ", kMaxBodyBytes, " bytes")),
                        "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  if (options.audit != nullptr) {
    impl->audit = options.audit;
    impl->console_sessions =
        std::make_unique<ConsoleSessions>(options.audit->origin(), options.console_records);
  }
  impl->Route();
  const auto& [host, port] = *listen;
  absl::StatusOr<int> bound = BindHttpPort(impl->http.get(), host, port);
  if (!bound.ok()) return bound.status();
  impl->port = *bound;
  impl->thread = ServeInBackground(impl->http.get());
  return std::unique_ptr<ScanServer>(new ScanServer(std::move(impl)));
}

absl::StatusOr<std::vector<std::string>> ParseTrustedProxies(absl::string_view flag_value) {
  std::vector<std::string> proxies;
  flag_value = absl::StripAsciiWhitespace(flag_value);
  if (flag_value == "none") return proxies;
  for (absl::string_view part : absl::StrSplit(flag_value, ',', absl::SkipWhitespace())) {
    absl::string_view text = absl::StripAsciiWhitespace(part);
    // An IPv6 address may come in brackets, as in a URL.
    if (absl::StartsWith(text, "[") && absl::EndsWith(text, "]")) {
      text = text.substr(1, text.size() - 2);
    }
    const std::string address(text);
    if (AddressBytes(address).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--trusted-proxy: '", address,
                       "' is not an IPv4 or IPv6 address (addresses separated by commas, or "
                       "none)"));
    }
    proxies.push_back(address);
  }
  return proxies;
}

}  // namespace chemledger::web
