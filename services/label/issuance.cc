#include "services/label/issuance.h"

#include <algorithm>
#include <deque>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chemledger/v1/label.pb.h"
#include "services/registry/registry_state.h"
#include "services/registry/signers.h"

namespace chemledger::label {

absl::Status MayReceiveLabels(const v1::Actor& reader, const v1::IssueLabelsRequest& asked) {
  if (asked.enterprise_uscc().empty() || reader.enterprise_uscc() != asked.enterprise_uscc()) {
    return absl::PermissionDeniedError(
        absl::StrCat("labels go only to an actor of ", asked.enterprise_uscc(),
                     " with read credentials for IssueLabels in the call's metadata "
                     "(docs/deployment.md, \"Label issuance\"); actor '",
                     reader.name(), "' is not one"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Issuance> LabelIssuer::Issue(const v1::SignedEnvelope& envelope) {
  // The key to sign with: chosen here, where the private keys are; the
  // rules check that it is registered, unrevoked and valid on the day.
  std::string proposal;
  {
    std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
    absl::StatusOr<const crypto::SigningKey*> key =
        CurrentLabelKey(*snapshot, *keyring_, registry::ChinaDay(clock_()));
    if (key.ok()) {
      v1::LabelAssignment proposed;
      proposed.set_label_key_id((*key)->key_id().ToString());
      proposal = proposed.SerializeAsString();
    } else if (!absl::IsFailedPrecondition(key.status())) {
      // The registry could not be read (the ledger unreachable, say): a
      // fault to send again, not the rules' "no usable key".
      return key.status();
    } else {
      // The rules refuse the request (no usable key) with their own words;
      // why each registered key was passed over is for the operator.
      std::cerr << "label issuance: " << key.status().message() << std::endl;
    }
  }
  const v1::SignedEnvelope* one[] = {&envelope};
  registry::SignedBatchOptions options;
  options.verify_threads = 1;
  options.refusals = refusals_;
  options.proposal = [&](size_t) { return proposal; };
  absl::StatusOr<journal::Receipt> receipt =
      std::move(registry::SubmitSigned(*ledger_, one, kIssueLabelsContext, options)[0]);
  if (!receipt.ok()) return receipt.status();

  // What was assigned, as the ledger recorded it.
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<std::string> bytes = snapshot->Entry(receipt->index);
  if (!bytes.ok()) return bytes.status();
  v1::LogEntry entry;
  v1::IssueLabelsRequest request;
  v1::LabelAssignment assignment;
  if (!entry.ParseFromString(*bytes) || !request.ParseFromString(entry.envelope().payload()) ||
      !assignment.ParseFromString(entry.assignment())) {
    return absl::DataLossError(absl::StrCat("log entry ", receipt->index, " is not an issuance"));
  }
  absl::StatusOr<std::optional<IssuanceRecord>> record =
      FindIssuance(*snapshot, request.enterprise_uscc(), request.product_number(),
                   request.batch(), assignment.first_serial());
  if (!record.ok()) return record.status();
  if (!*record || (*record)->log_index != receipt->index) {
    return absl::DataLossError(
        absl::StrCat("the issuance of log entry ", receipt->index, " is not in the state"));
  }
  Issuance issuance((*record)->label_key_id);
  issuance.log_index = receipt->index;
  issuance.replayed = receipt->replayed;
  issuance.claims = (*record)->claims;
  issuance.count = (*record)->count;
  return issuance;
}

absl::StatusOr<std::vector<IssuedLabel>> LabelIssuer::SignLabels(const Issuance& issuance,
                                                                 uint32_t offset,
                                                                 uint32_t n) const {
  absl::StatusOr<const crypto::SigningKey*> key = keyring_->Find(issuance.label_key_id);
  if (!key.ok()) return absl::FailedPreconditionError(key.status().message());
  std::vector<IssuedLabel> labels;
  if (offset >= issuance.count) return labels;
  n = std::min(n, issuance.count - offset);
  labels.reserve(n);
  crypto::LabelClaims claims = issuance.claims;
  for (uint32_t i = 0; i < n; ++i) {
    claims.serial = issuance.claims.serial + offset + i;
    absl::StatusOr<std::string> url = crypto::MakeLabelUrl(claims, **key);
    if (!url.ok()) return url.status();
    labels.push_back(IssuedLabel{claims.serial, claims.Code(), *std::move(url)});
  }
  return labels;
}

absl::StatusOr<crypto::TrustList> MakeTrustList(const storage::StateReader& state,
                                                absl::CivilDay today) {
  absl::StatusOr<state::DeploymentRecord> deployment = registry::ReadDeployment(state);
  if (!deployment.ok()) return deployment.status();
  absl::StatusOr<std::vector<registry::LabelKeyState>> keys = registry::LabelKeys(state);
  if (!keys.ok()) return keys.status();
  crypto::TrustList list;
  list.resolver = deployment->resolver();
  list.issued = today;
  list.expires = today + kTrustListValidDays;
  for (const registry::LabelKeyState& k : *keys) {
    list.keys.push_back(crypto::TrustedLabelKey{
        k.key, k.valid_from, k.valid_until,
        k.revoked_on ? absl::optional<absl::CivilDay>(*k.revoked_on) : absl::nullopt});
  }
  return list;
}

absl::StatusOr<uint32_t> StreamLabels(const LabelIssuer& issuer, const Issuance& issuance,
                                      WorkerPool& pool, uint32_t per_message,
                                      absl::FunctionRef<bool(std::vector<IssuedLabel>)> write) {
  // With a message signed in two halves and only the next one ahead, the
  // workers stood idle while the slower half finished and while the writer
  // wrote (issuance reached 0.57-0.79 of the machine's signing rate).
  static constexpr uint32_t kLabelsPerChunk = 125;
  static constexpr size_t kMessagesSignedAhead = 3;
  per_message = std::max<uint32_t>(per_message, 1);
  struct Chunk {
    std::shared_ptr<WorkerPool::Task> task;
    absl::StatusOr<std::vector<IssuedLabel>> labels = absl::UnknownError("not signed");
  };
  using Message = std::vector<std::shared_ptr<Chunk>>;
  std::deque<Message> ahead;
  uint32_t next_offset = 0;
  const auto sign_ahead = [&] {
    for (; ahead.size() < kMessagesSignedAhead && next_offset < issuance.count;
         next_offset += per_message) {
      Message message;
      for (uint32_t c = 0; c < per_message && next_offset + c < issuance.count;
           c += kLabelsPerChunk) {
        auto chunk = std::make_shared<Chunk>();
        const uint32_t offset = next_offset + c;
        const uint32_t n = std::min(kLabelsPerChunk, per_message - c);
        // The chunk is owned by `message` and the task alike; `issuance`
        // outlives every task (each is waited for before this returns).
        chunk->task = pool.Run([&issuer, &issuance, offset, n, chunk = chunk.get()] {
          chunk->labels = issuer.SignLabels(issuance, offset, n);
        });
        message.push_back(std::move(chunk));
      }
      ahead.push_back(std::move(message));
    }
  };
  const auto wait = [](const Message& message) {
    for (const auto& chunk : message) chunk->task->Wait();
  };
  // Whatever way this returns, no signing task is left running.
  const auto wait_for_all = absl::MakeCleanup([&] {
    for (const Message& message : ahead) wait(message);
  });
  uint32_t written = 0;
  sign_ahead();
  while (!ahead.empty()) {
    wait(ahead.front());
    const Message chunks = std::move(ahead.front());
    ahead.pop_front();
    sign_ahead();
    std::vector<IssuedLabel> labels;
    labels.reserve(per_message);
    for (const auto& chunk : chunks) {
      if (!chunk->labels.ok()) return chunk->labels.status();
      for (IssuedLabel& label : *chunk->labels) labels.push_back(std::move(label));
    }
    const uint32_t n = static_cast<uint32_t>(labels.size());
    if (!write(std::move(labels))) return written;
    written += n;
  }
  return written;
}

}  // namespace chemledger::label
