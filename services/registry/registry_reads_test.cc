#include "services/registry/registry_reads.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/wire.h"
#include "gtest/gtest.h"
#include "reference/reference_tables.h"
#include "services/common/envelope.h"
#include "services/registry/registry_state.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "testing/test_ledger.h"

namespace chemledger::registry {
namespace {

using ::chemledger::testing::TestKey;
using ::chemledger::testing::TestLedger;

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kOther[] = "91110105771583283D";

class RegistryReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = TestLedger::Create("registry_reads_test", admin_);
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, testing::ExampleProducer(kAcme)).ok());
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, testing::ExampleProducer(kOther)).ok());
    ASSERT_TRUE(t_->AddActor(admin_, kAcme, v1::ENTERPRISE_OPERATOR, acme_, "acme operator").ok());
    ASSERT_TRUE(
        t_->AddActor(admin_, kOther, v1::ENTERPRISE_OPERATOR, other_, "other operator").ok());
    ASSERT_TRUE(t_->AddActor(admin_, kAcme, v1::ENTERPRISE_ADMIN, acme_admin_, "acme admin").ok());
    v1::RegistryRequest site;
    *site.mutable_register_site() = testing::ExampleSite(kAcme, "WH-1");
    absl::StatusOr<journal::Receipt> registered = t_->Registry(acme_admin_, site);
    ASSERT_TRUE(registered.ok()) << registered.status();
    site_at_ = registered->index;
    snapshot_ = t_->snapshot();
    for (const crypto::SigningKey* key : {&admin_, &acme_, &other_}) {
      absl::StatusOr<v1::Actor> actor = ActiveSigner(*snapshot_, key->key_id());
      ASSERT_TRUE(actor.ok()) << actor.status();
      actors_.push_back(*actor);
    }
  }
  const v1::Actor& admin() const { return actors_[0]; }
  const v1::Actor& acme() const { return actors_[1]; }
  const v1::Actor& other() const { return actors_[2]; }

  template <typename T>
  static void ExpectRefused(const absl::StatusOr<T>& answer, absl::StatusCode code,
                            const std::string& prefix) {
    ASSERT_FALSE(answer.ok()) << prefix;
    EXPECT_EQ(answer.status().code(), code) << answer.status();
    EXPECT_TRUE(absl::StartsWith(answer.status().message(), prefix)) << answer.status();
  }

  crypto::SigningKey admin_ = TestKey(1), acme_ = TestKey(2), other_ = TestKey(3),
                     acme_admin_ = TestKey(4);
  uint64_t site_at_ = 0;
  std::unique_ptr<TestLedger> t_;
  std::shared_ptr<const storage::Snapshot> snapshot_;
  std::vector<v1::Actor> actors_;
  const RegistryReads reads_{};
};

TEST_F(RegistryReadsTest, EnterprisesAndActorsAreFoundOrNamedMissing) {
  v1::GetEnterpriseRequest enterprise;
  enterprise.set_uscc(kAcme);
  absl::StatusOr<v1::EnterpriseRecord> record =
      reads_.GetEnterprise(*snapshot_, other(), enterprise);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->enterprise().uscc(), kAcme);
  EXPECT_FALSE(record->blacklisted());
  enterprise.set_uscc("91310000132200821H");
  ExpectRefused(reads_.GetEnterprise(*snapshot_, other(), enterprise), absl::StatusCode::kNotFound,
                "uscc: enterprise '91310000132200821H' is not registered");

  v1::GetActorRequest actor;
  actor.set_key_id(acme_.key_id().ToString());
  absl::StatusOr<v1::Actor> found = reads_.GetActor(*snapshot_, other(), actor);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->name(), "acme operator");
  actor.set_key_id("not a key id");
  ExpectRefused(reads_.GetActor(*snapshot_, other(), actor), absl::StatusCode::kInvalidArgument,
                "key_id: ");
  actor.set_key_id(TestKey(9).key_id().ToString());
  ExpectRefused(reads_.GetActorKey(*snapshot_, other(), actor), absl::StatusCode::kNotFound,
                "key_id: no actor key ");
}

// A revoked key is gone for GetActor, and GetActorKey shows both entries.
TEST_F(RegistryReadsTest, ARevokedKeyStaysReadableWithItsRevocation) {
  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(other_.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("left");
  ASSERT_TRUE(t_->Registry(admin_, revoke).ok());
  std::shared_ptr<const storage::Snapshot> now = t_->snapshot();
  v1::GetActorRequest request;
  request.set_key_id(other_.key_id().ToString());
  ExpectRefused(reads_.GetActor(*now, acme(), request), absl::StatusCode::kNotFound,
                "key_id: no active actor holds key ");
  absl::StatusOr<v1::ActorKeyRecord> record = reads_.GetActorKey(*now, acme(), request);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->revoked());
  EXPECT_EQ(record->revoked_reason(), "left");
  EXPECT_EQ(record->revocation_entry(), *now->Entry(record->revoked_at()));
  EXPECT_EQ(record->registration_entry(), *now->Entry(record->added_at()));
}

TEST_F(RegistryReadsTest, SitesAreReadByTheirEnterpriseAndThoseWhoOverseeIt) {
  v1::ListSitesRequest request;
  request.set_enterprise_uscc(kAcme);
  for (const v1::Actor* may : {&acme(), &admin()}) {
    absl::StatusOr<v1::ListSitesResponse> sites = reads_.ListSites(*snapshot_, *may, request);
    ASSERT_TRUE(sites.ok()) << sites.status();
    ASSERT_EQ(sites->sites_size(), 1);
    EXPECT_EQ(sites->sites(0).site_id(), "WH-1");
  }
  ExpectRefused(reads_.ListSites(*snapshot_, other(), request), absl::StatusCode::kPermissionDenied,
                "enterprise_uscc: the sites of ");
  request.clear_enterprise_uscc();  // the reader's own
  absl::StatusOr<v1::ListSitesResponse> none = reads_.ListSites(*snapshot_, other(), request);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->sites_size(), 0);
  ExpectRefused(reads_.ListSites(*snapshot_, admin(), request), absl::StatusCode::kInvalidArgument,
                "enterprise_uscc: is required");
}

// ListSites is not paged: past kMaxSitesListed it says so rather than cut
// the list without a word.
TEST_F(RegistryReadsTest, AListOfMoreSitesThanAnsweredSaysSo) {
  // WH-1 is registered; kMaxSitesListed more, in batches of one commit each.
  std::vector<v1::SignedEnvelope> envelopes;
  for (size_t i = 0; i < kMaxSitesListed; ++i) {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("site-", i));
    *r.mutable_register_site() = testing::ExampleSite(kAcme, absl::StrCat("S", 100000 + i));
    absl::StatusOr<v1::SignedEnvelope> signed_request =
        envelope::Sign(api::kRegistryContext, r.SerializeAsString(), acme_admin_);
    ASSERT_TRUE(signed_request.ok());
    envelopes.push_back(*std::move(signed_request));
  }
  for (size_t begin = 0; begin < envelopes.size(); begin += 1000) {
    std::vector<const v1::SignedEnvelope*> batch;
    for (size_t i = begin; i < std::min(envelopes.size(), begin + 1000); ++i) {
      batch.push_back(&envelopes[i]);
    }
    for (const absl::StatusOr<journal::Receipt>& r :
         SubmitSigned(t_->client(), batch, api::kRegistryContext)) {
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }
  v1::ListSitesRequest request;
  request.set_enterprise_uscc(kAcme);
  absl::StatusOr<v1::ListSitesResponse> sites = reads_.ListSites(*t_->snapshot(), admin(), request);
  ASSERT_TRUE(sites.ok()) << sites.status();
  EXPECT_EQ(static_cast<size_t>(sites->sites_size()), kMaxSitesListed);
  EXPECT_TRUE(sites->truncated());
  EXPECT_EQ(sites->sites(0).site_id(), "S100000");  // by site_id: WH-1 comes last
  absl::StatusOr<v1::ListSitesResponse> one = reads_.ListSites(*snapshot_, admin(), request);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->truncated());
}

TEST_F(RegistryReadsTest, ProductsUnderReviewAreTheEnterprisesOwn) {
  v1::ListPendingProductsRequest request;
  request.set_enterprise_uscc(kOther);
  ExpectRefused(reads_.ListPendingProducts(*snapshot_, acme(), request),
                absl::StatusCode::kPermissionDenied, "enterprise_uscc: an enterprise's actors");
  request.set_enterprise_uscc("not a uscc");
  ExpectRefused(reads_.ListPendingProducts(*snapshot_, admin(), request),
                absl::StatusCode::kInvalidArgument, "enterprise_uscc");
  request.clear_enterprise_uscc();
  EXPECT_TRUE(reads_.ListPendingProducts(*snapshot_, acme(), request).ok());
  EXPECT_TRUE(reads_.ListProductFlagChanges(*snapshot_, admin(), {}).ok());
}

TEST_F(RegistryReadsTest, RegistryEntriesOnlyAndOpenReadsCheckTheirFields) {
  v1::GetRegistryEntryRequest entry;
  entry.set_log_index(0);  // genesis
  EXPECT_TRUE(reads_.GetRegistryEntry(*snapshot_, other(), entry).ok());
  entry.set_log_index(snapshot_->size());
  ExpectRefused(reads_.GetRegistryEntry(*snapshot_, other(), entry), absl::StatusCode::kNotFound,
                absl::StrCat("log_index: ", snapshot_->size(), " is not a registry entry"));
  // A site's registration is read as ListSites reads it.
  entry.set_log_index(site_at_);
  ExpectRefused(reads_.GetRegistryEntry(*snapshot_, other(), entry),
                absl::StatusCode::kPermissionDenied,
                absl::StrCat("log_index: entry ", site_at_, " registers a site"));
  for (const v1::Actor* may : {&acme(), &admin()}) {
    absl::StatusOr<v1::RegistryEntry> read = reads_.GetRegistryEntry(*snapshot_, *may, entry);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->entry(), *snapshot_->Entry(site_at_));
  }

  v1::ListBlacklistRequest blacklist;
  blacklist.set_page_size(-1);
  ExpectRefused(reads_.ListBlacklist(*snapshot_, blacklist), absl::StatusCode::kInvalidArgument,
                "page_size: ");
  blacklist.set_page_size(0);
  absl::StatusOr<v1::ListBlacklistResponse> none = reads_.ListBlacklist(*snapshot_, blacklist);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->entries_size(), 0);
  EXPECT_EQ(none->log_size(), snapshot_->size());

  v1::FindCatalogueEntriesRequest catalogue;
  catalogue.set_cas("67-56-2");  // a bad check digit
  ExpectRefused(reads_.FindCatalogueEntries(*snapshot_, catalogue),
                absl::StatusCode::kInvalidArgument, "cas");
  catalogue.set_cas("67-56-1");
  absl::StatusOr<v1::FindCatalogueEntriesResponse> methanol =
      reads_.FindCatalogueEntries(*snapshot_, catalogue);
  ASSERT_TRUE(methanol.ok()) << methanol.status();
  EXPECT_EQ(methanol->rows_size(), 1);

  // Statement texts: the compiled-in ones here (no version imported; the
  // imported ones in reference_e2e_test).
  v1::GetStatementTextsRequest statements;
  statements.add_codes("H225");
  statements.add_codes("P301+P310");
  absl::StatusOr<v1::GetStatementTextsResponse> texts =
      reads_.GetStatementTexts(*snapshot_, statements);
  ASSERT_TRUE(texts.ok()) << texts.status();
  ASSERT_EQ(texts->texts_size(), 2);
  EXPECT_EQ(texts->texts(0).code(), "H225");
  EXPECT_EQ(texts->texts(0).text_zh(),
            *reference::ShippedReferenceTables().StatementText("H225",
                                                               reference::Language::kChinese));
  EXPECT_FALSE(texts->texts(0).text_en().empty());
  EXPECT_FALSE(texts->texts(1).text_en().empty());  // its parts' texts joined
  EXPECT_TRUE(texts->statements_version().empty());
  EXPECT_EQ(texts->log_size(), snapshot_->size());
  statements.add_codes("X225");
  ExpectRefused(reads_.GetStatementTexts(*snapshot_, statements),
                absl::StatusCode::kInvalidArgument, "codes[2]: 'X225' is not a GHS statement code");
  statements.clear_codes();
  for (int i = 0; i <= kMaxStatementCodesAsked; ++i) statements.add_codes("P210");
  ExpectRefused(reads_.GetStatementTexts(*snapshot_, statements),
                absl::StatusCode::kInvalidArgument, "codes: 101 asked for; at most 100");

  v1::GetParkRequest park;
  park.set_park_id("nowhere");
  ExpectRefused(reads_.GetPark(*snapshot_, park), absl::StatusCode::kNotFound,
                "park_id: 'nowhere' is not registered");

  v1::GetProductRequest product;
  product.set_enterprise_uscc(kAcme);
  product.set_product_number("M01");
  ExpectRefused(reads_.GetProduct(*snapshot_, other(), product), absl::StatusCode::kNotFound,
                "product_number: 'M01' is not a registered product of '91350100M000100Y43'");
  v1::ListProductsRequest products;
  products.set_enterprise_uscc(kAcme);
  absl::StatusOr<v1::ListProductsResponse> listed =
      reads_.ListProducts(*snapshot_, other(), products);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->products_size(), 0);
}

}  // namespace
}  // namespace chemledger::registry
