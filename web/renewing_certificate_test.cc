#include "web/renewing_certificate.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/subprocess.h"

namespace chemledger::web {
namespace {

namespace fs = std::filesystem;

// Two development CAs (tools/cluster/make-dev-ca.sh), each with a server
// certificate for "localhost", and an HTTPS server whose certificate is read
// again at every handshake.
class RenewingCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::string* dir : {&a_, &b_}) {
      *dir = testing::FreshTempDir(dir == &a_ ? "http_ca_a" : "http_ca_b");
      ASSERT_TRUE(testing::MakeDevelopmentCa(*dir, "pages"));
    }
    live_ = testing::FreshTempDir("http_tls_live");
  }

  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  // Replaces `to` in the live directory with `from` by one rename.
  void Put(const std::string& from, const std::string& to) {
    ASSERT_TRUE(testing::ReplaceByRename({from}, live_ + "/" + to, 0600));
  }

  // Serves the live directory's `cert` and `key` files.
  // Read again at every handshake, unless `reload_every` says otherwise.
  void Serve(const std::string& cert = "cert.pem", const std::string& key = "key.pem",
             absl::Duration reload_every = absl::ZeroDuration()) {
    absl::StatusOr<std::unique_ptr<RenewingCertificate>> certificate =
        RenewingCertificate::Open(live_ + "/" + cert, live_ + "/" + key, reload_every);
    ASSERT_TRUE(certificate.ok()) << certificate.status();
    certificate_ = *std::move(certificate);
    RenewingCertificate* served = certificate_.get();
    server_ = std::make_unique<httplib::SSLServer>(
        [served](SSL_CTX& ctx) { return served->Install(ctx); });
    ASSERT_TRUE(server_->is_valid());
    server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("served", "text/plain");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  // Whether a client that trusts only `ca_dir`'s CA gets the page.
  bool Trusted(const std::string& ca_dir) {
    httplib::SSLClient client("localhost", port_);
    client.set_ca_cert_path((ca_dir + "/ca.pem").c_str());
    client.enable_server_certificate_verification(true);
    client.set_connection_timeout(5, 0);
    httplib::Result result = client.Get("/");
    return result && result->status == 200 && result->body == "served";
  }

  std::string a_, b_, live_;
  std::unique_ptr<RenewingCertificate> certificate_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(RenewingCertificateTest, ARenewedCertificateIsServedWithoutARestart) {
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.pem", "cert.pem"));
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.key", "key.pem"));
  ASSERT_NO_FATAL_FAILURE(Serve());
  const std::string first = certificate_->ServedFingerprint();
  EXPECT_TRUE(Trusted(a_));
  EXPECT_FALSE(Trusted(b_));

  ASSERT_NO_FATAL_FAILURE(Put(b_ + "/pages.pem", "cert.pem"));
  ASSERT_NO_FATAL_FAILURE(Put(b_ + "/pages.key", "key.pem"));
  EXPECT_TRUE(Trusted(b_)) << "the renewed certificate was not served";
  EXPECT_FALSE(Trusted(a_));
  EXPECT_NE(certificate_->ServedFingerprint(), first);
}

// Read while only the certificate had been replaced: the key is not its, so
// the server goes on with the pair it had, and takes the new pair once the
// key follows.
TEST_F(RenewingCertificateTest, AHalfReplacedPairKeepsTheOldCertificate) {
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.pem", "cert.pem"));
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.key", "key.pem"));
  ASSERT_NO_FATAL_FAILURE(Serve());
  const std::string first = certificate_->ServedFingerprint();

  ASSERT_NO_FATAL_FAILURE(Put(b_ + "/pages.pem", "cert.pem"));
  EXPECT_TRUE(Trusted(a_)) << "a mismatched pair stopped the old certificate";
  EXPECT_EQ(certificate_->ServedFingerprint(), first);

  ASSERT_NO_FATAL_FAILURE(Put(b_ + "/pages.key", "key.pem"));
  EXPECT_TRUE(Trusted(b_));
}

TEST_F(RenewingCertificateTest, AMissingFileIsKeptThroughAndNamedAtOpen) {
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.pem", "cert.pem"));
  absl::StatusOr<std::unique_ptr<RenewingCertificate>> missing_key =
      RenewingCertificate::Open(live_ + "/cert.pem", live_ + "/key.pem", absl::Minutes(1));
  ASSERT_FALSE(missing_key.ok());
  EXPECT_EQ(missing_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing_key.status().message().find("key.pem"), absl::string_view::npos)
      << missing_key.status();

  ASSERT_NO_FATAL_FAILURE(Put(b_ + "/pages.key", "key.pem"));
  absl::StatusOr<std::unique_ptr<RenewingCertificate>> mismatched =
      RenewingCertificate::Open(live_ + "/cert.pem", live_ + "/key.pem", absl::Minutes(1));
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.status().message().find("not the private key"), absl::string_view::npos)
      << mismatched.status();

  // Served, then the file removed: handshakes go on with what was read.
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.key", "key.pem"));
  ASSERT_NO_FATAL_FAILURE(Serve());
  fs::remove(live_ + "/cert.pem");
  EXPECT_TRUE(Trusted(a_));
}

// Between reads the files are not looked at: a renewal waits for the next.
TEST_F(RenewingCertificateTest, FilesAreReadOncePerReloadPeriod) {
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.pem", "cert.pem"));
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.key", "key.pem"));
  ASSERT_NO_FATAL_FAILURE(Serve("cert.pem", "key.pem", absl::Hours(1)));
  ASSERT_NO_FATAL_FAILURE(Put(b_ + "/pages.pem", "cert.pem"));
  ASSERT_NO_FATAL_FAILURE(Put(b_ + "/pages.key", "key.pem"));
  EXPECT_TRUE(Trusted(a_));
  EXPECT_FALSE(Trusted(b_));
}

// What a handshake could not serve is refused when read, not at every
// handshake after it: a 1024-bit RSA key (under OpenSSL's default security
// level), a chain cut short, an encrypted key.
TEST_F(RenewingCertificateTest, WhatAHandshakeCannotServeIsRefusedWhenRead) {
  const std::string weak = live_ + "/weak";
  ASSERT_EQ(
      std::system(absl::StrCat("openssl req -x509 -newkey rsa:1024 -nodes -keyout ", weak,
                               ".key -out ", weak, ".pem -days 2 -subj /CN=localhost 2>/dev/null")
                      .c_str()),
      0);
  absl::StatusOr<std::unique_ptr<RenewingCertificate>> refused =
      RenewingCertificate::Open(weak + ".pem", weak + ".key", absl::Minutes(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("TLS cannot serve"), absl::string_view::npos)
      << refused.status();

  // A chain whose second certificate is cut in half.
  std::string ca;
  {
    std::ifstream in(a_ + "/ca.pem");
    ca.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string cut = live_ + "/cut.pem";
  {
    std::ifstream leaf(a_ + "/pages.pem");
    std::ofstream out(cut);
    out << leaf.rdbuf() << ca.substr(0, ca.size() / 2);
  }
  refused = RenewingCertificate::Open(cut, a_ + "/pages.key", absl::Minutes(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("damaged or cut short"), absl::string_view::npos)
      << refused.status();

  const std::string locked = live_ + "/locked.key";
  ASSERT_EQ(std::system(absl::StrCat("openssl pkey -in ", a_,
                                     "/pages.key -aes256 -passout "
                                     "pass:secret -out ",
                                     locked, " 2>/dev/null")
                            .c_str()),
            0);
  refused = RenewingCertificate::Open(a_ + "/pages.pem", locked, absl::Minutes(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("no PEM private key"), absl::string_view::npos)
      << refused.status();

  // Renewed with the weak pair while serving: the good one stays.
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.pem", "cert.pem"));
  ASSERT_NO_FATAL_FAILURE(Put(a_ + "/pages.key", "key.pem"));
  ASSERT_NO_FATAL_FAILURE(Serve());
  ASSERT_NO_FATAL_FAILURE(Put(weak + ".pem", "cert.pem"));
  ASSERT_NO_FATAL_FAILURE(Put(weak + ".key", "key.pem"));
  EXPECT_TRUE(Trusted(a_)) << "a pair no handshake can serve replaced the good one";
}

// One file holding the key and the chain, given as both: renewed by one
// rename.
TEST_F(RenewingCertificateTest, OneFileHoldingKeyAndChain) {
  const auto combine = [&](const std::string& dir) {
    ASSERT_TRUE(testing::ReplaceByRename({dir + "/pages.key", dir + "/pages.pem"},
                                         live_ + "/tls.pem", 0600));
  };
  ASSERT_NO_FATAL_FAILURE(combine(a_));
  ASSERT_NO_FATAL_FAILURE(Serve("tls.pem", "tls.pem"));
  EXPECT_TRUE(Trusted(a_));
  ASSERT_NO_FATAL_FAILURE(combine(b_));
  EXPECT_TRUE(Trusted(b_));
  EXPECT_FALSE(Trusted(a_));
}

}  // namespace
}  // namespace chemledger::web
