#include "services/ledgerd/ledger_store_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "crypto/random.h"
#include "crypto/trust_list.h"
#include "services/common/grpc_status.h"
#include "services/label/issuance.h"
#include "services/ledger/observation_labels.h"
#include "services/ledgerd/submission_check.h"
#include "services/ledgerd/wire_status.h"

namespace chemledger::ledgerd {

using crypto::Sha256Digest;
namespace {

grpc::Status Invalid(absl::string_view field, absl::string_view rule) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat(field, ": ", rule));
}

}  // namespace

LedgerStoreServiceImpl::LedgerStoreServiceImpl(journal::LedgerClient* ledger,
                                               const notary::LedgerNotary* notary,
                                               read_auth::NonceMemory* nonces,
                                               EphemeralRecords* records, PeerAllowList allowed,
                                               size_t verify_threads, uint32_t rules_epoch)
    : ledger_(ledger),
      notary_(notary),
      nonces_(nonces),
      records_(records),
      allowed_(std::move(allowed)),
      verify_threads_(verify_threads),
      event_content_check_(ledger::EventContentCheck(rules_epoch)),
      instance_(absl::BytesToHexString(crypto::RandomBytes(8))) {}

absl::StatusOr<std::shared_ptr<const storage::Snapshot>> LedgerStoreServiceImpl::SnapshotAt(
    uint64_t size) {
  if (size == 0) return absl::InvalidArgumentError("size: must name a snapshot (a log size)");
  {
    absl::MutexLock lock(&mu_);
    auto it = opened_.find(size);
    if (it != opened_.end()) {
      it->second.last_read = absl::Now();
      return it->second.snapshot;
    }
  }
  return ledger_->At(size);
}

void LedgerStoreServiceImpl::Opened(std::shared_ptr<const storage::Snapshot> snapshot) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  OpenedSnapshot& opened = opened_[snapshot->size()];
  if (opened.snapshot == nullptr) opened.snapshot = std::move(snapshot);
  opened.last_read = now;
  // Log sizes grow with time: the first ones are the oldest.
  while (opened_.size() > kRequestSnapshots ||
         (opened_.size() > 1 && now - opened_.begin()->second.last_read > kRequestSnapshotKeep)) {
    opened_.erase(opened_.begin());
  }
}

grpc::Status LedgerStoreServiceImpl::Allowed(grpc::ServerContext* context,
                                             LedgerStoreAccess access) const {
  return ToGrpcStatus(allowed_.Check(context->auth_context().get(), access));
}

grpc::Status LedgerStoreServiceImpl::Submit(grpc::ServerContext* context,
                                            const internal::SubmitRequest* request,
                                            internal::SubmitResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kSubmit); !a.ok()) return a;
  const size_t n = request->requests_size();
  if (n == 0) return Invalid("requests", "must not be empty");
  if (n > kMaxRequestsPerSubmit) {
    return Invalid("requests", absl::StrCat("at most ", kMaxRequestsPerSubmit, " per call"));
  }
  std::vector<const v1::SignedEnvelope*> envelopes;
  envelopes.reserve(n);
  for (const internal::SubmittedRequest& r : request->requests()) {
    envelopes.push_back(&r.envelope());
  }
  const std::vector<std::optional<absl::Status>> refused = CheckSubmission(
      *ledger_->Latest(), envelopes,
      [&](absl::string_view payload_type) {
        return allowed_.CheckSubmit(context->auth_context().get(), payload_type);
      },
      verify_threads_, event_content_check_);
  std::vector<journal::Request> submitted;
  std::vector<size_t> submitted_index;
  for (size_t i = 0; i < n; ++i) {
    if (refused[i]) continue;
    journal::Request r;
    r.envelope = request->requests(i).envelope();
    r.proposal = request->requests(i).proposal();
    submitted.push_back(std::move(r));
    submitted_index.push_back(i);
  }
  std::vector<absl::StatusOr<journal::Receipt>> receipts;
  if (!submitted.empty()) receipts = ledger_->Submit(std::move(submitted));
  std::vector<const absl::StatusOr<journal::Receipt>*> by_request(n, nullptr);
  for (size_t k = 0; k < receipts.size(); ++k) by_request[submitted_index[k]] = &receipts[k];
  for (size_t i = 0; i < n; ++i) {
    internal::SubmitResult* result = response->add_results();
    if (refused[i]) {
      *result->mutable_refused() = ToStatusProto(*refused[i]);
    } else if (!by_request[i]->ok()) {
      *result->mutable_refused() = ToStatusProto(by_request[i]->status());
    } else {
      const journal::Receipt& receipt = **by_request[i];
      internal::Receipt* out = result->mutable_receipt();
      out->set_index(receipt.index);
      out->set_replayed(receipt.replayed);
      out->set_leaf_hash(receipt.leaf_hash.ToBytes());
      out->set_record_time_micros(absl::ToUnixMicros(receipt.record_time));
    }
  }
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::OpenSnapshot(grpc::ServerContext* context,
                                                  const internal::OpenSnapshotRequest* request,
                                                  internal::SnapshotInfo* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  std::shared_ptr<const storage::Snapshot> snapshot;
  if (request->size() == 0) {
    snapshot = ledger_->Latest();
  } else {
    absl::StatusOr<std::shared_ptr<const storage::Snapshot>> at = SnapshotAt(request->size());
    if (!at.ok()) return ToGrpcStatus(at.status());
    snapshot = *std::move(at);
  }
  Opened(snapshot);
  response->set_size(snapshot->size());
  response->set_root(snapshot->root().ToBytes());
  response->set_instance(instance_);
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::KeepSnapshot(grpc::ServerContext* context,
                                                  const internal::KeepSnapshotRequest* request,
                                                  internal::StatusProto* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot = SnapshotAt(request->size());
  if (snapshot.ok()) ledger_->Keep(*std::move(snapshot));
  *response = ToStatusProto(snapshot.status());
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::Writable(grpc::ServerContext* context,
                                              const internal::WritableRequest*,
                                              internal::StatusProto* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  *response = ToStatusProto(ledger_->Writable());
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::Healthy(grpc::ServerContext* context,
                                             const internal::HealthyRequest*,
                                             internal::HealthyResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  *response->mutable_status() = ToStatusProto(ledger_->Healthy());
  response->set_reads_only(ledger_->ReadsOnly());
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::Get(grpc::ServerContext* context, const internal::GetRequest* request,
                                         internal::GetResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  if (static_cast<size_t>(request->keys_size()) > kMaxKeysPerCall) {
    return Invalid("keys", absl::StrCat("at most ", kMaxKeysPerCall, " per call"));
  }
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  size_t bytes = 0;
  for (const std::string& key : request->keys()) {
    absl::StatusOr<std::optional<std::string>> value = (*snapshot)->Get(key);
    if (!value.ok()) return ToGrpcStatus(value.status());
    internal::GetResponse::Value* out = response->add_values();
    if (*value) {
      bytes += (*value)->size();
      if (bytes > kMaxAnswerBytes) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("keys: the values exceed ", kMaxAnswerBytes,
                                         " bytes; ask for fewer keys at once"));
      }
      out->set_found(true);
      out->set_value(**std::move(value));
    }
  }
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::Scan(grpc::ServerContext* context,
                                          const internal::ScanRequest* request,
                                          internal::ScanResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  const size_t max_keys =
      request->max_keys() == 0 ? kMaxKeysPerCall
                               : std::min<size_t>(request->max_keys(), kMaxKeysPerCall);
  size_t bytes = 0;
  absl::Status scanned = (*snapshot)->Scan(
      request->begin(), request->end(), [&](absl::string_view key, absl::string_view value) {
        // One key past the page says there are more.
        if (static_cast<size_t>(response->keys_size()) >= max_keys ||
            (bytes > 0 && bytes + key.size() + value.size() > kMaxAnswerBytes)) {
          response->set_more(true);
          return false;
        }
        bytes += key.size() + value.size();
        response->add_keys(std::string(key));
        response->add_values(std::string(value));
        return true;
      });
  return ToGrpcStatus(scanned);
}

grpc::Status LedgerStoreServiceImpl::Entries(grpc::ServerContext* context,
                                             const internal::EntriesRequest* request,
                                             internal::EntriesResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  if (static_cast<size_t>(request->indexes_size()) > kMaxIndexesPerCall) {
    return Invalid("indexes", absl::StrCat("at most ", kMaxIndexesPerCall, " per call"));
  }
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  size_t bytes = 0;
  for (uint64_t index : request->indexes()) {
    absl::StatusOr<Sha256Digest> hash = (*snapshot)->LeafHash(index);
    if (!hash.ok()) return ToGrpcStatus(hash.status());
    if (!request->leaf_hashes_only()) {
      absl::StatusOr<std::string> entry = (*snapshot)->Entry(index);
      if (!entry.ok()) return ToGrpcStatus(entry.status());
      // The entries that fit; the client asks again for the rest.
      if (bytes > 0 && bytes + entry->size() > kMaxAnswerBytes) break;
      bytes += entry->size();
      response->add_entries(*std::move(entry));
    }
    response->add_leaf_hashes(hash->ToBytes());
  }
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::Root(grpc::ServerContext* context,
                                          const internal::RootRequest* request,
                                          internal::RootResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  absl::StatusOr<Sha256Digest> root = (*snapshot)->Root(request->tree_size());
  if (!root.ok()) return ToGrpcStatus(root.status());
  response->set_root(root->ToBytes());
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::InclusionProofs(
    grpc::ServerContext* context, const internal::InclusionProofsRequest* request,
    internal::InclusionProofsResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  if (static_cast<size_t>(request->indexes_size()) > kMaxIndexesPerCall) {
    return Invalid("indexes", absl::StrCat("at most ", kMaxIndexesPerCall, " per call"));
  }
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  const std::vector<uint64_t> indexes(request->indexes().begin(), request->indexes().end());
  absl::StatusOr<std::vector<std::vector<Sha256Digest>>> proofs =
      (*snapshot)->InclusionProofs(indexes, request->tree_size());
  if (!proofs.ok()) return ToGrpcStatus(proofs.status());
  for (const std::vector<Sha256Digest>& proof : *proofs) {
    internal::Proof* out = response->add_proofs();
    for (const Sha256Digest& hash : proof) out->add_hashes(hash.ToBytes());
  }
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::ConsistencyProof(
    grpc::ServerContext* context, const internal::ConsistencyProofRequest* request,
    internal::Proof* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  absl::StatusOr<std::vector<Sha256Digest>> proof =
      (*snapshot)->ConsistencyProof(request->old_size(), request->new_size());
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  for (const Sha256Digest& hash : *proof) response->add_hashes(hash.ToBytes());
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::NotaryKey(grpc::ServerContext* context,
                                               const internal::NotaryKeyRequest*,
                                               internal::NotaryKeyResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  response->set_verifier_key(notary_->verifier().VerifierKeyString());
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::SignCheckpoint(grpc::ServerContext* context,
                                                    const internal::SignAtRequest* request,
                                                    internal::SignedNote* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kSignCheckpoint); !a.ok()) return a;
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  absl::StatusOr<std::string> note = notary_->SignCheckpoint(**snapshot);
  if (!note.ok()) return ToGrpcStatus(note.status());
  response->set_note(*std::move(note));
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::SignTrustList(grpc::ServerContext* context,
                                                   const internal::SignAtRequest* request,
                                                   internal::SignedNote* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kSignTrustList); !a.ok()) return a;
  absl::CivilDay day;
  if (!absl::ParseCivilTime(request->day(), &day)) {
    return Invalid("day", "must be a day as YYYY-MM-DD");
  }
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> snapshot =
      SnapshotAt(request->size());
  if (!snapshot.ok()) return ToGrpcStatus(snapshot.status());
  // Only a list that is true now: the notary's rule
  // (notary::CheckTrustListIsCurrent), which it keeps for every caller.
  absl::StatusOr<std::string> note = notary_->SignTrustList(**snapshot, day);
  if (!note.ok()) return ToGrpcStatus(note.status());
  response->set_note(*std::move(note));
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::RememberNonce(grpc::ServerContext* context,
                                                   const internal::RememberNonceRequest* request,
                                                   internal::StatusProto* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRead); !a.ok()) return a;
  // A pair is kept no longer than a credential can be good.
  const absl::Time now = absl::Now();
  const int64_t expires =
      std::min<int64_t>(request->expires(), absl::ToUnixSeconds(now + absl::Minutes(10)));
  *response = ToStatusProto(nonces_->Remember(request->key_id(), request->nonce(),
                                              absl::FromUnixSeconds(request->signed_at()),
                                              expires, now));
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::PutRecord(grpc::ServerContext* context,
                                               const internal::PutRecordRequest* request,
                                               internal::StatusProto* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRecords); !a.ok()) return a;
  // Small records that live two days at most (the console's challenge key
  // of the day; sign-ins minutes), of a few kinds.
  if (request->kind().empty() || request->kind().size() > 64 || request->key().size() > 256 ||
      request->value().size() > 4096 || request->owner().size() > 128) {
    return Invalid("kind, key, value, owner", "at most 64, 256, 4096 and 128 bytes");
  }
  const absl::Time now = absl::Now();
  EphemeralRecords::Limits limits;
  limits.max_of_kind = std::min<uint64_t>(request->max_of_kind(), 100000);
  limits.max_per_owner = std::min<uint64_t>(request->max_per_owner(), 1000);
  limits.only_if_absent = request->only_if_absent();
  limits.refuse_beyond_per_owner = std::min<uint64_t>(request->refuse_beyond_per_owner(), 100000);
  const absl::Time expires =
      std::min(absl::FromUnixMicros(request->expires_micros()), now + absl::Hours(49));
  *response = ToStatusProto(records_->Put(request->kind(), request->key(), request->value(),
                                          request->owner(), expires, limits, now));
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::GetRecord(grpc::ServerContext* context,
                                               const internal::GetRecordRequest* request,
                                               internal::GetRecordResponse* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRecords); !a.ok()) return a;
  absl::StatusOr<std::optional<std::string>> value =
      records_->Get(request->kind(), request->key(), request->take(), absl::Now());
  if (!value.ok()) return ToGrpcStatus(value.status());
  if (*value) {
    response->set_found(true);
    response->set_value(**std::move(value));
  }
  return grpc::Status::OK;
}

grpc::Status LedgerStoreServiceImpl::DeleteRecord(grpc::ServerContext* context,
                                                  const internal::GetRecordRequest* request,
                                                  internal::StatusProto* response) {
  if (grpc::Status a = Allowed(context, LedgerStoreAccess::kRecords); !a.ok()) return a;
  *response = ToStatusProto(records_->Delete(request->kind(), request->key()));
  return grpc::Status::OK;
}

}  // namespace chemledger::ledgerd
