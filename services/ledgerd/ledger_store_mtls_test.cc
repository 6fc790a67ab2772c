// ledgerd's internal service over real mutual TLS with the development CA
// (tools/cluster/make-dev-ca.sh): each service's certificate may do what
// the allow-list says and nothing else; a certificate of another CA, a
// client without one, and a name the list does not know are refused.

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/common/tls_credentials.h"
#include "services/ledgerd/ledger_store_service.h"
#include "services/ledgerd/peer_allow_list.h"
#include "services/ledgerd/remote_ledger.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"
#include "tests/subprocess.h"

namespace chemledger::ledgerd {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

class LedgerStoreMtlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new std::string(chemledger::testing::FreshTempDir("mtls_ca"));
    other_ = new std::string(chemledger::testing::FreshTempDir("mtls_other_ca"));
    ASSERT_TRUE(chemledger::testing::MakeDevelopmentCa(
        *ca_, "ledgerd labeld waybilld verifyd auditd chemctl"));
    ASSERT_TRUE(chemledger::testing::MakeDevelopmentCa(*other_, "labeld"));
  }

  void SetUp() override {
    t_ = TestLedger::Create("mtls", admin_);
    service_ = std::make_unique<LedgerStoreServiceImpl>(&t_->client(), notary_.get(), nonces_.get(), records_.get(),
                                                        PeerAllowList::ClusterDefault());
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = TlsServerCredentials(
        {*ca_ + "/ca.pem", *ca_ + "/ledgerd.pem", *ca_ + "/ledgerd.key"}, true);
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  // A channel to ledgerd as `name` of the CA in `dir` (empty name: no
  // client certificate).
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& dir, const std::string& name) {
    TlsFiles files{*ca_ + "/ca.pem", "", ""};
    if (!name.empty()) {
      files.cert = dir + "/" + name + ".pem";
      files.key = dir + "/" + name + ".key";
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = TlsChannelCredentials(files);
    EXPECT_TRUE(creds.ok()) << creds.status();
    grpc::ChannelArguments args = RemoteLedgerChannelArguments();
    args.SetSslTargetNameOverride("ledgerd");
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_), *creds, args);
  }

  absl::StatusOr<std::unique_ptr<RemoteLedger>> ConnectAs(const std::string& dir,
                                                          const std::string& name) {
    RemoteLedgerOptions quick;
    quick.read_deadline = absl::Seconds(2);
    quick.submit_deadline = absl::Seconds(2);
    return RemoteLedger::Connect(ChannelAs(dir, name), quick, absl::Seconds(2));
  }

  v1::SignedEnvelope SignedRegistryRequest() {
    v1::RegistryRequest request;
    request.set_request_id("mtls-1");
    *request.mutable_register_enterprise() =
        registry::testing::ExampleProducer(registry::testing::ExampleUscc("350100"));
    return *envelope::Sign(api::kRegistryContext, request.SerializeAsString(), admin_);
  }

  static std::string* ca_;
  static std::string* other_;
  const crypto::SigningKey admin_ = TestKey(1);
  const crypto::NoteSigner note_signer_ =
      *crypto::NoteSigner::Create("mtls.test/log", crypto::SigningKey::Generate());
  const std::unique_ptr<notary::LedgerNotary> notary_ = notary::NewLocalNotary(&note_signer_);
  const std::unique_ptr<read_auth::NonceMemory> nonces_ = read_auth::NewLocalNonceMemory({});
  const std::unique_ptr<EphemeralRecords> records_ = NewLocalEphemeralRecords();
  std::unique_ptr<TestLedger> t_;
  std::unique_ptr<LedgerStoreServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

std::string* LedgerStoreMtlsTest::ca_ = nullptr;
std::string* LedgerStoreMtlsTest::other_ = nullptr;

TEST_F(LedgerStoreMtlsTest, EachServiceMayDoWhatTheAllowListSays) {
  absl::StatusOr<std::unique_ptr<RemoteLedger>> labeld = ConnectAs(*ca_, "labeld");
  ASSERT_TRUE(labeld.ok()) << labeld.status();
  std::shared_ptr<const storage::Snapshot> snapshot = (*labeld)->client()->Latest();
  EXPECT_EQ(snapshot->size(), t_->snapshot()->size());
  EXPECT_TRUE(snapshot->Entry(0).ok());
  EXPECT_TRUE((*labeld)->notary()->SignTrustList(*snapshot, api::TodayInChina()).ok());
  absl::Status checkpoint = (*labeld)->notary()->SignCheckpoint(*snapshot).status();
  EXPECT_EQ(checkpoint.code(), absl::StatusCode::kPermissionDenied) << checkpoint;
  EXPECT_NE(checkpoint.message().find("'labeld' may not have checkpoints signed"),
            std::string::npos)
      << checkpoint;
  // labeld submits label issuances, not registry changes.
  journal::Request registry_change;
  registry_change.envelope = SignedRegistryRequest();
  absl::Status submitted = (*labeld)->client()->Submit({registry_change})[0].status();
  EXPECT_EQ(submitted.code(), absl::StatusCode::kPermissionDenied) << submitted;

  absl::StatusOr<std::unique_ptr<RemoteLedger>> auditd = ConnectAs(*ca_, "auditd");
  ASSERT_TRUE(auditd.ok()) << auditd.status();
  EXPECT_TRUE((*auditd)->notary()->SignCheckpoint(*(*auditd)->client()->Latest()).ok());
  submitted = (*auditd)->client()->Submit({registry_change})[0].status();
  EXPECT_EQ(submitted.code(), absl::StatusCode::kPermissionDenied) << submitted;
  EXPECT_NE(submitted.message().find("'auditd' may not submit requests"), std::string::npos)
      << submitted;

  absl::StatusOr<std::unique_ptr<RemoteLedger>> verifyd = ConnectAs(*ca_, "verifyd");
  ASSERT_TRUE(verifyd.ok()) << verifyd.status();
  EXPECT_EQ((*verifyd)->notary()->SignTrustList(*(*verifyd)->client()->Latest(),
                                                api::TodayInChina())
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  // The console's records are auditd's alone.
  EXPECT_EQ((*labeld)
                ->records()
                ->Put("console-session", "x", "y", "", absl::Now() + absl::Minutes(1), {},
                      absl::Now())
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE((*auditd)
                  ->records()
                  ->Put("console-session", "x", "y", "", absl::Now() + absl::Minutes(1), {},
                        absl::Now())
                  .ok());
  EXPECT_EQ(t_->snapshot()->size(), snapshot->size());  // nothing was written
}

TEST_F(LedgerStoreMtlsTest, StrangersAreRefused) {
  // A name of the right CA that the allow-list does not know.
  absl::StatusOr<std::unique_ptr<RemoteLedger>> chemctl = ConnectAs(*ca_, "chemctl");
  EXPECT_EQ(chemctl.status().code(), absl::StatusCode::kPermissionDenied) << chemctl.status();
  // "labeld", but of another CA: the handshake fails.
  absl::StatusOr<std::unique_ptr<RemoteLedger>> forged = ConnectAs(*other_, "labeld");
  EXPECT_EQ(forged.status().code(), absl::StatusCode::kUnavailable) << forged.status();
  // No client certificate at all.
  absl::StatusOr<std::unique_ptr<RemoteLedger>> anonymous = ConnectAs(*ca_, "");
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kUnavailable) << anonymous.status();
}

}  // namespace
}  // namespace chemledger::ledgerd
