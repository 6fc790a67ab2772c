// ledgerd's internal gRPC service (proto/chemledger/internal/
// ledger_store.proto): the ledger client and the notary of the process that
// owns the store, for the personalities that run as processes of their own
// (their side: remote_ledger.h).
//
// A thin adapter. What it adds to the in-process client:
//   - Submit verifies every request's signature again, against the registry
//     at the latest snapshot (registry/signers.h), before the journal sees
//     it: a personality whose process is taken over can still drop or delay
//     requests, but not write one that no registered key signed. Refusal
//     records (unsigned by design, services/audit/refusals.h) are the one
//     payload type taken as they come; genesis entries are never taken.
//   - Every snapshot it hands out is kept for the reads of the request that
//     opened it, which name it by its log size: 30 s after its last read,
//     the kRequestSnapshots most recent. KeepSnapshot keeps one for paged
//     reads through the ledger client (LedgerClient::Keep: two minutes).
//   - SignTrustList signs a snapshot's trust list through the notary it is
//     given, which signs one only when it is the latest one's (the keys'
//     standing has not changed since), for a day within one of ledgerd's
//     own: never a list a later revocation makes false (the rule is the
//     notary's, notary::CheckTrustListIsCurrent).
//   - Answers are bounded (keys, entries and bytes per call); the client
//     asks again for the rest.
// Who may call it: ledgerd serves it on its internal port over mutual TLS,
// and every call is checked against the allow-list (peer_allow_list.h) by
// the caller's certificate: what it may do, and which payload types it may
// submit.
//
// Thread-safety: thread-safe. The ledger client and notary must outlive it.

#ifndef CHEMLEDGER_SERVICES_LEDGERD_LEDGER_STORE_SERVICE_H_
#define CHEMLEDGER_SERVICES_LEDGERD_LEDGER_STORE_SERVICE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chemledger/internal/ledger_store.grpc.pb.h"
#include "journal/ledger_client.h"
#include "journal/state_machine.h"
#include "services/common/ephemeral_records.h"
#include "services/common/read_auth.h"
#include "services/ledgerd/peer_allow_list.h"
#include "services/notary/notary.h"
#include "services/registry/signers.h"

namespace chemledger::ledgerd {

// Bounds of one answer.
inline constexpr size_t kMaxKeysPerCall = 4096;
inline constexpr size_t kMaxIndexesPerCall = 4096;
inline constexpr size_t kMaxRequestsPerSubmit = 4096;
inline constexpr size_t kMaxAnswerBytes = 16 << 20;
// What a client of this service must accept in one message.
inline constexpr int kMaxMessageBytes = 64 << 20;
// Snapshots kept for the requests that opened them.
inline constexpr size_t kRequestSnapshots = 4096;
inline constexpr absl::Duration kRequestSnapshotKeep = absl::Seconds(30);

class LedgerStoreServiceImpl final : public internal::LedgerStore::Service {
 public:
  // `notary` signs checkpoints and trust lists for the services, and keeps
  // its rule of which trust lists it signs (a deployment's notary does:
  // notary::NewLocalNotary with the ledger's latest snapshot and a clock).
  // `nonces` is the memory of used read credentials that every service
  // shares (the one ledgerd's own services check with).
  // `records` keeps the console's sign-in records for every auditd.
  // `rules_epoch` is the one the journal writes entries under: what Submit
  // checks of a request besides its signature follows it (an observation's
  // labels from epoch 14, ledger/observation_labels.h), as the
  // personalities' own submissions do.
  LedgerStoreServiceImpl(journal::LedgerClient* ledger, const notary::LedgerNotary* notary,
                         read_auth::NonceMemory* nonces, EphemeralRecords* records,
                         PeerAllowList allowed, size_t verify_threads = 2,
                         uint32_t rules_epoch = journal::kCurrentRulesEpoch);

  grpc::Status Submit(grpc::ServerContext* context, const internal::SubmitRequest* request,
                      internal::SubmitResponse* response) override;
  grpc::Status OpenSnapshot(grpc::ServerContext* context,
                            const internal::OpenSnapshotRequest* request,
                            internal::SnapshotInfo* response) override;
  grpc::Status Writable(grpc::ServerContext* context, const internal::WritableRequest* request,
                        internal::StatusProto* response) override;
  grpc::Status Healthy(grpc::ServerContext* context, const internal::HealthyRequest* request,
                       internal::HealthyResponse* response) override;
  grpc::Status KeepSnapshot(grpc::ServerContext* context,
                            const internal::KeepSnapshotRequest* request,
                            internal::StatusProto* response) override;
  grpc::Status Get(grpc::ServerContext* context, const internal::GetRequest* request,
                   internal::GetResponse* response) override;
  grpc::Status Scan(grpc::ServerContext* context, const internal::ScanRequest* request,
                    internal::ScanResponse* response) override;
  grpc::Status Entries(grpc::ServerContext* context, const internal::EntriesRequest* request,
                       internal::EntriesResponse* response) override;
  grpc::Status Root(grpc::ServerContext* context, const internal::RootRequest* request,
                    internal::RootResponse* response) override;
  grpc::Status InclusionProofs(grpc::ServerContext* context,
                               const internal::InclusionProofsRequest* request,
                               internal::InclusionProofsResponse* response) override;
  grpc::Status ConsistencyProof(grpc::ServerContext* context,
                                const internal::ConsistencyProofRequest* request,
                                internal::Proof* response) override;
  grpc::Status NotaryKey(grpc::ServerContext* context, const internal::NotaryKeyRequest* request,
                         internal::NotaryKeyResponse* response) override;
  grpc::Status SignCheckpoint(grpc::ServerContext* context,
                              const internal::SignAtRequest* request,
                              internal::SignedNote* response) override;
  grpc::Status SignTrustList(grpc::ServerContext* context, const internal::SignAtRequest* request,
                             internal::SignedNote* response) override;
  grpc::Status RememberNonce(grpc::ServerContext* context,
                             const internal::RememberNonceRequest* request,
                             internal::StatusProto* response) override;
  grpc::Status PutRecord(grpc::ServerContext* context, const internal::PutRecordRequest* request,
                         internal::StatusProto* response) override;
  grpc::Status GetRecord(grpc::ServerContext* context, const internal::GetRecordRequest* request,
                         internal::GetRecordResponse* response) override;
  grpc::Status DeleteRecord(grpc::ServerContext* context,
                            const internal::GetRecordRequest* request,
                            internal::StatusProto* response) override;

 private:
  grpc::Status Allowed(grpc::ServerContext* context, LedgerStoreAccess access) const;
  // The snapshot of `size`: one a request opened, or one the ledger client
  // has (the latest, or kept).
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> SnapshotAt(uint64_t size)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Opened(std::shared_ptr<const storage::Snapshot> snapshot) ABSL_LOCKS_EXCLUDED(mu_);

  struct OpenedSnapshot {
    std::shared_ptr<const storage::Snapshot> snapshot;
    absl::Time last_read;
  };

  journal::LedgerClient* const ledger_;
  const notary::LedgerNotary* const notary_;
  read_auth::NonceMemory* const nonces_;
  EphemeralRecords* const records_;
  const PeerAllowList allowed_;
  const size_t verify_threads_;
  const registry::ContentCheck event_content_check_;
  const std::string instance_;  // random, for SnapshotInfo.instance
  absl::Mutex mu_;
  std::map<uint64_t, OpenedSnapshot> opened_ ABSL_GUARDED_BY(mu_);  // by log size
};

}  // namespace chemledger::ledgerd

#endif  // CHEMLEDGER_SERVICES_LEDGERD_LEDGER_STORE_SERVICE_H_
