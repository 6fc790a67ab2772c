// End to end, the ledger: a real chemledgerd per test (init, then serve on
// loopback; tests/e2e_server.h), real gRPC calls, real LevelDB on disk. A
// batch lives its life (commission, store, consume, split, pack, unpack,
// dispose) and every event's chain and inclusion in a signed checkpoint
// verify client-side; event reads are refused to outsiders; a stream of
// event batches; 8 concurrent writers lose and duplicate nothing; the log
// only grows (consistency proof); a freshly restarted server answers 300
// concurrent reads.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/registry/registry_testing.h"
#include "tests/e2e_server.h"

namespace chemledger {
namespace {

class LedgerE2eTest : public testing::ChemledgerdE2eTest {};

// The lifecycle over gRPC: one enterprise that produces, uses and disposes
// (shipping waits for the e-waybill service) takes a batch through
// commission, store, consume, split, pack, unpack and dispose; every code's
// chain and every event's inclusion in a signed checkpoint verify client-side.
TEST_F(LedgerE2eTest, ABatchLivesItsLifeAndEveryEventProvesIntoACheckpoint) {
  // The regulator and Other read below.
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  const std::string plant = registry::testing::ExampleUscc("350300");
  const crypto::SigningKey plant_admin = crypto::SigningKey::Generate();
  {
    v1::Enterprise e = registry::testing::ExampleProducer(plant);
    e.add_roles(v1::USER);
    e.add_roles(v1::DISPOSER);
    v1::Licence* waste = e.add_licences();
    *waste = e.licences(0);
    waste->set_type(v1::HAZARDOUS_WASTE);
    waste->set_number("闽危废经字[2024]001");
    v1::RegistryRequest r;
    *r.mutable_register_enterprise() = e;
    SubmitOk(*admin_, r);
    SubmitOk(*admin_, Actor("plant admin", v1::ENTERPRISE_ADMIN, plant, plant_admin));
    SubmitOk(plant_admin, Product(registry::testing::ExampleMethanol(plant, "M01")));
  }
  v1::IssueLabelsRequest issue;
  issue.set_request_id("plant-issue");
  issue.set_enterprise_uscc(plant);
  issue.set_product_number("M01");
  issue.set_batch("L1");
  *issue.mutable_production_date() = Today();
  issue.set_package_count(20);
  issue.set_net_quantity("200");
  issue.set_unit("LTR");
  Issued issued =
      Issue(*envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), plant_admin),
            &plant_admin);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const auto code = [&](int serial) { return issued.labels[serial - 1].code(); };

  int next = 0;
  absl::Time clock = absl::Now() - absl::Minutes(30);
  const auto event = [&](v1::BusinessStep step, std::vector<std::string> codes) {
    v1::Event e;
    e.set_event_id(absl::StrCat("plant-ev-", ++next));
    e.set_step(step);
    for (auto& c : codes) e.add_codes(c);
    clock += absl::Seconds(1);
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(clock));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(plant);
    e.mutable_location()->set_site("plant 1");
    return e;
  };
  std::vector<uint64_t> indexes;
  const auto append = [&](const v1::Event& e) {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status status = ledger_->Append(
        &context, *envelope::Sign(api::kEventContext, e.SerializeAsString(), plant_admin),
        &response);
    EXPECT_TRUE(status.ok()) << v1::BusinessStep_Name(e.step()) << ": " << status.error_message();
    indexes.push_back(response.log_index());
  };
  append(event(v1::COMMISSIONING, {code(1), code(2), code(3), code(4)}));
  append(event(v1::STORING, {code(1), code(2), code(3), code(4)}));
  v1::Event use = event(v1::CONSUMING, {code(1)});
  use.set_quantity_milli(50000);
  append(use);
  v1::Event split = event(v1::REPACKAGING, {code(2)});
  split.set_quantity_milli(200000);
  split.add_outputs()->set_code(code(11));
  split.mutable_outputs(0)->set_quantity_milli(100000);
  split.add_outputs()->set_code(code(12));
  split.mutable_outputs(1)->set_quantity_milli(99000);
  split.set_declared_loss_milli(1000);
  append(split);
  const std::string pallet = plant + ".LU.PAL1";
  v1::Event pack = event(v1::PACKING, {code(3), code(11)});
  pack.set_parent_code(pallet);
  append(pack);
  v1::Event unpack = event(v1::UNPACKING, {code(3), code(11)});
  unpack.set_parent_code(pallet);
  append(unpack);
  v1::Event destroy = event(v1::DESTROYING, {code(3)});
  destroy.set_manifest_id("3503002026000007");
  append(destroy);

  // A refused event (consuming more than is left) changes nothing.
  const uint64_t size_before = LogSize();
  v1::Event too_much = event(v1::CONSUMING, {code(1)});
  too_much.set_quantity_milli(150001);
  {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status status = ledger_->Append(
        &context, *envelope::Sign(api::kEventContext, too_much.SerializeAsString(), plant_admin),
        &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(status.error_message().find("event.quantity_milli"), std::string::npos);
  }
  EXPECT_EQ(LogSize(), size_before);

  // The checkpoint, verified with the key pinned at init.
  absl::StatusOr<crypto::Checkpoint> opened = VerifiedCheckpoint();
  ASSERT_TRUE(opened.ok()) << opened.status();

  // Each code's history chains, and each event proves into the checkpoint.
  for (int serial : {1, 2, 3, 11, 12}) {
    v1::History history;
    grpc::Status status = GetHistory(plant_admin, code(serial), &history);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectHistoryVerifies(code(serial), history, *opened);
  }
  // A history a page at a time: the same events, in order, two per page.
  {
    v1::History whole;
    ASSERT_TRUE(GetHistory(plant_admin, code(3), &whole).ok());
    ASSERT_GE(whole.events_size(), 4);
    EXPECT_TRUE(whole.next_page_token().empty());
    std::vector<uint64_t> paged;
    std::string token;
    for (int pages = 0; pages < 10; ++pages) {
      v1::GetHistoryRequest request;
      request.set_code(code(3));
      request.set_page_size(2);
      request.set_page_token(token);
      v1::History page;
      ASSERT_TRUE(Read(plant_admin, api::kGetHistoryMethod, request, &page).ok());
      EXPECT_LE(page.events_size(), 2);
      for (const v1::EventRecord& e : page.events()) paged.push_back(e.log_index());
      token = page.next_page_token();
      if (token.empty()) break;
    }
    std::vector<uint64_t> all;
    for (const v1::EventRecord& e : whole.events()) all.push_back(e.log_index());
    EXPECT_EQ(paged, all);
    v1::GetHistoryRequest too_big;
    too_big.set_code(code(3));
    too_big.set_page_size(100000);
    v1::History ignored;
    EXPECT_EQ(Read(plant_admin, api::kGetHistoryMethod, too_big, &ignored).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  v1::History history;
  ASSERT_TRUE(GetHistory(*regulator_, code(1), &history).ok());
  EXPECT_EQ(history.remaining_milli(), 150000u);
  EXPECT_EQ(history.events_size(), 3);
  // Another enterprise that never held the package may not read it.
  EXPECT_EQ(GetHistory(*other_admin_, code(1), &history).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // GetEvent: the recording enterprise and regulators read it; others learn
  // nothing, not even whether an id exists. Event ids are unique per
  // recording enterprise, which a reader names (its own by default).
  {
    const auto get_event = [&](const crypto::SigningKey& key, const std::string& enterprise,
                               const std::string& id, v1::EventRecord* record) {
      v1::GetEventRequest request;
      request.set_event_id(id);
      request.set_enterprise_uscc(enterprise);
      return Read(key, api::kGetEventMethod, request, record);
    };
    v1::EventRecord record;
    grpc::Status status = get_event(plant_admin, "", destroy.event_id(), &record);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(record.entry().envelope().payload(), destroy.SerializeAsString());
    EXPECT_TRUE(get_event(*regulator_, plant, destroy.event_id(), &record).ok());
    EXPECT_EQ(get_event(*regulator_, "", destroy.event_id(), &record).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << "a regulator names the recording enterprise";
    EXPECT_EQ(get_event(*other_admin_, plant, destroy.event_id(), &record).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(get_event(*other_admin_, "", destroy.event_id(), &record).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(get_event(*other_admin_, plant, "no-such-event", &record).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(get_event(*regulator_, plant, "no-such-event", &record).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  // A stream of batches: each batch one durable write, one result per event.
  {
    grpc::ClientContext context;
    AttachStreamCredentials(&context, api::kAppendBatchesMethod, plant_admin);
    auto stream = ledger_->AppendBatches(&context);
    v1::EventBatch batch;
    *batch.add_events() = *envelope::Sign(api::kEventContext,
                                          event(v1::STORING, {code(4)}).SerializeAsString(), plant_admin);
    v1::Event over = event(v1::CONSUMING, {code(4)});
    over.set_quantity_milli(200001);
    *batch.add_events() = *envelope::Sign(api::kEventContext, over.SerializeAsString(), plant_admin);
    v1::Event ok_use = event(v1::CONSUMING, {code(4)});
    ok_use.set_quantity_milli(200000);
    *batch.add_events() = *envelope::Sign(api::kEventContext, ok_use.SerializeAsString(), plant_admin);
    const uint64_t before = LogSize();
    ASSERT_TRUE(stream->Write(batch));
    v1::EventBatchResult result;
    ASSERT_TRUE(stream->Read(&result));
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
    ASSERT_EQ(result.results_size(), 3);
    EXPECT_EQ(result.results(0).code(), 0) << result.results(0).message();
    EXPECT_EQ(result.results(1).code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
    EXPECT_NE(result.results(1).message().find("event.quantity_milli"), std::string::npos);
    EXPECT_EQ(result.results(2).code(), 0) << result.results(2).message();
    EXPECT_EQ(result.results(2).receipt().log_index(), result.results(0).receipt().log_index() + 1);
    EXPECT_EQ(LogSize(), before + 2);
  }
  // A message of more than 1000 events ends the stream (INVALID_ARGUMENT)
  // once the messages before it are answered.
  {
    grpc::ClientContext context;
    AttachStreamCredentials(&context, api::kAppendBatchesMethod, plant_admin);
    auto stream = ledger_->AppendBatches(&context);
    v1::EventBatch first;
    *first.add_events() = *envelope::Sign(
        api::kEventContext, event(v1::STORING, {code(4)}).SerializeAsString(), plant_admin);
    v1::EventBatch over;
    for (int i = 0; i < 1001; ++i) *over.add_events() = first.events(0);
    ASSERT_TRUE(stream->Write(first));
    ASSERT_TRUE(stream->Write(over));
    stream->WritesDone();
    v1::EventBatchResult result;
    ASSERT_TRUE(stream->Read(&result));
    ASSERT_EQ(result.results_size(), 1);
    // (code 4 was used up above: the first message is answered, refused)
    EXPECT_EQ(result.results(0).code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION))
        << result.results(0).message();
    EXPECT_FALSE(stream->Read(&result));
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("1001 events in one batch; at most 1000"),
              std::string::npos)
        << status.error_message();
  }

  // 8 concurrent clients, each storing its own package 25 times: nothing lost
  // or duplicated, chains intact.
  append(event(v1::COMMISSIONING, {code(13), code(14), code(15), code(16), code(17), code(18),
                                   code(19), code(20)}));
  std::vector<std::vector<v1::SignedEnvelope>> work(8);
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 25; ++i) {
      v1::Event e = event(v1::STORING, {code(13 + t)});
      work[t].push_back(*envelope::Sign(api::kEventContext, e.SerializeAsString(), plant_admin));
    }
  }
  const uint64_t before_threads = LogSize();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (const v1::SignedEnvelope& env : work[t]) {
        grpc::ClientContext context;
        v1::AppendResponse response;
        if (!ledger_->Append(&context, env, &response).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(LogSize(), before_threads + 200);

  // The log only grew: the new checkpoint is consistent with the first one.
  {
    absl::StatusOr<crypto::Checkpoint> second = VerifiedCheckpoint();
    ASSERT_TRUE(second.ok()) << second.status();
    grpc::ClientContext proof_context;
    v1::GetConsistencyProofRequest request;
    request.set_first_size(opened->size);
    request.set_second_size(second->size);
    v1::ConsistencyProof proof;
    ASSERT_TRUE(ledger_->GetConsistencyProof(&proof_context, request, &proof).ok());
    std::vector<crypto::Sha256Digest> hashes;
    for (const std::string& h : proof.hashes()) hashes.push_back(*crypto::Sha256Digest::FromBytes(h));
    EXPECT_TRUE(crypto::VerifyConsistency(opened->size, second->size, opened->root_hash,
                                          second->root_hash, hashes)
                    .ok());
    EXPECT_FALSE(crypto::VerifyConsistency(opened->size, second->size, second->root_hash,
                                           second->root_hash, hashes)
                     .ok());
  }
  for (int t = 0; t < 8; ++t) {
    v1::History h;
    ASSERT_TRUE(GetHistory(plant_admin, code(13 + t), &h).ok());
    EXPECT_EQ(h.events_size(), 26);
    std::string previous;
    for (const v1::EventRecord& record : h.events()) {
      v1::EventLinks links;
      links.ParseFromString(record.entry().assignment());
      bool linked = false;
      for (const auto& link : links.links()) {
        if (link.code() != code(13 + t)) continue;
        linked = true;
        EXPECT_EQ(link.previous_event_hash(), previous);
      }
      EXPECT_TRUE(linked);
      previous = record.event_hash();
    }
  }
}

// A package in many events of a thousand codes each: its history comes in
// pages a gRPC client takes with its default 4 MiB limit, and the pages
// together are every event, in order.
TEST_F(LedgerE2eTest, AHistoryOfLargeEventsComesInPagesAClientReceives) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = IssueM01(kAcme, *acme_admin_, "BIG", api::kMaxCodesPerEvent);
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  std::vector<std::string> codes;
  for (const v1::IssuedLabel& l : issued.labels) codes.push_back(l.code());
  constexpr int kEvents = 24;  // whole, about 220 KB each: over 5 MiB in all
  for (int n = 0; n < kEvents; ++n) {
    v1::Event e = AcmeEvent(n == 0 ? v1::COMMISSIONING : v1::STORING, codes[0], n, "big-");
    for (size_t i = 1; i < codes.size(); ++i) e.add_codes(codes[i]);
    grpc::Status s = AppendEvent(*acme_admin_, e);
    ASSERT_TRUE(s.ok()) << n << ": " << s.error_message();
  }
  std::vector<uint64_t> paged;
  std::string token;
  int pages = 0;
  for (; pages < kEvents; ++pages) {
    v1::GetHistoryRequest request;
    request.set_code(codes[500]);
    request.set_page_token(token);
    v1::History page;
    grpc::Status s = Read(*acme_admin_, api::kGetHistoryMethod, request, &page);
    ASSERT_TRUE(s.ok()) << "page " << pages << ": " << s.error_message();
    EXPECT_LT(page.ByteSizeLong(), size_t{4} << 20);
    ASSERT_GT(page.events_size(), 0);
    for (const v1::EventRecord& e : page.events()) paged.push_back(e.log_index());
    token = page.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_GE(pages, 1) << "all the events fitted in one page: the test no longer tests the bound";
  ASSERT_EQ(paged.size(), static_cast<size_t>(kEvents));
  EXPECT_TRUE(std::is_sorted(paged.begin(), paged.end()));
}

// A freshly started server holds hundreds of calls in flight at once: each
// waits its turn (none is refused with RESOURCE_EXHAUSTED), and every read
// says the log size it was served at.
TEST_F(LedgerE2eTest, HundredsOfConcurrentReadsAllGetAnswers) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  // A fresh server, as a client after a restart meets it.
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Issued issued = Issue(IssueRequest("CONC", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string code = issued.labels[0].code();
  v1::Event commission;
  commission.set_event_id("concurrent-reads-commission");
  commission.set_step(v1::COMMISSIONING);
  commission.add_codes(code);
  commission.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  commission.set_event_time_offset_minutes(480);
  commission.mutable_location()->set_enterprise_uscc(kAcme);
  commission.mutable_location()->set_site("plant");
  ASSERT_TRUE(AppendEvent(*acme_operator_, commission).ok());

  constexpr int kCalls = 300;
  std::vector<std::thread> readers;
  std::atomic<int> answered{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  for (int i = 0; i < kCalls; ++i) {
    readers.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::GetHistoryRequest request;
      request.set_code(code);
      v1::History history;
      grpc::Status status = Read(*regulator_, api::kGetHistoryMethod, request, &history, &context);
      const auto size = context.GetServerInitialMetadata().find("chemledger-log-size");
      if (status.ok() && history.events_size() == 1 && history.log_size() > 0 &&
          size != context.GetServerInitialMetadata().end() &&
          std::string(size->second.data(), size->second.size()) ==
              std::to_string(history.log_size())) {
        ++answered;
      } else {
        std::lock_guard<std::mutex> lock(failures_mu);
        failures.push_back(absl::StrCat(status.error_code(), " ", status.error_message()));
      }
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(answered.load(), kCalls) << failures.size() << " failed, first: "
                                     << (failures.empty() ? "" : failures[0]);
}

// A fault of the server (here a state record damaged on disk behind its
// back) reaches the client as DATA_LOSS with a reference into the server's
// log, not as the store's own words (the record's key, the code's state).
TEST_F(LedgerE2eTest, AServerFaultReachesTheClientAsItsCodeAndAReferenceOnly) {
  if (ClusterShape()) GTEST_SKIP() << "damages chemledgerd's own store";
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  Issued issued = Issue(IssueRequest("FAULT", 2, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  const std::string damaged = issued.labels[0].code();
  const std::string sound = issued.labels[1].code();
  ASSERT_TRUE(
      AppendEvent(*acme_operator_, AcmeEvent(v1::COMMISSIONING, damaged, 1, "fault-")).ok());
  ASSERT_TRUE(AppendEvent(*acme_operator_, AcmeEvent(v1::COMMISSIONING, sound, 2, "fault-")).ok());
  ASSERT_NO_FATAL_FAILURE(KillServer());
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_ + "/data/log", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    const std::string key = "sl/code/" + damaged;
    std::string value;
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), key, &value).ok()) << key;
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, "\xff\xff\xff not a record").ok());
  }
  ASSERT_NO_FATAL_FAILURE(StartServer());

  v1::History history;
  const grpc::Status status = GetHistory(*acme_admin_, damaged, &history);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
  EXPECT_TRUE(absl::StartsWith(status.error_message(),
                               "the server failed (DATA_LOSS); its log has the cause under "
                               "reference "))
      << status.error_message();
  EXPECT_FALSE(absl::StrContains(status.error_message(), damaged)) << status.error_message();
  EXPECT_FALSE(absl::StrContains(status.error_message(), "malformed")) << status.error_message();
  // The rest of the ledger still answers.
  EXPECT_TRUE(GetHistory(*acme_admin_, sound, &history).ok());
  EXPECT_EQ(history.events_size(), 1);
}

}  // namespace
}  // namespace chemledger
