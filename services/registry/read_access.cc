#include "services/registry/read_access.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/read_auth.h"
#include "services/common/snapshot_metadata.h"
#include "services/registry/registry_state.h"

namespace chemledger::registry {

absl::StatusOr<ReadAuthenticator::Reading> ReadAuthenticator::BeginRead(
    journal::LedgerClient& ledger, grpc::ServerContextBase& context, absl::string_view method,
    absl::string_view request_bytes) {
  Reading reading{ledger.Latest(), {}};
  absl::StatusOr<v1::Actor> reader =
      Authenticate(*reading.snapshot, context, method, request_bytes);
  if (!reader.ok()) return reader.status();
  reading.reader = *std::move(reader);
  TellServedAt(&context, *reading.snapshot);
  return reading;
}

absl::StatusOr<v1::Actor> ReadAuthenticator::Authenticate(const storage::StateReader& state,
                                                          const grpc::ServerContextBase& context,
                                                          absl::string_view method,
                                                          absl::string_view request_bytes) {
  return Authenticate(state, read_auth::ReadCredentialsOf(context), method, request_bytes);
}

absl::StatusOr<v1::Actor> ReadAuthenticator::Authenticate(
    const storage::StateReader& state, const read_auth::ReadCredentials& credentials,
    absl::string_view method, absl::string_view request_bytes) {
  std::optional<v1::Actor> reader;
  absl::Status checked = checker_.Check(
      credentials, method, request_bytes, absl::Now(),
      [&](const v1::SignedEnvelope& envelope, const crypto::SignatureContext& signature_context) {
        absl::StatusOr<v1::Actor> actor = VerifySigner(state, envelope, signature_context);
        if (!actor.ok()) {
          // The credentials are checked as an envelope; the caller sent
          // metadata entries, so those are what the message names.
          const std::string message = absl::StrReplaceAll(
              actor.status().message(),
              {{"envelope.signatures[0].key_id",
                absl::StrCat("metadata ", read_auth::kKeyIdHeader)},
               {"envelope.signatures[0].sig",
                absl::StrCat("metadata ", read_auth::kSignatureHeader)}});
          return absl::Status(actor.status().code(), absl::StrCat("read credentials: ", message));
        }
        reader = *std::move(actor);
        return absl::OkStatus();
      });
  if (!checked.ok()) return checked;
  return *std::move(reader);
}

}  // namespace chemledger::registry
