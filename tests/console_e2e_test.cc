// The regulator console (web/console.h, docs/console.md) against a real
// chemledgerd: signing in with the real `chemaudit login`, the session
// cookie and its limits over HTTP, and the console itself worked in
// Debian's Chromium by tests/browser/console.js: a code's timeline with every
// proof verified in the page, a proof and a checkpoint signature tampered
// with in flight and caught, anomalies, reconciliation with its chart, stock.
// Screenshots go to the test's undeclared outputs.

#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/console.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/key_files.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/e2e_server.h"
#include "tests/subprocess.h"

namespace chemledger::testing {
namespace {

class ConsoleE2eTest : public ChemledgerdE2eTest {
 protected:
  std::string Console() { return absl::StrCat("http://127.0.0.1:", ConsolePort()); }

  httplib::Result Post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {},
                       const char* type = "application/json") {
    httplib::Client client("127.0.0.1", ConsolePort());
    client.set_read_timeout(30, 0);
    return client.Post(path.c_str(), headers, body, type);
  }
  httplib::Result Get(const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", ConsolePort());
    return client.Get(path.c_str(), headers);
  }

  // A signed ConsoleLoginRequest as JSON, for a fresh challenge.
  std::string SignedLogin(const crypto::SigningKey& key, const std::string& console = "") {
    httplib::Result r = Post("/console/login/challenge", "{}");
    EXPECT_TRUE(r && r->status == 200);
    v1::ConsoleChallenge challenge;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &challenge).ok()) << r->body;
    EXPECT_EQ(challenge.origin(), kDeployment);
    v1::ConsoleLogin login;
    login.set_origin(challenge.origin());
    login.set_challenge(challenge.challenge());
    login.set_key_id(key.key_id().ToString());
    login.set_console(console.empty() ? Console() : console);
    v1::ConsoleLoginRequest request;
    request.set_login(login.SerializeAsString());
    request.set_signature(key.Sign(api::kConsoleLoginContext, request.login())->ToBytes());
    std::string json;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(request, &json).ok());
    return json;
  }

  // The session cookie ("__Host-chemledger_console=...") a ticket's path opens.
  std::string Enter(const std::string& enter_path, std::string* set_cookie = nullptr) {
    httplib::Result r = Get(enter_path);
    EXPECT_TRUE(r && r->status == 303) << (r ? r->body : "no answer");
    if (!r) return "";
    const std::string cookie = r->get_header_value("Set-Cookie");
    if (set_cookie != nullptr) *set_cookie = cookie;
    return cookie.substr(0, cookie.find(';'));
  }

  void Append(v1::BusinessStep step, const std::string& code, int n, uint64_t milli = 0) {
    v1::Event e = AcmeEvent(step, code, n, "console-");
    if (milli) e.set_quantity_milli(milli);
    const grpc::Status s = AppendEvent(*acme_operator_, e);
    if (step == v1::CONSUMING && milli > 25000) {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    } else {
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  static google::protobuf::Struct Json(const std::string& text) {
    google::protobuf::Struct s;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok()) << text;
    return s;
  }
};

TEST_F(ConsoleE2eTest, SigningInTakesTheRegulatorsKeyAndTheCookieStaysWithThePage) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  // No session, no answer.
  httplib::Result r = Get("/console/api/session");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->body.find("chemaudit login"), std::string::npos) << r->body;

  // chemaudit login: an address with a one-time ticket and the pinned key.
  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  ASSERT_TRUE(crypto::SaveSigningKey(*acme_operator_, dir_ + "/acme.key", {}).ok());
  const std::string vkey = dir_ + "/data/note.vkey";
  auto [status, out] = Chemaudit(absl::StrCat("login --console ", Console(), " --key ", dir_,
                                              "/regulator.key --note-key ", vkey));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(Console() + "/console/enter?ticket="), std::string::npos) << out;
  EXPECT_NE(out.find("#note-key=chemledger.test%2B"), std::string::npos) << out;

  // An enterprise's key is not a regulator's: refused, saying why.
  std::tie(status, out) = Chemaudit(absl::StrCat("login --console ", Console(), " --key ", dir_,
                                                 "/acme.key --note-key ", vkey));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("the console is for regulators and platform administrators"),
            std::string::npos)
      << out;
  // A key pinned for another deployment: refused before anything is signed.
  const crypto::SigningKey other = crypto::SigningKey::Generate();
  const std::string other_vkey =
      crypto::NoteSigner::Create("another.log", crypto::SigningKey::Generate())
          ->verifier()
          .VerifierKeyString();
  std::tie(status, out) = Chemaudit(absl::StrCat("login --console ", Console(), " --key ", dir_,
                                                 "/regulator.key --note-key ", other_vkey));
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("is the console of 'chemledger.test'"), std::string::npos) << out;

  // A challenge answers once: the same signed login again is refused.
  const std::string login = SignedLogin(*regulator_);
  r = Post("/console/login", login);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  v1::ConsoleTicket ticket;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &ticket).ok());
  r = Post("/console/login", login);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_NE(r->body.find("login.challenge: not a challenge this server gave, or used"),
            std::string::npos)
      << r->body;
  // A signature by another key than the one named: refused.
  {
    v1::ConsoleLoginRequest forged;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(SignedLogin(other), &forged).ok());
    v1::ConsoleLogin named;
    ASSERT_TRUE(named.ParseFromString(forged.login()));
    named.set_key_id(regulator_->key_id().ToString());
    forged.set_login(named.SerializeAsString());
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(forged, &json).ok());
    r = Post("/console/login", json);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_NE(r->body.find("login.key_id, signature: not the signature of a registered key"),
              std::string::npos)
        << r->body;
  }
  // A look-alike console relaying a login signed for its own address, sent
  // on with its own Host: refused (this console has no address of its own
  // configured, so it signs in only at a loopback address).
  r = Post("/console/login", SignedLogin(*regulator_, "https://evil.example"),
           {{"Host", "evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("signs in only at a loopback address"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("Host: 'evil.example'"), std::string::npos) << r->body;
  // Host names are not case-sensitive: a client that sends its Host, and
  // signs its console address, in capitals is let in.
  {
    const std::string shouting = absl::StrCat("LOCALHOST:", ConsolePort());
    r = Post("/console/login", SignedLogin(*regulator_, absl::StrCat("https://", shouting)),
             {{"Host", shouting}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  // Bad input names the field.
  r = Post("/console/login", R"({"login": "AAAA", "signatur": ""})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("signatur"), std::string::npos) << r->body;

  // The ticket opens one session, once; the cookie is out of scripts' reach
  // and never sent by another site.
  std::string set_cookie;
  const std::string cookie = Enter(ticket.enter_path(), &set_cookie);
  EXPECT_TRUE(absl::StartsWith(cookie, "__Host-chemledger_console=")) << set_cookie;
  for (const char* attribute : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/;"}) {
    EXPECT_NE(set_cookie.find(attribute), std::string::npos) << set_cookie;
  }
  r = Get(ticket.enter_path());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  // Another site cannot open a ticket in the browser (it would sign the
  // browser in as the ticket's regulator).
  {
    r = Post("/console/login", SignedLogin(*regulator_));
    ASSERT_TRUE(r && r->status == 200);
    v1::ConsoleTicket other_ticket;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &other_ticket).ok());
    r = Get(other_ticket.enter_path(), {{"Sec-Fetch-Site", "cross-site"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << r->body;
    EXPECT_NE(r->body.find("open the address chemaudit login printed yourself"),
              std::string::npos)
        << r->body;
  }

  r = Get("/console/api/session", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  v1::ConsoleSession session;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &session).ok()) << r->body;
  EXPECT_EQ(session.key_id(), regulator_->key_id().ToString());
  EXPECT_EQ(session.role(), "REGULATOR");
  EXPECT_EQ(session.origin(), kDeployment);
  // A second console cookie beside it (one planted for a longer path is sent
  // first): no session at all, rather than someone else's.
  {
    httplib::Result planted =
        Get("/console/api/session",
            {{"Cookie", absl::StrCat("__Host-chemledger_console=planted-by-someone; ", cookie)}});
    ASSERT_TRUE(planted);
    EXPECT_EQ(planted->status, 401) << planted->body;
  }

  // The API: JSON of AuditService's messages, for the session's actor.
  r = Post("/console/api/QueryStock", "{}", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"log_size\""), std::string::npos) << r->body;
  r = Post("/console/api/QueryEvents", R"({"page_size": 5000})", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("page_size: at most 1000"), std::string::npos) << r->body;
  r = Post("/console/api/QueryEvents", R"({"no_such_field": 1})", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("no_such_field"), std::string::npos) << r->body;
  // Not from the console's own pages: refused.
  r = Post("/console/api/QueryStock", "{}", {{"Cookie", cookie}, {"Sec-Fetch-Site", "cross-site"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  r = Post("/console/api/QueryStock", "{}", {{"Cookie", cookie}, {"Origin", "https://evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  r = Post("/console/api/QueryStock", "a=b", {{"Cookie", cookie}},
           "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  // The console's pages allow nothing but their own files.
  r = Get("/console/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  r = Get("/console/chart.min.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_GT(r->body.size(), 100000u);  // Debian's Chart.js

  // A restart, even a kill, signs no one out: the sessions are on disk
  // (DATA/ephemeral; in a cluster, ledgerd's).
  ASSERT_NO_FATAL_FAILURE(StartServer());
  r = Get("/console/api/session", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;

  // The key revoked: the session ends at its next call.
  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(regulator_->key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("key compromised");
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, revoke));
  r = Post("/console/api/QueryStock", "{}", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_NE(r->body.find("session ended"), std::string::npos) << r->body;
  r = Get("/console/api/session", {{"Cookie", cookie}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;

  // A flood of sign-in calls from one address is cut off.
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    r = Post("/console/login/challenge", "{}");
    ASSERT_TRUE(r);
    if (r->status == 429) ++refused;
  }
  EXPECT_GT(refused, 0);
}

TEST_F(ConsoleE2eTest, TheConsoleInChromiumProvesEachEventAndCatchesATamperedProof) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("CONSOLE", 2, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, code, 1));
  ASSERT_NO_FATAL_FAILURE(Append(v1::COMMISSIONING, issued.labels[1].code(), 2));
  ASSERT_NO_FATAL_FAILURE(Append(v1::STORING, code, 3));
  ASSERT_NO_FATAL_FAILURE(Append(v1::CONSUMING, code, 4, 5000));
  ASSERT_NO_FATAL_FAILURE(Append(v1::CONSUMING, code, 5, 26000));  // refused: 20 kg left

  ASSERT_TRUE(crypto::SaveSigningKey(*regulator_, dir_ + "/regulator.key", {}).ok());
  auto [status, out] = Chemaudit(absl::StrCat("login --console ", Console(), " --key ", dir_,
                                              "/regulator.key --note-key ", dir_,
                                              "/data/note.vkey"));
  ASSERT_EQ(status, 0) << out;
  // The address is the last line (what goes before it is on stderr).
  const std::string printed(absl::StripAsciiWhitespace(out));
  const std::string enter_url = printed.substr(printed.rfind('\n') + 1);

  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  google::protobuf::Struct spec;
  auto& f = *spec.mutable_fields();
  f["enter_url"].set_string_value(enter_url);
  f["out_dir"].set_string_value(outputs != nullptr ? outputs : dir_);
  f["code"].set_string_value(code);
  f["enterprise"].set_string_value(kAcme);
  f["year"].set_number_value(absl::ToCivilYear(absl::Now(), absl::FixedTimeZone(8 * 3600)).year());
  std::string spec_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(spec, &spec_json).ok());
  const std::string spec_file = dir_ + "/console-spec.json";
  std::ofstream(spec_file) << spec_json;
  std::tie(status, out) = RunShell(absl::StrCat(
      "HOME=\"$TEST_TMPDIR\" NODE_PATH=/usr/local/share/chemledger/browser-tests/node_modules "
      "node '", RunfilePath("tests/browser/console.js"), "' '", spec_file, "'"));
  ASSERT_EQ(status, 0) << "node tests/browser/console.js failed; it said:\n" << out;
  std::map<std::string, google::protobuf::Struct> steps;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (line.empty()) continue;
    google::protobuf::Struct s = Json(std::string(line));
    const std::string step = s.fields().at("step").string_value();
    EXPECT_NE(step, "page-error") << line;
    EXPECT_NE(step, "console-error") << line;
    steps[step] = s;
  }
  const auto field = [&](const std::string& step, const std::string& name) {
    EXPECT_TRUE(steps.count(step)) << "no step " << step << " in:\n" << out;
    auto it = steps[step].fields().find(name);
    return it == steps[step].fields().end() ? google::protobuf::Value() : it->second;
  };
  const auto proofs = [&](const std::string& step) {
    std::vector<std::string> seen;
    const google::protobuf::Value list = field(step, "proofs");
    for (const auto& v : list.list_value().values()) seen.push_back(v.string_value());
    return absl::StrJoin(seen, ",");
  };

  // Signed in by the ticket; the cookie is HttpOnly (scripts do not see it).
  EXPECT_FALSE(field("entered", "signed_out").bool_value()) << out;
  EXPECT_FALSE(field("entered", "pin_warning").bool_value()) << out;
  EXPECT_NE(field("entered", "who").string_value().find("REGULATOR"), std::string::npos) << out;
  EXPECT_EQ(field("entered", "script_sees_cookie").string_value(), "") << out;
  // The browser took the session cookie under its "__Host-" name (it
  // refuses one that breaks the prefix's rules), secure, for the whole host.
  {
    const google::protobuf::Value cookies = field("entered", "cookie");
    ASSERT_EQ(cookies.list_value().values_size(), 1) << out;
    const auto& taken = cookies.list_value().values(0).struct_value().fields();
    EXPECT_EQ(taken.at("name").string_value(), "__Host-chemledger_console") << out;
    EXPECT_TRUE(taken.at("secure").bool_value()) << out;
    EXPECT_EQ(taken.at("path").string_value(), "/") << out;
  }
  // Three events, each proved against the checkpoint the pinned key signed.
  EXPECT_EQ(field("timeline", "checkpoint").string_value(), "ok") << out;
  EXPECT_EQ(proofs("timeline"), "ok,ok,ok") << out;
  EXPECT_NE(field("timeline", "summary").string_value().find("3 / 3"), std::string::npos) << out;
  // Again, consistent with the checkpoint the page kept the first time.
  EXPECT_EQ(proofs("timeline-again"), "ok,ok,ok") << out;
  EXPECT_NE(field("timeline-again", "checkpoint_text").string_value().find("consistent with"),
            std::string::npos)
      << out;
  EXPECT_FALSE(field("timeline-again", "fork").bool_value()) << out;
  // One bit of one proof changed: that event fails, the others hold.
  EXPECT_EQ(field("tampered-proof", "checkpoint").string_value(), "ok") << out;
  EXPECT_EQ(proofs("tampered-proof"), "ok,failed,ok") << out;
  // An event left out: the one after it no longer links to its predecessor.
  EXPECT_EQ(proofs("dropped-event"), "ok,failed") << out;
  // One bit of the checkpoint's signature: nothing is proved.
  EXPECT_EQ(field("tampered-signature", "checkpoint").string_value(), "failed") << out;
  EXPECT_EQ(proofs("tampered-signature"), "failed,failed,failed") << out;

  // The enterprise: its four events and its stock (two drums, 45 kg).
  EXPECT_EQ(field("enterprise", "rows").number_value(), 4) << out;
  EXPECT_NE(out.find("45"), std::string::npos) << out;
  // The refused over-consumption is in the anomaly list.
  std::string anomalies;
  const google::protobuf::Value rows = field("anomalies", "rows");
  for (const auto& v : rows.list_value().values()) {
    anomalies += v.string_value() + "\n";
  }
  EXPECT_NE(anomalies.find("OVER_CONSUMPTION"), std::string::npos) << out;
  // The year's books balance, and the chart is drawn.
  EXPECT_NE(field("reconcile", "balance").string_value().find("every balance is zero"),
            std::string::npos)
      << out;
  EXPECT_TRUE(field("reconcile", "chart_drawn").bool_value()) << out;
  // Nothing on the road for this enterprise.
  EXPECT_NE(field("transit", "text").string_value().find("0 批在途"), std::string::npos) << out;
  EXPECT_EQ(field("transit", "rows").number_value(), 0) << out;
  // Signed out, the session is gone.
  EXPECT_EQ(field("signed-out", "session_status").number_value(), 401) << out;
}

}  // namespace
}  // namespace chemledger::testing

namespace chemledger::testing {
namespace {

// chemledgerd serve --config: the file's fields are flags (here the console
// turned off by the file).
class ConfiguredServerE2eTest : public ConsoleE2eTest {
 protected:
  void SetUp() override {
    if (ClusterShape()) GTEST_SKIP() << "chemledgerd's configuration file";
    ConsoleE2eTest::SetUp();
  }
  std::vector<std::string> ServeFlags() override {
    const std::string path = dir_ + "/serve.textproto";
    std::ofstream(path) << "# the console is off here\nconsole: \"off\"\nmax_threads: 64\n";
    return {"--config", path};
  }
};

TEST_F(ConfiguredServerE2eTest, TheConfigurationFileTurnsTheConsoleOff) {
  httplib::Result r = Get("/console/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("the console is off on this server"), std::string::npos) << r->body;
}

}  // namespace
// With --console-address a sign-in is good for that address only: the login
// must name it, and be sent to it (the Host header); loopback is then not
// the console's either.
TEST_F(ConsoleE2eTest, ASignInIsGoodOnlyForTheConsolesOwnAddress) {
  if (ClusterShape()) GTEST_SKIP() << "chemledgerd's flags";
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  ASSERT_NO_FATAL_FAILURE(StartServer({"--console-address", "console.example.gov.cn"}));
  httplib::Result r =
      Post("/console/login", SignedLogin(*regulator_, "https://console.example.gov.cn"),
           {{"Host", "console.example.gov.cn"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // A look-alike relaying a login signed for its own address.
  r = Post("/console/login", SignedLogin(*regulator_, "https://evil.example"),
           {{"Host", "evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("is not an address of this console"), std::string::npos) << r->body;
  // The real address signed, sent to another name of the machine.
  r = Post("/console/login", SignedLogin(*regulator_, "https://console.example.gov.cn"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

}  // namespace chemledger::testing
