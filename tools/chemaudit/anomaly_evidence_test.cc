// The evidence check of chemaudit anomalies --prove (anomaly_evidence.h):
// each kind of anomaly against the entry it names, and against entries that
// are not it.

#include "tools/chemaudit/anomaly_evidence.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/major_hazard.pb.h"
#include "chemledger/v1/public_scan.pb.h"
#include "chemledger/v1/refusal.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "crypto/label_testing.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"

namespace chemledger::chemaudit {
namespace {

std::string EntryOf(absl::string_view payload_type, const std::string& payload) {
  v1::LogEntry entry;
  entry.mutable_envelope()->set_payload_type(std::string(payload_type));
  entry.mutable_envelope()->set_payload(payload);
  return entry.SerializeAsString();
}

std::string EventEntry(v1::BusinessStep step, const std::string& code) {
  v1::Event e;
  e.set_step(step);
  e.add_codes("91350100M000100Y43.M01.B1.9");
  e.add_codes(code);
  return EntryOf(api::kEventContext.payload_type(), e.SerializeAsString());
}

TEST(AnomalyEvidenceTest, ARefusalIsOfItsKeyCodeAndKind) {
  v1::RefusedRequest refused;
  refused.mutable_request()->add_signatures()->set_key_id("0123456789abcdef");
  refused.set_code(9);
  refused.set_kind(v1::OVER_CONSUMPTION);
  const std::string entry = EntryOf(api::kRefusalPayloadType, refused.SerializeAsString());
  v1::Anomaly a;
  a.set_kind(v1::REFUSED_REQUEST);
  a.set_log_index(7);
  a.set_signer_key_id("0123456789abcdef");
  a.set_refusal_code(9);
  a.set_refusal_kind(v1::OVER_CONSUMPTION);
  EXPECT_TRUE(EvidenceIsOf(a, entry).ok()) << EvidenceIsOf(a, entry);
  // An enterprise's reader may be shown no kind: any kind then.
  a.set_refusal_kind(v1::REFUSAL_KIND_UNSPECIFIED);
  EXPECT_TRUE(EvidenceIsOf(a, entry).ok());
  for (const auto& change : {+[](v1::Anomaly& x) { x.set_refusal_kind(v1::WRONG_CONSIGNEE); },
                             +[](v1::Anomaly& x) { x.set_refusal_code(7); },
                             +[](v1::Anomaly& x) { x.set_signer_key_id("fedcba9876543210"); }}) {
    v1::Anomaly wrong = a;
    wrong.set_refusal_kind(v1::OVER_CONSUMPTION);
    change(wrong);
    const absl::Status s = EvidenceIsOf(wrong, entry);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_EQ(s.message(),
              "the entry at log index 7 is not the REFUSED_REQUEST the anomaly list says it is");
  }
  // Another entry at its index (an event) is not it.
  EXPECT_FALSE(EvidenceIsOf(a, EventEntry(v1::OBSERVING, "X")).ok());
  EXPECT_FALSE(EvidenceIsOf(a, "not an entry \xff").ok());
}

TEST(AnomalyEvidenceTest, ACloneSignalIsAnObservationOrAPublicScanOfItsCode) {
  const crypto::LabelClaims claims = crypto::testing::ExampleLabelClaims();
  v1::Anomaly a;
  a.set_kind(v1::CLONE_SIGNAL);
  a.set_code(claims.Code());
  EXPECT_TRUE(EvidenceIsOf(a, EventEntry(v1::OBSERVING, claims.Code())).ok());
  EXPECT_FALSE(EvidenceIsOf(a, EventEntry(v1::STORING, claims.Code())).ok());
  EXPECT_FALSE(EvidenceIsOf(a, EventEntry(v1::OBSERVING, claims.Code() + "0")).ok());
  v1::PublicScan scan;
  absl::StatusOr<std::string> url = crypto::MakeLabelUrl(claims, crypto::SigningKey::Generate());
  ASSERT_TRUE(url.ok());
  scan.set_label_url(*url);
  EXPECT_TRUE(EvidenceIsOf(a, EntryOf(api::kPublicScanPayloadType, scan.SerializeAsString())).ok());
  a.set_code(claims.Code() + "0");
  EXPECT_FALSE(
      EvidenceIsOf(a, EntryOf(api::kPublicScanPayloadType, scan.SerializeAsString())).ok());
}

TEST(AnomalyEvidenceTest, ALossIsTheLossReportAndAnAlertItsAlert) {
  v1::Anomaly loss;
  loss.set_kind(v1::CONTROLLED_GOODS_LOST);
  loss.set_code("C1");
  EXPECT_TRUE(EvidenceIsOf(loss, EventEntry(v1::LOSS_REPORT, "C1")).ok());
  EXPECT_FALSE(EvidenceIsOf(loss, EventEntry(v1::OBSERVING, "C1")).ok());
  v1::MajorHazardAlert alert;
  alert.set_enterprise_uscc("91350100M000100Y43");
  alert.set_site_id("tank-farm");
  v1::Anomaly a;
  a.set_kind(v1::MAJOR_HAZARD_ALERT);
  *a.mutable_major_hazard_alert() = alert;
  const std::string entry = EntryOf(api::kMajorHazardAlertPayloadType, alert.SerializeAsString());
  EXPECT_TRUE(EvidenceIsOf(a, entry).ok());
  a.mutable_major_hazard_alert()->set_site_id("warehouse");
  EXPECT_FALSE(EvidenceIsOf(a, entry).ok());
  // An overdue shipment has no entry to be.
  v1::Anomaly overdue;
  overdue.set_kind(v1::OVERDUE_SHIPMENT);
  EXPECT_FALSE(EvidenceIsOf(overdue, entry).ok());
}

// A refused request proves who asked once its signature verifies with the
// key the log registered for its signer, before the refusal.
TEST(AnomalyEvidenceTest, ARefusedRequestIsSignedByTheKeyItsRegistrationHolds) {
  const crypto::SigningKey signer = crypto::SigningKey::Generate();
  const crypto::SigningKey other = crypto::SigningKey::Generate();
  v1::Event e;
  e.set_event_id("over");
  e.set_step(v1::CONSUMING);
  absl::StatusOr<v1::SignedEnvelope> request =
      envelope::Sign(api::kEventContext, e.SerializeAsString(), signer);
  ASSERT_TRUE(request.ok());
  const auto refusal_of = [](const v1::SignedEnvelope& r) {
    v1::RefusedRequest refused;
    *refused.mutable_request() = r;
    refused.set_code(9);
    return EntryOf(api::kRefusalPayloadType, refused.SerializeAsString());
  };
  const auto registration_of = [](const crypto::SigningKey& key) {
    v1::RegistryRequest add;
    add.mutable_add_actor()->set_name("operator");
    add.mutable_add_actor()->set_public_key(key.verifying_key().ToBytes());
    return EntryOf(api::kRegistryContext.payload_type(), add.SerializeAsString());
  };
  const std::string refusal = refusal_of(*request);
  constexpr char kHere[] = "chemledger.test";
  EXPECT_TRUE(RefusedRequestIsSignedBy(refusal, 40, registration_of(signer), 12, "", kHere).ok());
  // The first administrator's key is in the genesis entry, and only entry 0
  // is the genesis entry.
  v1::Genesis genesis;
  genesis.mutable_first_admin()->set_public_key(signer.verifying_key().ToBytes());
  const std::string genesis_entry =
      EntryOf(api::kGenesisContext.payload_type(), genesis.SerializeAsString());
  EXPECT_TRUE(RefusedRequestIsSignedBy(refusal, 40, genesis_entry, 0, "", kHere).ok());
  EXPECT_EQ(RefusedRequestIsSignedBy(refusal, 40, genesis_entry, 5, "", kHere).code(),
            absl::StatusCode::kDataLoss);

  const auto refused_with = [](const absl::Status& s, absl::string_view says) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find(says), absl::string_view::npos) << s;
  };
  // Another key's registration; a registration after the refusal.
  refused_with(RefusedRequestIsSignedBy(refusal, 40, registration_of(other), 12, "", kHere),
               "which is not the key of the entry at log index 12");
  refused_with(RefusedRequestIsSignedBy(refusal, 40, registration_of(signer), 40, "", kHere),
               "not before it");
  // The enterprise the anomaly shows is the one the log registered the key
  // for.
  refused_with(RefusedRequestIsSignedBy(refusal, 40, registration_of(signer), 12,
                                        "91350100M000100Y43", kHere),
               "registered the key for ''");
  // A request signed for another deployment is never this one's refusal;
  // one signed for this one is.
  e.set_deployment("chemledger.elsewhere");
  refused_with(RefusedRequestIsSignedBy(
                   refusal_of(*envelope::Sign(api::kEventContext, e.SerializeAsString(), signer)),
                   40, registration_of(signer), 12, "", kHere),
               "signed for deployment \"chemledger.elsewhere\"");
  e.set_deployment(kHere);
  EXPECT_TRUE(RefusedRequestIsSignedBy(
                  refusal_of(*envelope::Sign(api::kEventContext, e.SerializeAsString(), signer)),
                  40, registration_of(signer), 12, "", kHere)
                  .ok());
  // A request changed after it was signed.
  v1::SignedEnvelope changed = *request;
  changed.set_payload(changed.payload() + "x");
  refused_with(
      RefusedRequestIsSignedBy(refusal_of(changed), 40, registration_of(signer), 12, "", kHere),
      "signature");
  // An entry that registers no key; one that is not a refusal.
  v1::RegistryRequest blacklist;
  blacklist.mutable_blacklist()->set_enterprise_uscc("91350100M000100Y43");
  refused_with(
      RefusedRequestIsSignedBy(
          refusal, 40, EntryOf(api::kRegistryContext.payload_type(), blacklist.SerializeAsString()),
          12, "", kHere),
      "registers no actor key");
  refused_with(RefusedRequestIsSignedBy(EventEntry(v1::OBSERVING, "x"), 40, registration_of(signer),
                                        12, "", kHere),
               "not a refusal entry");
}

// A key's revocation is the log's entry revoking that key after its
// registration, not any entry the server names.
TEST(AnomalyEvidenceTest, ARevocationIsAnEntryRevokingThatKey) {
  const auto revocation_of = [](const std::string& key_id) {
    v1::RegistryRequest revoke;
    revoke.mutable_revoke_key()->set_key_id(key_id);
    revoke.mutable_revoke_key()->set_reason("lost");
    return EntryOf(api::kRegistryContext.payload_type(), revoke.SerializeAsString());
  };
  constexpr char kKey[] = "0123456789abcdef";
  EXPECT_TRUE(RevocationIsOf(revocation_of(kKey), 42, kKey, 12).ok());
  const auto refused_with = [](const absl::Status& s, absl::string_view says) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find(says), absl::string_view::npos) << s;
  };
  refused_with(RevocationIsOf(revocation_of("fedcba9876543210"), 42, kKey, 12),
               "but it revokes key fedcba9876543210");
  refused_with(RevocationIsOf(EventEntry(v1::OBSERVING, "x"), 42, kKey, 12), "revokes no key");
  refused_with(RevocationIsOf(revocation_of(kKey), 12, kKey, 12), "not before it");
}

// One entry a log index: a server that gave two for one index would have
// one of them go unproved.
TEST(AnomalyEvidenceTest, TwoEntriesForOneLogIndexAreRefused) {
  std::map<uint64_t, crypto::Sha256Digest> leaves;
  EXPECT_TRUE(AddLeaf(12, "registration", &leaves).ok());
  EXPECT_TRUE(AddLeaf(12, "registration", &leaves).ok());  // the same again
  const absl::Status two = AddLeaf(12, "a made-up registration", &leaves);
  EXPECT_EQ(two.code(), absl::StatusCode::kDataLoss) << two;
  EXPECT_NE(two.message().find("two different entries for log index 12"), std::string::npos);
  EXPECT_EQ(leaves.size(), 1u);
  EXPECT_EQ(leaves[12], crypto::HashLeaf("registration"));
}

// The pages of a listing, checked as they come: entries kept to prove (a
// refusal's with its signer's registration, and its key's revocation when
// it came before), each key looked up once, anomalies without an entry
// noted once each, and the first entry that is not what it says refused.
TEST(AnomalyEvidenceCheckerTest, PagesAreCheckedAndTheirEntriesKeptToProve) {
  constexpr char kHere[] = "chemledger.test";
  const crypto::SigningKey signer = crypto::SigningKey::Generate();
  const std::string key_id = signer.key_id().ToString();
  const auto refusal_at = [&](uint64_t index, const std::string& event_id, v1::Anomaly* a) {
    v1::Event e;
    e.set_event_id(event_id);
    e.set_step(v1::CONSUMING);
    v1::RefusedRequest refused;
    *refused.mutable_request() = *envelope::Sign(api::kEventContext, e.SerializeAsString(), signer);
    refused.set_code(9);
    a->set_kind(v1::REFUSED_REQUEST);
    a->set_log_index(index);
    a->set_signer_key_id(key_id);
    a->set_refusal_code(9);
    return EntryOf(api::kRefusalPayloadType, refused.SerializeAsString());
  };
  v1::RegistryRequest add;
  add.mutable_add_actor()->set_name("operator");
  add.mutable_add_actor()->set_public_key(signer.verifying_key().ToBytes());
  v1::ActorKeyRecord record;
  record.set_key_id(key_id);
  record.set_added_at(12);
  record.set_registration_entry(
      EntryOf(api::kRegistryContext.payload_type(), add.SerializeAsString()));
  record.set_revoked(true);
  record.set_revoked_at(30);
  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(key_id);
  revoke.mutable_revoke_key()->set_reason("lost");
  record.set_revocation_entry(
      EntryOf(api::kRegistryContext.payload_type(), revoke.SerializeAsString()));
  int lookups = 0;
  AnomalyEvidenceChecker checker(kHere, [&](const std::string& id) {
    ++lookups;
    EXPECT_EQ(id, key_id);
    return absl::StatusOr<v1::ActorKeyRecord>(record);
  });

  const std::string code = "91350100M000100Y43.M01.B1.7";
  v1::Anomalies page;
  v1::Anomaly* clone = page.add_anomalies();
  clone->set_kind(v1::CLONE_SIGNAL);
  clone->set_log_index(20);
  clone->set_code(code);
  v1::AnomalyEvidence* clone_entry = page.add_evidence();
  clone_entry->set_log_index(20);
  clone_entry->set_entry(EventEntry(v1::OBSERVING, code));
  for (int i = 0; i < 2; ++i) {  // two anomalies of one entry the reader may not see
    v1::Anomaly* unseen = page.add_anomalies();
    unseen->set_kind(v1::CLONE_SIGNAL);
    unseen->set_log_index(21);
  }
  v1::AnomalyEvidence* refusal_entry = page.add_evidence();
  refusal_entry->set_log_index(40);
  refusal_entry->set_entry(refusal_at(40, "over", page.add_anomalies()));
  const absl::Status first = checker.AddPage(page);
  ASSERT_TRUE(first.ok()) << first;

  v1::Anomalies next;
  v1::AnomalyEvidence* second = next.add_evidence();
  second->set_log_index(41);
  second->set_entry(refusal_at(41, "over again", next.add_anomalies()));
  const absl::Status then = checker.AddPage(next);
  ASSERT_TRUE(then.ok()) << then;

  EXPECT_EQ(lookups, 1);
  EXPECT_EQ(checker.signatures_checked(), 2);  // 40 and 41
  std::vector<uint64_t> kept;
  for (const auto& [index, leaf] : checker.leaves()) kept.push_back(index);
  EXPECT_EQ(kept, (std::vector<uint64_t>{12, 20, 30, 40, 41}));
  EXPECT_EQ(checker.leaves().at(20), crypto::HashLeaf(EventEntry(v1::OBSERVING, code)));
  EXPECT_EQ(checker.without_entry(), std::vector<uint64_t>{21});
  EXPECT_EQ(checker.revoked_signers(), std::set<std::string>{key_id});

  // An entry that is not what its anomaly says.
  v1::Anomalies wrong;
  v1::Anomaly* lost = wrong.add_anomalies();
  lost->set_kind(v1::CLONE_SIGNAL);
  lost->set_log_index(50);
  lost->set_code(code);
  v1::AnomalyEvidence* lost_entry = wrong.add_evidence();
  lost_entry->set_log_index(50);
  lost_entry->set_entry(EventEntry(v1::STORING, code));
  EXPECT_EQ(checker.AddPage(wrong).code(), absl::StatusCode::kDataLoss);

  // A key the server would not give: its error, naming the refusal.
  AnomalyEvidenceChecker unknown(kHere, [](const std::string&) {
    return absl::StatusOr<v1::ActorKeyRecord>(absl::NotFoundError("no such key"));
  });
  const absl::Status refused = unknown.AddPage(page);
  EXPECT_EQ(refused.code(), absl::StatusCode::kNotFound) << refused;
  EXPECT_EQ(refused.message(), "the key of the refused request at log index 40: no such key");
}

}  // namespace
}  // namespace chemledger::chemaudit
