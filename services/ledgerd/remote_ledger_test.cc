// The remote ledger client and notary against ledgerd's internal service,
// over real gRPC on loopback, on a real LevelDB store: every read answers
// what the in-process client answers, writes go through with their receipts
// and refusals (payloads included), an unreachable ledgerd fails reads
// with Unavailable, and a read made on behalf of a call ends with that call.

#include "services/ledgerd/remote_ledger.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "crypto/checkpoint.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "crypto/trust_list.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/common/incoming_call.h"
#include "services/common/refusal.h"
#include "services/ledgerd/ledger_store_service.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "testing/test_ledger.h"

namespace chemledger::ledgerd {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;

class RemoteLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = TestLedger::Create("remote_ledger", admin_);
    ASSERT_TRUE(t_->AddLabelKey(admin_).ok());
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(t_->RegisterEnterprise(
                        admin_, registry::testing::ExampleProducer(
                                    registry::testing::ExampleUscc(absl::StrCat(110100 + i))))
                      .ok());
    }
    service_ = std::make_unique<LedgerStoreServiceImpl>(&t_->client(), local_notary_.get(),
                                                        nonces_.get(), records_.get(),
                                                        PeerAllowList::Anyone());
    Serve();
    absl::StatusOr<std::unique_ptr<RemoteLedger>> remote = RemoteLedger::Connect(Channel());
    ASSERT_TRUE(remote.ok()) << remote.status();
    remote_ = *std::move(remote);
  }

  void Serve() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    builder.SetMaxSendMessageSize(kMaxMessageBytes);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
                                     grpc::InsecureChannelCredentials(),
                                     RemoteLedgerChannelArguments());
  }

  const crypto::SigningKey admin_ = TestKey(1);
  const crypto::NoteSigner note_signer_ =
      *crypto::NoteSigner::Create("remote.test/log", crypto::SigningKey::Generate());
  // As a deployment's: signing only a trust list that is true now.
  const std::unique_ptr<notary::LedgerNotary> local_notary_ = notary::NewLocalNotary(
      &note_signer_, [this] { return t_->client().Latest(); }, [] { return absl::Now(); });
  const absl::Time nonces_began_ = absl::Now();
  const std::unique_ptr<read_auth::NonceMemory> nonces_ =
      read_auth::NewLocalNonceMemory({1000, 100, nonces_began_});
  const std::unique_ptr<EphemeralRecords> records_ = NewLocalEphemeralRecords();
  std::unique_ptr<TestLedger> t_;
  std::unique_ptr<LedgerStoreServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<RemoteLedger> remote_;
};

std::vector<std::pair<std::string, std::string>> ScanAll(const storage::Snapshot& s,
                                                        absl::string_view begin = "",
                                                        absl::string_view end = "") {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_TRUE(s.Scan(begin, end, [&](absl::string_view k, absl::string_view v) {
                 out.emplace_back(std::string(k), std::string(v));
                 return true;
               }).ok());
  return out;
}

TEST_F(RemoteLedgerTest, ReadsAnswerWhatTheLocalClientAnswers) {
  std::shared_ptr<const storage::Snapshot> local = t_->snapshot();
  std::shared_ptr<const storage::Snapshot> remote = remote_->client()->Latest();
  ASSERT_EQ(remote->size(), local->size());
  EXPECT_EQ(remote->root(), local->root());
  for (uint64_t i = 0; i < local->size(); ++i) {
    EXPECT_EQ(*remote->Entry(i), *local->Entry(i)) << i;
    EXPECT_EQ(*remote->LeafHash(i), *local->LeafHash(i)) << i;
  }
  EXPECT_EQ(remote->Entry(local->size()).status().code(), absl::StatusCode::kOutOfRange);
  // The whole state, over many pages, and a range inside it.
  const auto all = ScanAll(*local);
  ASSERT_GT(all.size(), 64u);  // more than the first page
  EXPECT_EQ(ScanAll(*remote), all);
  EXPECT_EQ(ScanAll(*remote, all[10].first, all[all.size() - 10].first),
            ScanAll(*local, all[10].first, all[all.size() - 10].first));
  // A scan the visitor stops.
  int visited = 0;
  ASSERT_TRUE(remote->Scan("", "", [&](absl::string_view, absl::string_view) {
                      return ++visited < 70;
                    }).ok());
  EXPECT_EQ(visited, 70);
  for (size_t i = 0; i < all.size(); i += 37) {
    EXPECT_EQ(**remote->Get(all[i].first), all[i].second);
  }
  EXPECT_EQ(*remote->Get("no such key"), std::nullopt);
  // Proofs.
  for (uint64_t tree = 1; tree <= local->size(); tree += 7) {
    EXPECT_EQ(*remote->Root(tree), *local->Root(tree));
    EXPECT_EQ(*remote->ConsistencyProof(tree, local->size()),
              *local->ConsistencyProof(tree, local->size()));
  }
  std::vector<uint64_t> indexes = {0, 3, local->size() - 1};
  EXPECT_EQ(*remote->InclusionProofs(indexes, local->size()),
            *local->InclusionProofs(indexes, local->size()));
  EXPECT_EQ(*remote->InclusionProof(2, local->size() - 1),
            *local->InclusionProof(2, local->size() - 1));
  EXPECT_EQ(remote->Root(local->size() + 1).status().code(), absl::StatusCode::kOutOfRange);
  // The caches answered the second reads.
  remote->Entry(0).IgnoreError();
  remote->Get(all[0].first).IgnoreError();
  const RemoteLedgerStats stats = remote_->stats();
  EXPECT_GT(stats.entry_cache_hits, 0u);
  EXPECT_GT(stats.state_cache_hits, 0u);
}

TEST_F(RemoteLedgerTest, SubmitsAndAnswersWithReceiptsAndRefusals) {
  v1::RegistryRequest request;
  request.set_request_id("remote-1");
  *request.mutable_register_enterprise() =
      registry::testing::ExampleProducer(registry::testing::ExampleUscc("320100"));
  absl::StatusOr<v1::SignedEnvelope> e =
      envelope::Sign(api::kRegistryContext, request.SerializeAsString(), admin_);
  ASSERT_TRUE(e.ok());
  const v1::SignedEnvelope* one[] = {&*e};
  absl::StatusOr<journal::Receipt> receipt =
      registry::SubmitSigned(*remote_->client(), one, api::kRegistryContext)[0];
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_FALSE(receipt->replayed);
  EXPECT_EQ(t_->snapshot()->size(), receipt->index + 1);
  EXPECT_EQ(*t_->snapshot()->LeafHash(receipt->index), receipt->leaf_hash);
  // A retry is answered by the first receipt.
  absl::StatusOr<journal::Receipt> again =
      registry::SubmitSigned(*remote_->client(), one, api::kRegistryContext)[0];
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->index, receipt->index);
  // A rule's refusal comes back whole (the same enterprise again, new id).
  request.set_request_id("remote-2");
  absl::StatusOr<v1::SignedEnvelope> dup =
      envelope::Sign(api::kRegistryContext, request.SerializeAsString(), admin_);
  const v1::SignedEnvelope* two[] = {&*dup};
  absl::Status refused = registry::SubmitSigned(*remote_->client(), two, api::kRegistryContext)[0]
                             .status();
  EXPECT_FALSE(refused.ok());
  absl::Status local_refused =
      registry::SubmitSigned(t_->client(), two, api::kRegistryContext)[0].status();
  EXPECT_EQ(refused.code(), local_refused.code());
  EXPECT_EQ(refused.message(), local_refused.message());
  EXPECT_EQ(RefusalKindOf(refused), RefusalKindOf(local_refused));
}

TEST_F(RemoteLedgerTest, LedgerdVerifiesSignaturesAgain) {
  // A personality that skips the check (or forges a request) is refused by
  // ledgerd: a signature by a key the registry does not know, and one over
  // other bytes.
  v1::RegistryRequest request;
  request.set_request_id("forged-1");
  *request.mutable_register_enterprise() =
      registry::testing::ExampleProducer(registry::testing::ExampleUscc("330100"));
  absl::StatusOr<v1::SignedEnvelope> stranger =
      envelope::Sign(api::kRegistryContext, request.SerializeAsString(), TestKey(77));
  absl::StatusOr<v1::SignedEnvelope> altered =
      envelope::Sign(api::kRegistryContext, request.SerializeAsString(), admin_);
  altered->set_payload(altered->payload() + " ");
  journal::Request a, b, genesis;
  a.envelope = *stranger;
  b.envelope = *altered;
  genesis.envelope = *altered;
  genesis.envelope.set_payload_type(std::string(api::kGenesisContext.payload_type()));
  const uint64_t size = t_->snapshot()->size();
  std::vector<absl::StatusOr<journal::Receipt>> results =
      remote_->client()->Submit({a, b, genesis});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kUnauthenticated) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kUnauthenticated) << results[1].status();
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kPermissionDenied) << results[2].status();
  EXPECT_EQ(t_->snapshot()->size(), size);
  // And what the personalities check besides the signature: an observation
  // carrying a label no label key of the ledger signed (the rules trust
  // that check from rules epoch 14).
  const crypto::LabelClaims claims = crypto::testing::ExampleLabelClaims();
  absl::StatusOr<std::string> forged = crypto::MakeLabelUrl(claims, TestKey(78));
  ASSERT_TRUE(forged.ok()) << forged.status();
  v1::Event seen;
  seen.set_event_id("seen-1");
  seen.set_step(v1::OBSERVING);
  seen.add_codes(claims.Code());
  seen.add_label_urls(*forged);
  seen.mutable_location()->set_enterprise_uscc(claims.enterprise);
  journal::Request observation;
  observation.envelope = *envelope::Sign(api::kEventContext, seen.SerializeAsString(), admin_);
  results = remote_->client()->Submit({observation});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kPermissionDenied) << results[0].status();
  EXPECT_EQ(results[0].status().message(), "event.label_urls[0]: not a label this ledger issued");
  EXPECT_EQ(t_->snapshot()->size(), size);
}

TEST_F(RemoteLedgerTest, KeptSnapshotsAnswerAfterLaterWrites) {
  std::shared_ptr<const storage::Snapshot> before = remote_->client()->Latest();
  const auto state_before = ScanAll(*before);
  ASSERT_TRUE(t_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(
                                                 registry::testing::ExampleUscc("340100")))
                  .ok());
  EXPECT_EQ(ScanAll(*before), state_before);
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> at =
      remote_->client()->At(before->size());
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ((*at)->root(), before->root());
  EXPECT_GT(remote_->client()->Latest()->size(), before->size());
  EXPECT_EQ(remote_->client()->At(before->size() + 100).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(remote_->client()->Writable().ok());
}

TEST_F(RemoteLedgerTest, NotarySignsWhatTheSnapshotSays) {
  const notary::LedgerNotary& notary = *remote_->notary();
  EXPECT_EQ(notary.verifier().VerifierKeyString(), note_signer_.verifier().VerifierKeyString());
  std::shared_ptr<const storage::Snapshot> snapshot = remote_->client()->Latest();
  absl::StatusOr<std::string> note = notary.SignCheckpoint(*snapshot);
  ASSERT_TRUE(note.ok()) << note.status();
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(*note, "remote.test/log", note_signer_.verifier());
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(checkpoint->size, snapshot->size());
  EXPECT_EQ(checkpoint->root_hash, snapshot->root());
  absl::StatusOr<std::string> trust = notary.SignTrustList(*snapshot, api::TodayInChina());
  ASSERT_TRUE(trust.ok()) << trust.status();
  absl::StatusOr<crypto::TrustList> list = crypto::OpenTrustList(*trust, note_signer_.verifier());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(*trust, *local_notary_->SignTrustList(*t_->snapshot(), api::TodayInChina()));
  // Never a list for a day far from ledgerd's, nor one a later change of
  // the keys' standing has made false.
  EXPECT_EQ(notary.SignTrustList(*snapshot, api::TodayInChina() + 30).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(t_->AddLabelKey(admin_).ok());
  absl::Status stale = notary.SignTrustList(*snapshot, api::TodayInChina()).status();
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted) << stale;
  EXPECT_TRUE(notary.SignTrustList(*remote_->client()->Latest(), api::TodayInChina()).ok());
}

TEST_F(RemoteLedgerTest, EveryInstanceSharesLedgerdsMemoryOfUsedCredentials) {
  // Two instances of a personality, each with its own connection.
  absl::StatusOr<std::unique_ptr<RemoteLedger>> other = RemoteLedger::Connect(Channel());
  ASSERT_TRUE(other.ok());
  const std::string key_id = "0123456789abcdef";
  const std::string nonce = "00112233445566778899aabbccddeeff";
  const absl::Time now = absl::Now();
  const int64_t expires = absl::ToUnixSeconds(now) + 120;
  ASSERT_TRUE(remote_->nonce_memory()->Remember(key_id, nonce, now, expires, now).ok());
  // Used at one, refused at the other (and at the first).
  absl::Status replay = (*other)->nonce_memory()->Remember(key_id, nonce, now, expires, now);
  EXPECT_EQ(replay.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(replay.message().find("used already"), std::string::npos) << replay;
  EXPECT_EQ(remote_->nonce_memory()->Remember(key_id, nonce, now, expires, now).code(),
            absl::StatusCode::kUnauthenticated);
  // Another nonce goes through; credentials signed before ledgerd's memory
  // began do not.
  EXPECT_TRUE((*other)->nonce_memory()
                  ->Remember(key_id, "ffeeddccbbaa99887766554433221100", now, expires, now)
                  .ok());
  absl::Status before = remote_->nonce_memory()->Remember(
      key_id, "0000000000000000000000000000000a", nonces_began_ - absl::Seconds(30), expires,
      now);
  EXPECT_EQ(before.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(before.message().find("signed before"), std::string::npos) << before;
}

TEST_F(RemoteLedgerTest, EveryInstanceSharesLedgerdsShortLivedRecords) {
  absl::StatusOr<std::unique_ptr<RemoteLedger>> other = RemoteLedger::Connect(Channel());
  ASSERT_TRUE(other.ok());
  const absl::Time now = absl::Now();
  EphemeralRecords& a = *remote_->records();
  EphemeralRecords& b = *(*other)->records();
  // A ticket given by one instance is opened, once, at another.
  ASSERT_TRUE(a.Put("ticket", "T1", "key-1", "", now + absl::Minutes(2), {}, now).ok());
  EXPECT_EQ(*b.Get("ticket", "T1", /*take=*/true, now), "key-1");
  EXPECT_EQ(*a.Get("ticket", "T1", /*take=*/true, now), std::nullopt);
  // Sessions bounded per owner: the oldest goes.
  EphemeralRecords::Limits limits{100, 2};
  for (const char* s : {"S1", "S2", "S3"}) {
    ASSERT_TRUE(a.Put("session", s, "v", "key-1", now + absl::Minutes(30), limits, now).ok());
  }
  EXPECT_EQ(*b.Get("session", "S1", false, now), std::nullopt);
  EXPECT_EQ(*b.Get("session", "S3", false, now), "v");
  ASSERT_TRUE(b.Delete("session", "S3").ok());
  EXPECT_EQ(*a.Get("session", "S3", false, now), std::nullopt);
  // Expired is gone; a kind that is full refuses.
  ASSERT_TRUE(a.Put("session", "S9", "v", "", now - absl::Seconds(1), limits, now).ok());
  EXPECT_EQ(*b.Get("session", "S9", false, now), std::nullopt);
  ASSERT_TRUE(a.Put("full", "1", "", "", now + absl::Minutes(1), {1, 0}, now).ok());
  EXPECT_EQ(b.Put("full", "2", "", "", now + absl::Minutes(1), {1, 0}, now).code(),
            absl::StatusCode::kResourceExhausted);
  // Marks bounded per owner by refusal: the third is refused, whichever
  // instance puts it, and none is dropped.
  EphemeralRecords::Limits marks;
  marks.only_if_absent = true;
  marks.refuse_beyond_per_owner = 2;
  ASSERT_TRUE(a.Put("used", "M1", "", "key-1", now + absl::Minutes(5), marks, now).ok());
  ASSERT_TRUE(b.Put("used", "M2", "", "key-1", now + absl::Minutes(5), marks, now).ok());
  EXPECT_EQ(a.Put("used", "M3", "", "key-1", now + absl::Minutes(5), marks, now),
            OwnerHoldsTooManyRecords("used", 2));
  EXPECT_TRUE(b.Get("used", "M1", false, now)->has_value());
  EXPECT_TRUE(a.Put("used", "M3", "", "key-2", now + absl::Minutes(5), marks, now).ok());
}

TEST_F(RemoteLedgerTest, UnreachableLedgerdFailsReadsWithUnavailable) {
  RemoteLedgerOptions quick;
  quick.read_deadline = absl::Milliseconds(300);
  quick.submit_deadline = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<RemoteLedger>> connected = RemoteLedger::Connect(Channel(), quick);
  ASSERT_TRUE(connected.ok());
  RemoteLedger& remote = **connected;
  std::shared_ptr<const storage::Snapshot> seen = remote.client()->Latest();
  server_->Shutdown();
  server_.reset();
  // A new one cannot learn the note key.
  EXPECT_EQ(RemoteLedger::Connect(Channel(), quick, absl::Milliseconds(300)).status().code(),
            absl::StatusCode::kUnavailable);
  // Latest() still answers, with the last size seen, but every read fails.
  std::shared_ptr<const storage::Snapshot> latest = remote.client()->Latest();
  EXPECT_EQ(latest->size(), seen->size());
  EXPECT_EQ(latest->root(), seen->root());
  EXPECT_EQ(latest->Get("x").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(remote.client()->Writable().code(), absl::StatusCode::kUnavailable);
  journal::Request request;
  request.envelope.set_payload_type(std::string(api::kEventContext.payload_type()));
  EXPECT_EQ(remote.client()->Submit({request})[0].status().code(),
            absl::StatusCode::kUnavailable);
}

// A service in front of ledgerd, the way a personality is: its handler reads
// a snapshot through the remote ledger on behalf of its caller, in an
// IncomingCall scope when `scoped`, and records how that read ended.
class FrontService final : public internal::LedgerStore::Service {
 public:
  FrontService(std::shared_ptr<const storage::Snapshot> snapshot, bool scoped)
      : snapshot_(std::move(snapshot)), scoped_(scoped) {}

  grpc::Status Writable(grpc::ServerContext* context, const internal::WritableRequest*,
                        internal::StatusProto*) override {
    std::optional<IncomingCall> serving;
    if (scoped_) serving.emplace(context);
    const absl::Time start = absl::Now();
    const absl::Status read = snapshot_->Get(absl::StrCat("front-", ++reads_)).status();
    {
      absl::MutexLock lock(&mu_);
      inner_ = read;
      inner_took_ = absl::Now() - start;
    }
    done_.Notify();
    return grpc::Status::OK;
  }

  // Waits up to `limit` for the handler's read to end.
  bool InnerEnded(absl::Duration limit) { return done_.WaitForNotificationWithTimeout(limit); }
  absl::Status inner() {
    absl::MutexLock lock(&mu_);
    return inner_;
  }
  absl::Duration inner_took() {
    absl::MutexLock lock(&mu_);
    return inner_took_;
  }

 private:
  const std::shared_ptr<const storage::Snapshot> snapshot_;
  const bool scoped_;
  std::atomic<int> reads_{0};
  absl::Notification done_;
  absl::Mutex mu_;
  absl::Status inner_ ABSL_GUARDED_BY(mu_);
  absl::Duration inner_took_ ABSL_GUARDED_BY(mu_);
};

class Front {
 public:
  explicit Front(FrontService* service) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    stub_ = internal::LedgerStore::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  ~Front() { server_->Shutdown(absl::ToChronoTime(absl::Now())); }
  internal::LedgerStore::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<internal::LedgerStore::Stub> stub_;
};

// ledgerd stops answering (its server is gone; the remote ledger waits for
// it up to its own 5 s read deadline). A caller gives the front 300 ms.
class PropagationTest : public RemoteLedgerTest {
 protected:
  void SetUp() override {
    RemoteLedgerTest::SetUp();
    RemoteLedgerOptions patient;
    patient.read_deadline = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<RemoteLedger>> connected =
        RemoteLedger::Connect(Channel(), patient);
    ASSERT_TRUE(connected.ok()) << connected.status();
    patient_ = *std::move(connected);
    snapshot_ = patient_->client()->Latest();
    server_->Shutdown();
    server_.reset();
  }
  std::unique_ptr<RemoteLedger> patient_;
  std::shared_ptr<const storage::Snapshot> snapshot_;
};

TEST_F(PropagationTest, TheCallersDeadlineEndsTheCallToLedgerd) {
  FrontService service(snapshot_, /*scoped=*/true);
  Front front(&service);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  internal::StatusProto response;
  EXPECT_EQ(front.stub().Writable(&context, {}, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(service.InnerEnded(absl::Seconds(30)));
  EXPECT_FALSE(service.inner().ok());
  EXPECT_LT(service.inner_took(), absl::Seconds(3)) << service.inner();
}

TEST_F(PropagationTest, TheCallersCancellationEndsTheCallToLedgerd) {
  FrontService service(snapshot_, /*scoped=*/true);
  Front front(&service);
  grpc::ClientContext context;  // no deadline
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    context.TryCancel();
  });
  internal::StatusProto response;
  EXPECT_EQ(front.stub().Writable(&context, {}, &response).error_code(),
            grpc::StatusCode::CANCELLED);
  canceller.join();
  ASSERT_TRUE(service.InnerEnded(absl::Seconds(30)));
  EXPECT_EQ(service.inner().code(), absl::StatusCode::kCancelled) << service.inner();
  EXPECT_LT(service.inner_took(), absl::Seconds(3));
}

// The control: outside a scope, the read waits out its own deadline, long
// after its caller gave up.
TEST_F(PropagationTest, WithoutTheScopeTheCallToLedgerdOutlivesItsCaller) {
  FrontService service(snapshot_, /*scoped=*/false);
  Front front(&service);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  internal::StatusProto response;
  EXPECT_EQ(front.stub().Writable(&context, {}, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(service.InnerEnded(absl::Seconds(30)));
  EXPECT_EQ(service.inner().code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(service.inner_took(), absl::Seconds(4));
}

}  // namespace
}  // namespace chemledger::ledgerd
