// Test-only: a registered label key and an issued batch, for the tests of
// what stands on label issuance (the ledger, the waybill book).

#ifndef CHEMLEDGER_SERVICES_LABEL_ISSUANCE_TESTING_H_
#define CHEMLEDGER_SERVICES_LABEL_ISSUANCE_TESTING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "crypto/keys.h"
#include "services/common/envelope.h"
#include "services/label/issuance.h"
#include "services/registry/registry.h"
#include "services/registry/registry_testing.h"

namespace chemledger::label::testing {

// Makes a label key in `key_dir` and registers it, signed by the platform
// administrator `admin`, valid from yesterday (China time) for a year.
inline absl::Status AddLabelKey(registry::Registry& registry, const std::string& key_dir,
                                const crypto::SigningKey& admin) {
  absl::StatusOr<crypto::VerifyingKey> key = LabelKeyring::CreateKey(key_dir);
  if (!key.ok()) return key.status();
  const absl::CivilDay today = registry::testing::TodayInChina();
  v1::RegistryRequest r;
  r.set_request_id(absl::StrCat("add-label-key-", key->key_id().ToString()));
  r.mutable_add_label_key()->set_public_key(key->ToBytes());
  *r.mutable_add_label_key()->mutable_valid_from() = registry::ToProtoDate(today - 1);
  *r.mutable_add_label_key()->mutable_valid_until() = registry::ToProtoDate(today + 365);
  return registry.Apply(*envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), admin))
      .status();
}

// Issues `count` packages of `net_quantity` `unit` each, batch `batch` of
// product `product` of `uscc`, produced yesterday; signed by `key`.
inline absl::StatusOr<Issuance> IssueBatch(LabelIssuer& issuer, const crypto::SigningKey& key,
                                           const std::string& uscc, const std::string& product,
                                           const std::string& batch, uint32_t count,
                                           const std::string& net_quantity,
                                           const std::string& unit) {
  v1::IssueLabelsRequest issue;
  issue.set_request_id(absl::StrCat("issue-", uscc, "-", product, "-", batch, "-", count));
  issue.set_enterprise_uscc(uscc);
  issue.set_product_number(product);
  issue.set_batch(batch);
  *issue.mutable_production_date() = registry::ToProtoDate(registry::testing::TodayInChina() - 1);
  issue.set_package_count(count);
  issue.set_net_quantity(net_quantity);
  issue.set_unit(unit);
  return issuer.Issue(*envelope::Sign(kIssueLabelsContext, issue.SerializeAsString(), key));
}

}  // namespace chemledger::label::testing

#endif  // CHEMLEDGER_SERVICES_LABEL_ISSUANCE_TESTING_H_
