#include "services/common/tls_credentials.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "tests/subprocess.h"

namespace chemledger {
namespace {

// Two development CAs (tools/cluster/make-dev-ca.sh), each with a server
// certificate named "ledgerd".
class TlsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string script = testing::RunfilePath("tools/cluster/make-dev-ca.sh");
    for (std::string* dir : {&a_, &b_}) {
      *dir = testing::FreshTempDir(dir == &a_ ? "tls_ca_a" : "tls_ca_b");
      ASSERT_EQ(std::system(absl::StrCat("bash ", script, " ", *dir, " ledgerd >/dev/null").c_str()),
                0);
    }
    live_ = testing::FreshTempDir("tls_live");
  }

  // Puts `dir`'s server certificate and key where the server reads them,
  // each by a rename (as a certificate renewal tool does).
  void Install(const std::string& dir) {
    ASSERT_TRUE(testing::ReplaceByRename({dir + "/ledgerd.pem"}, live_ + "/cert.pem", 0644));
    ASSERT_TRUE(testing::ReplaceByRename({dir + "/ledgerd.key"}, live_ + "/key.pem", 0600));
  }

  // Whether a client that trusts only `ca_dir`'s CA completes a handshake.
  bool Connects(const std::string& ca_dir) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        TlsChannelCredentials(TlsFiles{ca_dir + "/ca.pem", "", ""});
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (!creds.ok()) return false;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("ledgerd");
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), *creds, args);
    return channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }

  // A server with `files`, read again every second.
  void StartServer(TlsFiles files) {
    files.reload_every = absl::Seconds(1);
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
        TlsServerCredentials(files, /*require_client_certificates=*/false);
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  // Whether a client of `ca_dir`'s CA connects within 20 s (a renewal is
  // read within a second or two).
  bool ConnectsSoon(const std::string& ca_dir) {
    for (const absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
      if (Connects(ca_dir)) return true;
    }
    return false;
  }

  std::string a_, b_, live_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(TlsCredentialsTest, AServerTakesARenewedCertificateWithoutARestart) {
  ASSERT_NO_FATAL_FAILURE(Install(a_));
  ASSERT_NO_FATAL_FAILURE(StartServer(TlsFiles{"", live_ + "/cert.pem", live_ + "/key.pem"}));
  EXPECT_TRUE(Connects(a_));
  EXPECT_FALSE(Connects(b_));

  // Renewed: the other CA's certificate and key. New handshakes get them.
  ASSERT_NO_FATAL_FAILURE(Install(b_));
  EXPECT_TRUE(ConnectsSoon(b_)) << "the renewed certificate was not taken";
  EXPECT_FALSE(Connects(a_));
}

// The key and the certificate in one file, given to both flags: a renewal
// replaces both with one rename, so no read ever sees one without the other.
TEST_F(TlsCredentialsTest, OneFileHoldingKeyAndCertificateRenewsWithOneRename) {
  const auto combine = [&](const std::string& dir) {
    ASSERT_TRUE(testing::ReplaceByRename({dir + "/ledgerd.key", dir + "/ledgerd.pem"},
                                         live_ + "/tls.pem", 0600));
  };
  ASSERT_NO_FATAL_FAILURE(combine(a_));
  ASSERT_NO_FATAL_FAILURE(StartServer(TlsFiles{"", live_ + "/tls.pem", live_ + "/tls.pem"}));
  EXPECT_TRUE(Connects(a_));
  ASSERT_NO_FATAL_FAILURE(combine(b_));
  EXPECT_TRUE(ConnectsSoon(b_)) << "the renewed file was not taken";
  EXPECT_FALSE(Connects(a_));
}

TEST_F(TlsCredentialsTest, AKeyOthersMayReadIsRefusedAtStart) {
  ASSERT_NO_FATAL_FAILURE(Install(a_));
  ASSERT_EQ(chmod((live_ + "/key.pem").c_str(), 0644), 0);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      TlsServerCredentials(TlsFiles{"", live_ + "/cert.pem", live_ + "/key.pem"}, false);
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("--tls-key"), std::string::npos) << creds.status();
}

}  // namespace
}  // namespace chemledger
