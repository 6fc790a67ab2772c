#include "services/audit/query_bundle.h"

#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "api/china_time.h"
#include "services/ledger/lifecycle_testing.h"

namespace chemledger::audit {
namespace {

using namespace ledger::lifecycle_testing;  // NOLINT: the fixture and its parties

class QueryBundleTest : public LifecycleFixture {
 protected:
  QueryBundleTest()
      : signer_(*crypto::NoteSigner::Create("audit.test/log", crypto::SigningKey::Generate())) {}

  // Codes 1..4 commissioned, stored and partly used by the producer; code
  // 1 shipped to and received by the warehouse.
  void MakeEvents() {
    Commission({1, 2, 3, 4});
    for (int c : {1, 2, 3, 4}) Ok(producer_, Event(v1::STORING, kProducer, {Code(c)}));
    v1::Event use = Event(v1::CONSUMING, kProducer, {Code(2)});
    use.set_quantity_milli(1000);
    Ok(producer_, use);
    Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  }

  // The bundle file for `query`, exported for `reader`.
  absl::StatusOr<std::string> Export(const v1::Actor& reader, const v1::EventQuery& query,
                                     std::vector<v1::QueryBundlePart>* parts = nullptr,
                                     bool with_reconciliation = false) {
    v1::ExportEventsRequest request;
    *request.mutable_query() = query;
    request.set_with_reconciliation(with_reconciliation);
    std::string file;
    absl::Status s = ExportQueryBundle(*t_->snapshot(), reader, *notary_, api::TodayInChina(),
                                       request, [&](const v1::QueryBundlePart& part) {
                                         file += FramedPart(part.SerializeAsString());
                                         if (parts != nullptr) parts->push_back(part);
                                         return true;
                                       });
    if (!s.ok()) return s;
    return file;
  }

  absl::StatusOr<VerifiedQuery> Verify(const std::string& file,
                                       std::vector<uint64_t>* seen = nullptr) {
    QueryBundleVerifier verifier(signer_.verifier(), std::nullopt,
                                 [&](uint64_t index, const std::string&) {
                                   if (seen != nullptr) seen->push_back(index);
                                 });
    std::istringstream in(file);
    while (true) {
      absl::StatusOr<std::optional<std::string>> part = ReadFramedPart(in);
      if (!part.ok()) return part.status();
      if (!*part) break;
      if (absl::Status s = verifier.Add(**part); !s.ok()) return s;
    }
    return verifier.Finish();
  }

  crypto::NoteSigner signer_;
  const std::unique_ptr<notary::LedgerNotary> notary_ = notary::NewLocalNotary(&signer_);
};

TEST_F(QueryBundleTest, AQuerysEventsVerifyOfflineAndNoByteOfTheBundleCanChange) {
  MakeEvents();
  v1::EventQuery query;
  query.set_enterprise_uscc(kProducer);
  std::vector<v1::QueryBundlePart> parts;
  absl::StatusOr<std::string> file = Export(ActorOf(regulator_), query, &parts);
  ASSERT_TRUE(file.ok()) << file.status();
  // Header, the producer's operator's registration chain, the events, the
  // trailer.
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_TRUE(parts[0].has_header());
  EXPECT_TRUE(parts[1].has_registrations());
  EXPECT_TRUE(parts[2].has_events());
  EXPECT_TRUE(parts[3].has_trailer());
  // The commissioning, four storings, the use and the shipment: 7 events by
  // the producer; proofs share their nodes.
  EXPECT_EQ(parts[2].events().entries_size(), 7);
  size_t proof_hashes = 0;
  for (const auto& e : parts[2].events().entries()) proof_hashes += e.inclusion_proof_size();
  EXPECT_LT(static_cast<size_t>(parts[2].events().nodes_size()), proof_hashes);

  std::vector<uint64_t> seen;
  absl::StatusOr<VerifiedQuery> verified = Verify(*file, &seen);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->events, 7u);
  EXPECT_EQ(verified->signers, 1u);
  EXPECT_EQ(verified->query.enterprise_uscc(), kProducer);
  EXPECT_EQ(seen.size(), 7u);

  // Every single byte flipped: the bundle no longer verifies.
  google::protobuf::LogSilencer quiet;
  int still_good = 0;
  for (size_t i = 0; i < file->size(); ++i) {
    for (unsigned char flip : {0x01, 0x80}) {
      std::string changed = *file;
      changed[i] = static_cast<char>(changed[i] ^ flip);
      if (Verify(changed).ok()) {
        ++still_good;
        ADD_FAILURE() << "byte " << i << " ^ " << int{flip} << " still verifies";
      }
    }
  }
  EXPECT_EQ(still_good, 0) << "of " << file->size() << " bytes";
  // Cut short anywhere: refused.
  for (size_t cut : {file->size() - 1, file->size() / 2, size_t{3}}) {
    EXPECT_FALSE(Verify(file->substr(0, cut)).ok()) << cut;
  }
}

TEST_F(QueryBundleTest, WhatTheVerifierRefusesNamesThePartAndField) {
  MakeEvents();
  v1::EventQuery query;
  query.set_step(v1::STORING);
  std::vector<v1::QueryBundlePart> parts;
  ASSERT_TRUE(Export(ActorOf(regulator_), query, &parts).ok());
  const auto file_of = [](const std::vector<v1::QueryBundlePart>& ps) {
    std::string f;
    for (const auto& p : ps) f += FramedPart(p.SerializeAsString());
    return f;
  };
  ASSERT_TRUE(Verify(file_of(parts)).ok());
  const auto refused = [&](const std::vector<v1::QueryBundlePart>& ps, const std::string& what) {
    absl::StatusOr<VerifiedQuery> v = Verify(file_of(ps));
    ASSERT_FALSE(v.ok()) << "verified; expected a refusal naming " << what;
    EXPECT_NE(v.status().message().find(what), std::string::npos) << what << " :: " << v.status();
  };
  // The header's query claims another step: the events say otherwise (the
  // digest is recomputed by whoever changed it, so the events must show it).
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    ps[0].mutable_header()->mutable_query()->set_step(v1::SHIPPING);
    refused(ps, "the event does not match the query's step");
  }
  // An event dropped: the trailer's count and digest no longer hold.
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    ps[2].mutable_events()->mutable_entries()->DeleteSubrange(1, 1);
    refused(ps, "part 3.trailer");
  }
  // Events in another order.
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    ps[2].mutable_events()->mutable_entries()->SwapElements(0, 1);
    refused(ps, "not in the query's order");
  }
  // The registrations left out: the events' keys are unknown.
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    ps.erase(ps.begin() + 1);
    refused(ps, "part 1.events.entries[0].envelope");
  }
  // No trailer.
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    ps.pop_back();
    refused(ps, "ends before its trailer");
  }
  // Another log's key.
  {
    const crypto::NoteSigner other =
        *crypto::NoteSigner::Create("audit.test/log", crypto::SigningKey::Generate());
    QueryBundleVerifier verifier(other.verifier(), std::nullopt);
    absl::Status s = verifier.Add(parts[0].SerializeAsString());
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("part 0.header.checkpoint.signed_note"), std::string::npos) << s;
  }
}

TEST_F(QueryBundleTest, AReconciliationInTheBundleIsReAddedOffline) {
  MakeEvents();
  v1::EventQuery query;
  query.set_enterprise_uscc(kProducer);
  std::vector<v1::QueryBundlePart> parts;
  absl::StatusOr<std::string> file = Export(ActorOf(regulator_), query, &parts, true);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(parts[parts.size() - 2].has_reconciliation());
  absl::StatusOr<VerifiedQuery> verified = Verify(*file);
  ASSERT_TRUE(verified.ok()) << verified.status();
  ASSERT_TRUE(verified->reconciled);
  // The producer made 4 drums of 25 kg, used 1 kg and shipped one: 74 kg
  // left... of which 24 kg in the used drum and 50 kg in two full ones.
  ASSERT_EQ(verified->reconciliation.totals_size(), 1);
  const v1::QuantityFigures& total = verified->reconciliation.totals(0).figures();
  EXPECT_EQ(total.produced_milli(), 100000u);
  EXPECT_EQ(total.consumed_milli(), 1000u);
  EXPECT_EQ(total.shipped_milli(), 25000u);
  EXPECT_EQ(total.closing_stock_milli(), 74000u);

  const auto file_of = [](const std::vector<v1::QueryBundlePart>& ps) {
    std::string f;
    for (const auto& p : ps) f += FramedPart(p.SerializeAsString());
    return f;
  };
  const size_t r = parts.size() - 2;
  // A figure changed: its balance no longer adds up (whoever changed it
  // recomputed the digest).
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    ps[r].mutable_reconciliation()->mutable_rows(0)->mutable_figures()->set_consumed_milli(0);
    absl::StatusOr<VerifiedQuery> v = Verify(file_of(ps));
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find("reconciliation.rows[0]: stock_difference_milli is 0; "
                                        "the figures add up to 1000"),
              std::string::npos)
        << v.status();
  }
  // A balance and a figure changed together: the total no longer adds up.
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    v1::QuantityFigures* f = ps[r].mutable_reconciliation()->mutable_rows(0)->mutable_figures();
    f->set_consumed_milli(0);
    f->set_closing_stock_milli(75000);
    absl::StatusOr<VerifiedQuery> v = Verify(file_of(ps));
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find("reconciliation.totals[0]: column consumed_milli is 1000"),
              std::string::npos)
        << v.status();
  }
  // Another enterprise's reconciliation in this query's bundle.
  {
    std::vector<v1::QueryBundlePart> ps = parts;
    ps[r].mutable_reconciliation()->mutable_request()->set_enterprise_uscc(kWarehouse);
    absl::StatusOr<VerifiedQuery> v = Verify(file_of(ps));
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find("is not the goods, place and period of the bundle's query"),
              std::string::npos)
        << v.status();
  }
  // A reconciliation counts every movement: not of one step.
  query.set_step(v1::STORING);
  absl::StatusOr<std::string> refused = Export(ActorOf(regulator_), query, nullptr, true);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("with_reconciliation: "), std::string::npos);
}

TEST_F(QueryBundleTest, OnlyReadersOfWholeEventsInTheirJurisdictionExport) {
  MakeEvents();
  v1::EventQuery query;
  // An enterprise's operator is no regulator.
  EXPECT_EQ(Export(ActorOf(producer_), query).status().code(), absl::StatusCode::kPermissionDenied);
  // 交通运输 does not read packages whole.
  v1::Actor transport = ActorOf(regulator_);
  transport.set_department(v1::TRANSPORT);
  EXPECT_EQ(Export(transport, query).status().code(), absl::StatusCode::kPermissionDenied);
  // A malformed query names its field.
  query.set_waybill_number("YD-1");
  absl::StatusOr<std::string> bad = Export(ActorOf(regulator_), query);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("waybill_carrier_uscc"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace chemledger::audit
