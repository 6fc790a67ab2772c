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
    for (std::string* dir : {&a_, &b_}) {
      *dir = testing::FreshTempDir(dir == &a_ ? "tls_ca_a" : "tls_ca_b");
      ASSERT_TRUE(testing::MakeDevelopmentCa(*dir, "ledgerd"));
    }
    live_ = testing::FreshTempDir("tls_live");
  }

  // Puts `dir`'s server certificate and key where the server reads them,
  // each by a rename (as a certificate renewal tool does).
  void Install(const std::string& dir) {
    ASSERT_TRUE(testing::ReplaceByRename({dir + "/ledgerd.pem"}, live_ + "/cert.pem", 0644));
    ASSERT_TRUE(testing::ReplaceByRename({dir + "/ledgerd.key"}, live_ + "/key.pem", 0600));
  }

  // Whether a client that trusts only `ca_dir`'s CA completes a handshake
  // with the server named `name`.
  bool Connects(const std::string& ca_dir, const std::string& name = "ledgerd") {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
        TlsChannelCredentials(TlsFiles{ca_dir + "/ca.pem", "", ""});
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (!creds.ok()) return false;
    return ConnectsWith(*creds, name);
  }

  bool ConnectsWith(const std::shared_ptr<grpc::ChannelCredentials>& creds,
                    const std::string& name = "ledgerd") {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(name);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), creds, args);
    return channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }

  // A server with `files`, read again every second.
  void StartServer(TlsFiles files, bool require_client_certificates = false) {
    files.reload_every = absl::Seconds(1);
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
        TlsServerCredentials(files, require_client_certificates);
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

TEST_F(TlsCredentialsTest, AClientRefusesAServerOfAnotherName) {
  ASSERT_NO_FATAL_FAILURE(Install(a_));
  ASSERT_NO_FATAL_FAILURE(StartServer(TlsFiles{"", live_ + "/cert.pem", live_ + "/key.pem"}));
  EXPECT_TRUE(Connects(a_, "ledgerd"));
  EXPECT_TRUE(Connects(a_, "localhost"));  // the certificate's other name
  EXPECT_FALSE(Connects(a_, "labeld")) << "a certificate for another name was accepted";
}

// A cluster service's client certificate, renewed on disk, is presented on
// the next connection made with the same credentials (as ledgerd's callers
// keep theirs for the life of the process).
TEST_F(TlsCredentialsTest, AClientPresentsARenewedCertificateWithoutARestart) {
  ASSERT_NO_FATAL_FAILURE(Install(a_));
  ASSERT_NO_FATAL_FAILURE(
      StartServer(TlsFiles{a_ + "/ca.pem", live_ + "/cert.pem", live_ + "/key.pem"},
                  /*require_client_certificates=*/true));
  // The client's certificate is of the other CA: the server refuses it.
  ASSERT_TRUE(testing::ReplaceByRename({b_ + "/ledgerd.key", b_ + "/ledgerd.pem"},
                                       live_ + "/client.pem", 0600));
  TlsFiles client{a_ + "/ca.pem", live_ + "/client.pem", live_ + "/client.pem"};
  client.reload_every = absl::Seconds(1);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = TlsChannelCredentials(client);
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_FALSE(ConnectsWith(*creds));

  // Renewed with one of the server's CA: taken within a read or two.
  ASSERT_TRUE(testing::ReplaceByRename({a_ + "/ledgerd.key", a_ + "/ledgerd.pem"},
                                       live_ + "/client.pem", 0600));
  bool connected = false;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       !connected && absl::Now() < deadline;) {
    connected = ConnectsWith(*creds);
  }
  EXPECT_TRUE(connected) << "the renewed client certificate was not presented";
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
