#include "services/label/issuance_state.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/registry/registry_state.h"

namespace chemledger::label {
namespace internal {

//   i/iss/<uscc>/<product>/<batch>/<last serial, 9 digits>  state::IssuanceRecord
//   i/next/<uscc>/<product>/<batch>                         next serial (decimal)
std::string IssuanceKey(absl::string_view uscc, absl::string_view product,
                        absl::string_view batch, uint64_t last_serial) {
  return absl::StrFormat("i/iss/%s/%s/%s/%09d", uscc, product, batch, last_serial);
}

std::string NextSerialKey(absl::string_view uscc, absl::string_view product,
                          absl::string_view batch) {
  return absl::StrCat("i/next/", uscc, "/", product, "/", batch);
}

}  // namespace internal

absl::StatusOr<std::optional<IssuanceRecord>> FindIssuance(const storage::StateReader& state,
                                                           absl::string_view uscc,
                                                           absl::string_view product,
                                                           absl::string_view batch,
                                                           uint64_t serial) {
  if (serial == 0) return std::nullopt;
  // Issuances are keyed by their last serial: the first key at or after
  // `serial` in the batch is the only one that can cover it.
  const std::string prefix = absl::StrCat("i/iss/", uscc, "/", product, "/", batch, "/");
  const std::string end = storage::PrefixEnd(prefix);
  std::optional<state::IssuanceRecord> found;
  bool malformed = false;
  absl::Status s = state.Scan(internal::IssuanceKey(uscc, product, batch, serial), end,
                              [&](absl::string_view, absl::string_view value) {
                                found.emplace();
                                malformed = !found->ParseFromString(std::string(value));
                                return false;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("an issuance record is malformed");
  if (!found || serial < found->first_serial()) return std::nullopt;
  absl::StatusOr<state::DeploymentRecord> deployment = registry::ReadDeployment(state);
  if (!deployment.ok()) return deployment.status();
  absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(found->label_key_id());
  if (!key_id.ok()) return absl::DataLossError("an issuance record holds a malformed key id");
  IssuanceRecord r{found->log_index(), found->first_serial(), found->count(), {}, *key_id};
  crypto::LabelClaims& c = r.claims;
  c.resolver = deployment->resolver();
  c.enterprise = std::string(uscc);
  c.product = std::string(product);
  c.batch = std::string(batch);
  c.serial = found->first_serial();
  c.production_date = registry::FromProtoDate(found->production_date());
  c.quantity_milli = found->quantity_milli();
  c.unit = found->unit();
  c.un_number = found->un_number();
  c.cas = found->cas();
  c.control_flags = static_cast<uint8_t>(found->control_flags());
  return r;
}

absl::StatusOr<uint64_t> NextSerial(const storage::StateReader& state, absl::string_view uscc,
                                    absl::string_view product, absl::string_view batch) {
  absl::StatusOr<std::optional<std::string>> next =
      state.Get(internal::NextSerialKey(uscc, product, batch));
  if (!next.ok()) return next.status();
  if (!*next) return 1;
  uint64_t serial = 0;
  if (!absl::SimpleAtoi(**next, &serial)) {
    return absl::DataLossError("a batch's next serial record is malformed");
  }
  return serial;
}

absl::StatusOr<IssuanceRecord> MatchIssuance(const storage::StateReader& state,
                                             const crypto::ParsedLabel& label) {
  const crypto::LabelClaims& claims = label.claims;
  absl::StatusOr<std::optional<IssuanceRecord>> record =
      FindIssuance(state, claims.enterprise, claims.product, claims.batch, claims.serial);
  if (!record.ok()) return record.status();
  if (!*record) {
    return absl::NotFoundError(absl::StrCat("code ", claims.Code(), " is not in the issuance log"));
  }
  crypto::LabelClaims issued = (*record)->claims;
  issued.serial = claims.serial;
  if (issued != claims || (*record)->label_key_id != label.key_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("code ", claims.Code(), " was issued at log index ", (*record)->log_index,
                     " with other claims or by another key than this label's"));
  }
  return **record;
}

}  // namespace chemledger::label
