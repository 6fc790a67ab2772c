// For the fuzz targets that read a ledger (read_requests_fuzzer,
// http_request_fuzzer): a whole ledger in this process on a real LevelDB
// store (testing/test_ledger.h) with a producer, kFuzzProducer, its
// administrator and its methanol product M01, and labels issued and signed
// for it; and the audit's answers over it (NewAuditedLedger). Setting up is the target's own business: a failure aborts.

#ifndef CHEMLEDGER_TESTS_FUZZ_FUZZ_LEDGER_H_
#define CHEMLEDGER_TESTS_FUZZ_FUZZ_LEDGER_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "crypto/checkpoint.h"
#include "crypto/label_testing.h"
#include "services/audit/audit_reads.h"
#include "services/notary/notary.h"
#include "services/registry/registry_testing.h"
#include "testing/test_ledger.h"

namespace chemledger::fuzz {

inline constexpr char kFuzzProducer[] = "91350100M000100Y43";

struct LabelledLedger {
  std::unique_ptr<testing::TestLedger> ledger;
  std::vector<label::IssuedLabel> labels;  // the first `signed_labels` of the batch
};

// A ledger named `name` whose platform administrator is `admin`, with the
// producer above (administered by `producer_admin`) and a batch `batch` of
// `issued` labels, the first `signed_labels` of them signed.
inline LabelledLedger NewLabelledLedger(const char* name, const crypto::SigningKey& admin,
                                        const crypto::SigningKey& producer_admin,
                                        const std::string& batch, uint32_t issued,
                                        uint32_t signed_labels) {
  LabelledLedger out;
  out.ledger = testing::TestLedger::Create(name, admin);
  testing::TestLedger& t = *out.ledger;
  const bool ok =
      t.AddLabelKey(admin).ok() &&
      t.RegisterEnterprise(admin, registry::testing::ExampleProducer(kFuzzProducer)).ok() &&
      t.AddActor(admin, kFuzzProducer, v1::ENTERPRISE_ADMIN, producer_admin).ok() &&
      t.RegisterProduct(producer_admin, registry::testing::ExampleMethanol(kFuzzProducer, "M01"))
          .ok();
  absl::StatusOr<label::Issuance> issuance =
      ok ? t.IssueBatch(producer_admin, kFuzzProducer, "M01", batch, issued)
         : absl::StatusOr<label::Issuance>(absl::InternalError("setup"));
  absl::StatusOr<std::vector<label::IssuedLabel>> labels =
      issuance.ok() ? t.issuer().SignLabels(*issuance, 0, signed_labels)
                    : absl::StatusOr<std::vector<label::IssuedLabel>>(issuance.status());
  if (!labels.ok() || labels->empty()) {
    fprintf(stderr, "%s: setting up the ledger failed\n", name);
    abort();
  }
  out.labels = *std::move(labels);
  return out;
}

// The log's note key (test key 9, origin "fuzz.example/log") and its
// notary, and the audit's answers over a ledger: what AuditService and the
// console read through.
struct AuditedLedger {
  std::unique_ptr<crypto::NoteSigner> note_signer;
  std::unique_ptr<notary::LedgerNotary> notary;
  std::unique_ptr<audit::AuditReads> audit;
};

inline AuditedLedger NewAuditedLedger(testing::TestLedger& ledger) {
  AuditedLedger out;
  out.note_signer = std::make_unique<crypto::NoteSigner>(
      *crypto::NoteSigner::Create("fuzz.example/log", crypto::testing::TestKey(9)));
  out.notary = notary::NewLocalNotary(out.note_signer.get());
  out.audit = std::make_unique<audit::AuditReads>(&ledger.client(), out.notary.get());
  return out;
}

}  // namespace chemledger::fuzz

#endif  // CHEMLEDGER_TESTS_FUZZ_FUZZ_LEDGER_H_
