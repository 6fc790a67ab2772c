#include "journal/journal.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "storage/fault_injection_env.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::journal {
namespace {

constexpr char kTransfer[] = "application/vnd.test.transfer";

// A toy bank: payload "id|account|delta". Balances never go below zero; a
// transfer moves at most 100 under rules epoch 0 and at most 75 from epoch 1.
// The assignment is the balance after it.
class Bank final : public StateMachine {
 public:
  absl::string_view name() const override { return "bank"; }
  // The toy bank's request ids are one namespace for everybody.
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope&,
                                           const storage::StateReader&) const override {
    return std::string();
  }
  std::vector<std::string> OwnedPayloadTypes() const override { return {kTransfer}; }
  absl::StatusOr<std::optional<RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override {
    std::vector<std::string> parts = absl::StrSplit(envelope.payload(), '|');
    if (parts.size() != 3) return absl::InvalidArgumentError("transfer: malformed");
    if (parts[0].empty()) return std::nullopt;
    return RequestId{absl::StrCat("t/", parts[0]), "transfer.id", parts[0]};
  }
  absl::Status Apply(const EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override {
    if (entry.envelope->payload_type() != kTransfer) return absl::OkStatus();
    std::vector<std::string> parts = absl::StrSplit(entry.envelope->payload(), '|');
    int64_t delta = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[2], &delta)) {
      return absl::InvalidArgumentError("transfer: malformed");
    }
    const int64_t limit = entry.rules_epoch >= 1 ? 75 : 100;
    if (delta > limit || -delta > limit) {
      return absl::FailedPreconditionError(absl::StrCat("transfer.delta: over ", limit));
    }
    absl::StatusOr<std::optional<std::string>> balance = state.Get("bank/" + parts[1]);
    if (!balance.ok()) return balance.status();
    int64_t b = 0;
    if (*balance && !absl::SimpleAtoi(**balance, &b)) return absl::DataLossError("balance");
    if (b + delta < 0) {
      return absl::FailedPreconditionError(absl::StrCat("transfer.delta: overdraft of ", parts[1]));
    }
    changes->Put("bank/" + parts[1], absl::StrCat(b + delta));
    *entry.assignment = absl::StrCat(b + delta);
    return absl::OkStatus();
  }
};

// Counts transfers per account, and sees the bank's change of the same entry.
class Counter final : public StateMachine {
 public:
  absl::string_view name() const override { return "counter"; }
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope&,
                                           const storage::StateReader&) const override {
    return std::string();
  }
  absl::Status Apply(const EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override {
    if (entry.envelope->payload_type() != kTransfer) return absl::OkStatus();
    std::vector<std::string> parts = absl::StrSplit(entry.envelope->payload(), '|');
    absl::StatusOr<std::optional<std::string>> balance = state.Get("bank/" + parts[1]);
    if (!balance.ok()) return balance.status();
    if (*balance != *entry.assignment) {
      return absl::InternalError("counter: the bank's change of this entry is not visible");
    }
    absl::StatusOr<std::optional<std::string>> count = state.Get("count/" + parts[1]);
    if (!count.ok()) return count.status();
    int64_t n = 0;
    if (*count && !absl::SimpleAtoi(**count, &n)) return absl::DataLossError("count");
    changes->Put("count/" + parts[1], absl::StrCat(n + 1));
    return absl::OkStatus();
  }
};

// Keeps a large record (1 MiB) for each transfer to the account "ballast",
// as a reference-table import keeps its table.
class Ballast final : public StateMachine {
 public:
  static constexpr size_t kRecordBytes = 1 << 20;
  absl::string_view name() const override { return "ballast"; }
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope&,
                                           const storage::StateReader&) const override {
    return std::string();
  }
  absl::Status Apply(const EntryContext& entry, const storage::StateReader&,
                     storage::StateWrites* changes) const override {
    if (entry.envelope->payload_type() != kTransfer) return absl::OkStatus();
    std::vector<std::string> parts = absl::StrSplit(entry.envelope->payload(), '|');
    if (parts.size() == 3 && parts[1] == "ballast") {
      changes->Put(absl::StrCat("ballast/", entry.index),
                   std::string(kRecordBytes, static_cast<char>('a' + entry.index % 26)));
    }
    return absl::OkStatus();
  }
};

Request Transfer(const std::string& id, const std::string& account, int64_t delta) {
  Request r;
  r.envelope.set_payload_type(kTransfer);
  r.envelope.set_payload(absl::StrCat(id, "|", account, "|", delta));
  return r;
}

std::string Balance(const storage::StateReader& s, const std::string& account) {
  absl::StatusOr<std::optional<std::string>> v = s.Get("bank/" + account);
  EXPECT_TRUE(v.ok());
  return v.ok() && *v ? **v : "none";
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    OpenStore();
  }

  void OpenStore() {
    journal_.reset();
    store_.reset();
    storage::LevelDbLogOptions options;
    options.env = &env_;
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenLevelDbStore(dir_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  absl::Status OpenJournal(JournalOptions options = {}) {
    journal_.reset();
    absl::StatusOr<std::unique_ptr<Journal>> journal =
        Journal::Open(store_.get(), {&bank_, &counter_}, std::move(options));
    if (!journal.ok()) return journal.status();
    journal_ = *std::move(journal);
    return absl::OkStatus();
  }

  absl::StatusOr<CheckReport> Check() {
    const std::string scratch_dir = testing::FreshTempDir(
        absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), "_scratch"));
    absl::StatusOr<std::unique_ptr<storage::Store>> scratch =
        storage::OpenLevelDbStore(scratch_dir);
    if (!scratch.ok()) return scratch.status();
    return Journal::Check(*store_, {&bank_, &counter_}, scratch->get());
  }

  // Rewrites one raw LevelDB value behind the store's back.
  void Tamper(const std::string& raw_key, const std::string& value) {
    journal_.reset();
    store_.reset();
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_, &raw).ok());
    ASSERT_TRUE(raw->Put(leveldb::WriteOptions(), raw_key, value).ok());
    delete raw;
    OpenStore();
  }

  storage::FaultInjectionEnv env_;
  std::string dir_;
  Bank bank_;
  Counter counter_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Journal> journal_;
};

TEST_F(JournalTest, CommitsEachEntryWithTheStateItImplies) {
  ASSERT_TRUE(OpenJournal().ok());
  absl::StatusOr<Receipt> r = journal_->Submit(Transfer("a", "alice", 70));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->index, 0u);
  EXPECT_FALSE(r->replayed);

  std::shared_ptr<const storage::Snapshot> s = journal_->Snapshot();
  EXPECT_EQ(s->size(), 1u);
  EXPECT_EQ(Balance(*s, "alice"), "70");
  EXPECT_EQ(*s->Get("count/alice"), "1");
  v1::LogEntry entry;
  ASSERT_TRUE(entry.ParseFromString(*s->Entry(0)));
  EXPECT_EQ(entry.envelope().payload(), "a|alice|70");
  EXPECT_EQ(entry.assignment(), "70");
  EXPECT_EQ(entry.rules_epoch(), kCurrentRulesEpoch);
  EXPECT_GT(entry.record_time().seconds(), 0);
  EXPECT_EQ(*s->LeafHash(0), r->leaf_hash);
  EXPECT_EQ(store_->StateAppliedSize(), 1u);
}

TEST_F(JournalTest, ARefusedRequestChangesNothingAndTheOthersGoOn) {
  ASSERT_TRUE(OpenJournal().ok());
  std::vector<Request> requests;
  requests.push_back(Transfer("", "bob", 40));
  requests.push_back(Transfer("", "bob", -50));  // overdraft: refused
  requests.push_back(Transfer("", "bob", -40));  // sees the first
  requests.push_back(Transfer("", "bob", 500));  // over the limit
  std::vector<absl::StatusOr<Receipt>> results = journal_->Submit(std::move(requests));
  ASSERT_EQ(results.size(), 4u);
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(results[1].status().message().find("overdraft of bob"), std::string::npos);
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_EQ(results[2]->index, 1u);
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kFailedPrecondition);
  std::shared_ptr<const storage::Snapshot> s = journal_->Snapshot();
  EXPECT_EQ(s->size(), 2u);
  EXPECT_EQ(Balance(*s, "bob"), "0");
  EXPECT_EQ(*s->Get("count/bob"), "2");

  Request unknown;
  unknown.envelope.set_payload_type("application/vnd.nobody");
  absl::StatusOr<Receipt> refused = journal_->Submit(unknown);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("payload_type"), std::string::npos);
  EXPECT_EQ(journal_->Snapshot()->size(), 2u);
}

TEST_F(JournalTest, ARetryGetsTheFirstReceiptEvenAfterReopening) {
  ASSERT_TRUE(OpenJournal().ok());
  absl::StatusOr<Receipt> first = journal_->Submit(Transfer("t1", "carol", 10));
  ASSERT_TRUE(first.ok());
  // The same request twice in one submission, and again later.
  std::vector<Request> twice;
  twice.push_back(Transfer("t2", "carol", 5));
  twice.push_back(Transfer("t2", "carol", 5));
  std::vector<absl::StatusOr<Receipt>> results = journal_->Submit(std::move(twice));
  ASSERT_TRUE(results[0].ok() && results[1].ok());
  EXPECT_FALSE(results[0]->replayed);
  EXPECT_TRUE(results[1]->replayed);
  EXPECT_EQ(results[1]->index, results[0]->index);
  EXPECT_EQ(results[1]->leaf_hash, results[0]->leaf_hash);

  absl::StatusOr<Receipt> other = journal_->Submit(Transfer("t1", "carol", 11));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists) << other.status();

  OpenStore();
  ASSERT_TRUE(OpenJournal().ok());
  absl::StatusOr<Receipt> again = journal_->Submit(Transfer("t1", "carol", 10));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->index, first->index);
  EXPECT_EQ(again->record_time, first->record_time);
  EXPECT_EQ(Balance(*journal_->Snapshot(), "carol"), "15");
  EXPECT_EQ(journal_->Snapshot()->size(), 2u);
}

TEST_F(JournalTest, ConcurrentSubmissionsAreOrderedAndCheckRebuildsTheSameState) {
  ASSERT_TRUE(OpenJournal().ok());
  constexpr int kThreads = 8;
  constexpr int kEach = 300;
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Each thread moves money in and out of a shared account: the order
        // decides which withdrawals are refused, the balance must agree.
        const int64_t delta = (i % 3 == 2) ? -7 : 5;
        absl::StatusOr<Receipt> r =
            journal_->Submit(Transfer(absl::StrCat(t, "-", i), "shared", delta));
        if (r.ok()) ++accepted;
      }
    });
  }
  for (auto& th : threads) th.join();
  std::shared_ptr<const storage::Snapshot> s = journal_->Snapshot();
  EXPECT_EQ(s->size(), static_cast<uint64_t>(accepted.load()));
  int64_t expected = 0;
  for (uint64_t i = 0; i < s->size(); ++i) {
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*s->Entry(i)));
    std::vector<std::string> parts = absl::StrSplit(entry.envelope().payload(), '|');
    int64_t delta = 0;
    ASSERT_TRUE(absl::SimpleAtoi(parts[2], &delta));
    expected += delta;
    ASSERT_GE(expected, 0);
    ASSERT_EQ(entry.assignment(), absl::StrCat(expected)) << "entry " << i;
  }
  EXPECT_EQ(Balance(*s, "shared"), absl::StrCat(expected));

  journal_.reset();
  absl::StatusOr<CheckReport> report = Check();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, s->size());
  // bank, count, one request key each, the state format
  EXPECT_EQ(report->state_keys, 3u + s->size());
}

TEST_F(JournalTest, ReadsAndTheNextBatchDoNotWaitForAStalledCommit) {
  ASSERT_TRUE(OpenJournal().ok());
  ASSERT_TRUE(journal_->Submit(Transfer("", "dave", 1)).ok());
  env_.HoldSyncs();
  std::thread deposit([&] { EXPECT_TRUE(journal_->Submit(Transfer("", "dave", 60)).ok()); });
  ASSERT_TRUE(env_.WaitForHeldSync(absl::Seconds(10)));
  // The deposit is inside its fsync. Reads answer at once from the last commit.
  std::shared_ptr<const storage::Snapshot> s = journal_->Snapshot();
  EXPECT_EQ(s->size(), 1u);
  EXPECT_EQ(Balance(*s, "dave"), "1");
  // A withdrawal that needs the deposit is checked on its changes meanwhile
  // (it would be refused on the committed state), and waits only for its own
  // durability.
  std::atomic<bool> withdrawn{false};
  std::thread withdraw([&] {
    absl::StatusOr<Receipt> r = journal_->Submit(Transfer("", "dave", -61));
    EXPECT_TRUE(r.ok()) << r.status();
    withdrawn = true;
  });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(withdrawn.load());  // not acknowledged before it is durable
  env_.ReleaseSyncs();
  deposit.join();
  withdraw.join();
  EXPECT_EQ(Balance(*journal_->Snapshot(), "dave"), "0");
  EXPECT_EQ(journal_->Snapshot()->size(), 3u);
}

TEST_F(JournalTest, AFailedCommitMakesTheJournalReadOnlyAndLosesNothingAcknowledged) {
  ASSERT_TRUE(OpenJournal().ok());
  ASSERT_TRUE(journal_->Submit(Transfer("", "erin", 30)).ok());
  env_.FailNextSyncs(1);
  absl::StatusOr<Receipt> failed = journal_->Submit(Transfer("", "erin", 5));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  absl::StatusOr<Receipt> refused = journal_->Submit(Transfer("", "erin", 5));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Balance(*journal_->Snapshot(), "erin"), "30");

  OpenStore();
  ASSERT_TRUE(OpenJournal().ok());
  const std::string balance = Balance(*journal_->Snapshot(), "erin");
  EXPECT_TRUE(balance == "30" || balance == "35") << balance;  // the failed one: whole or absent
  ASSERT_TRUE(journal_->Submit(Transfer("", "erin", 1)).ok());
  journal_.reset();
  absl::StatusOr<CheckReport> report = Check();
  EXPECT_TRUE(report.ok()) << report.status();
}

TEST_F(JournalTest, ALogWithoutStateGetsItsStateBuiltOnceOnOpen) {
  // Entries appended as before stores kept state.
  std::vector<std::string> entries;
  for (int i = 0; i < 2500; ++i) {
    v1::LogEntry entry;
    entry.mutable_record_time()->set_seconds(1700000000 + i);
    *entry.mutable_envelope() = Transfer(absl::StrCat("old", i), "frank", 2).envelope;
    entry.set_assignment(absl::StrCat(2 * (i + 1)));
    entries.push_back(entry.SerializeAsString());
  }
  ASSERT_TRUE(store_->Append(entries).ok());
  EXPECT_EQ(store_->StateAppliedSize(), std::nullopt);

  ASSERT_TRUE(OpenJournal().ok());
  EXPECT_EQ(store_->StateAppliedSize(), 2500u);
  EXPECT_EQ(Balance(*journal_->Snapshot(), "frank"), "5000");
  // The old request ids are known: a retry is answered, not applied again.
  absl::StatusOr<Receipt> retry = journal_->Submit(Transfer("old7", "frank", 2));
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->index, 7u);
  journal_.reset();
  EXPECT_TRUE(Check().ok());
}

TEST_F(JournalTest, AStateOfAnotherFormatIsRebuiltWholeOnOpen) {
  ASSERT_TRUE(OpenJournal().ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(journal_->Submit(Transfer("", "hugo", 3)).ok());
  journal_.reset();
  const uint64_t size = store_->Size();
  // As an older version left it: format 1, and a key today's machines no
  // longer write.
  storage::StateWrites older;
  older.Put(std::string(Journal::kStateFormatKey), "1");
  older.Put("bank/obsolete-index/hugo", "x");
  ASSERT_TRUE(store_->ApplyState(size, older).ok());
  absl::StatusOr<CheckReport> stale = Check();
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();

  ASSERT_TRUE(OpenJournal().ok());
  std::shared_ptr<const storage::Snapshot> s = journal_->Snapshot();
  EXPECT_EQ(*s->Get(Journal::kStateFormatKey), absl::StrCat(Journal::kStateFormat));
  EXPECT_EQ(*s->Get("bank/obsolete-index/hugo"), std::nullopt);
  EXPECT_EQ(Balance(*s, "hugo"), "90");
  EXPECT_EQ(store_->StateAppliedSize(), size);
  // A retry is still known as one.
  journal_.reset();
  absl::StatusOr<CheckReport> report = Check();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, size);
}

// A rebuild cut short (the server killed while it ran) goes on where it
// stopped at the next open, instead of clearing the state again.
TEST_F(JournalTest, ARebuildCutShortGoesOnAtTheNextOpen) {
  ASSERT_TRUE(OpenJournal().ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(journal_->Submit(Transfer("", "ida", 5)).ok());
  journal_.reset();
  const uint64_t size = store_->Size();
  // As a kill left it: cleared, marked as rebuilding, part of the entries
  // built (here none, and a key that a second clearing would remove).
  ASSERT_TRUE(store_->ClearState().ok());
  storage::StateWrites partial;
  partial.Put(std::string(Journal::kStateFormatKey),
              absl::StrCat("rebuilding ", Journal::kStateFormat));
  partial.Put("bank/left-by-the-first-run", "x");
  ASSERT_TRUE(store_->ApplyState(0, partial).ok());
  absl::StatusOr<CheckReport> midway = Check();
  EXPECT_EQ(midway.status().code(), absl::StatusCode::kFailedPrecondition) << midway.status();
  EXPECT_NE(midway.status().message().find("being rebuilt"), std::string::npos)
      << midway.status();

  ASSERT_TRUE(OpenJournal().ok());
  std::shared_ptr<const storage::Snapshot> s = journal_->Snapshot();
  EXPECT_EQ(*s->Get("bank/left-by-the-first-run"), "x") << "the state was cleared again";
  EXPECT_EQ(*s->Get(Journal::kStateFormatKey), absl::StrCat(Journal::kStateFormat));
  EXPECT_EQ(Balance(*s, "ida"), "100");
  EXPECT_EQ(store_->StateAppliedSize(), size);
}

// A rebuild writes the state in chunks of bounded bytes, as commits are
// bounded, not only of bounded counts: 40 entries of 1 MiB of state each are
// more than one chunk.
TEST_F(JournalTest, ARebuildWritesLargeStatesInChunksOfBoundedBytes) {
  Ballast ballast;
  const std::vector<const StateMachine*> machines = {&bank_, &counter_, &ballast};
  {
    absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(store_.get(), machines);
    ASSERT_TRUE(journal.ok()) << journal.status();
    for (int i = 0; i < 40; ++i) ASSERT_TRUE((*journal)->Submit(Transfer("", "ballast", 1)).ok());
  }
  const uint64_t size = store_->Size();
  storage::StateWrites older;
  older.Put(std::string(Journal::kStateFormatKey), "1");
  ASSERT_TRUE(store_->ApplyState(size, older).ok());
  std::vector<uint64_t> chunks_done;
  absl::StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(
      store_.get(), machines, {}, [&](uint64_t done, uint64_t) { chunks_done.push_back(done); });
  ASSERT_TRUE(journal.ok()) << journal.status();
  ASSERT_GE(chunks_done.size(), 2u) << "one write of 40 MiB";
  EXPECT_LT(chunks_done[0], 40u);
  EXPECT_EQ(chunks_done.back(), size);
  std::shared_ptr<const storage::Snapshot> s = (*journal)->Snapshot();
  EXPECT_EQ(Balance(*s, "ballast"), "40");
  absl::StatusOr<std::optional<std::string>> last = s->Get(absl::StrCat("ballast/", size - 1));
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->size(), Ballast::kRecordBytes);
}

// After a power cut tore the tail of LevelDB's write-ahead log, opening the
// store repairs it and clears its state (storage/leveldb_log.h: the repair
// may have dropped a write of state alone, which no check of the log finds);
// the journal rebuilds the state from the checked log, as it was.
TEST_F(JournalTest, AfterATornWriteIsRepairedTheStateIsRebuiltFromTheLog) {
  ASSERT_TRUE(OpenJournal().ok());
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(journal_->Submit(Transfer("", "ola", 4)).ok());
  const uint64_t size = journal_->Snapshot()->size();
  journal_.reset();
  store_.reset();
  std::string newest;
  for (const auto& f : std::filesystem::directory_iterator(dir_)) {
    if (f.path().extension() == ".log" && f.path().string() > newest) newest = f.path().string();
  }
  ASSERT_FALSE(newest.empty());
  {
    // A record header whose checksum does not match, with its payload.
    std::ofstream out(newest, std::ios::app | std::ios::binary);
    out << std::string("\xde\xad\xbe\xef\x0a\x00\x01", 7) << std::string(10, '\x5a');
  }
  OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->Size(), size);
  EXPECT_EQ(store_->StateAppliedSize(), std::nullopt) << "the state was not cleared";
  ASSERT_TRUE(OpenJournal().ok());
  std::shared_ptr<const storage::Snapshot> s = journal_->Snapshot();
  EXPECT_EQ(Balance(*s, "ola"), "100");
  EXPECT_EQ(*s->Get("count/ola"), "25");
  EXPECT_EQ(store_->StateAppliedSize(), size);
  ASSERT_TRUE(journal_->Submit(Transfer("", "ola", 1)).ok());
  journal_.reset();
  absl::StatusOr<CheckReport> report = Check();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, size + 1);
}

// A state written by a newer build is left alone: no downgrade.
TEST_F(JournalTest, AStateOfANewerFormatIsRefused) {
  ASSERT_TRUE(OpenJournal().ok());
  ASSERT_TRUE(journal_->Submit(Transfer("", "jan", 5)).ok());
  journal_.reset();
  storage::StateWrites newer;
  newer.Put(std::string(Journal::kStateFormatKey), absl::StrCat(Journal::kStateFormat + 1));
  ASSERT_TRUE(store_->ApplyState(store_->Size(), newer).ok());
  absl::Status refused = OpenJournal();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_NE(refused.message().find("newer chemledgerd"), std::string::npos) << refused;
  EXPECT_EQ(Balance(*store_->GetSnapshot(), "jan"), "5") << "the state was left alone";
}

TEST_F(JournalTest, EntriesRebuildUnderTheRulesOfTheirOwnEpoch) {
  JournalOptions epoch0;
  epoch0.rules_epoch = 0;
  ASSERT_TRUE(OpenJournal(epoch0).ok());
  ASSERT_TRUE(journal_->Submit(Transfer("", "gina", 80)).ok());  // allowed in epoch 0
  JournalOptions epoch1;
  epoch1.rules_epoch = 1;
  ASSERT_TRUE(OpenJournal(epoch1).ok());
  absl::StatusOr<Receipt> refused = journal_->Submit(Transfer("", "gina", 80));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(journal_->Submit(Transfer("", "gina", 40)).ok());
  journal_.reset();
  absl::StatusOr<CheckReport> report = Check();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries, 2u);

  // A journal never goes back to older rules than the log's latest entry's
  // (unless a test asks to, to write what an older server would have).
  absl::Status back = OpenJournal(epoch0);
  EXPECT_EQ(back.code(), absl::StatusCode::kFailedPrecondition) << back;
  EXPECT_NE(back.message().find("never goes back to older rules"), std::string::npos) << back;
  JournalOptions back_in_a_test = epoch0;
  back_in_a_test.allow_older_rules_epoch = true;
  ASSERT_TRUE(OpenJournal(back_in_a_test).ok());
  journal_.reset();

  // An entry of an epoch newer than this build's rules is not applied.
  JournalOptions future;
  future.rules_epoch = kCurrentRulesEpoch + 1;
  ASSERT_TRUE(OpenJournal(future).ok());
  ASSERT_TRUE(journal_->Submit(Transfer("", "gina", 1)).ok());
  journal_.reset();
  report = Check();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition) << report.status();
  EXPECT_NE(report.status().message().find("newer than this build"), std::string::npos);
}

TEST_F(JournalTest, CheckFindsAStateRowAlteredBehindTheServersBack) {
  ASSERT_TRUE(OpenJournal().ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(journal_->Submit(Transfer("", "hal", 3)).ok());
  Tamper("sbank/hal", "1000000");
  absl::StatusOr<CheckReport> report = Check();
  ASSERT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_NE(report.status().message().find("bank/hal"), std::string::npos) << report.status();
  EXPECT_NE(report.status().message().find("1000000"), std::string::npos);
  EXPECT_NE(report.status().message().find("'60'"), std::string::npos);

  Tamper("sbank/zzz", "5");  // a row the log implies nothing about
  Tamper("sbank/hal", "60");
  report = Check();
  ASSERT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(report.status().message().find("bank/zzz"), std::string::npos) << report.status();
}

TEST_F(JournalTest, OpenAndCheckFindAnEntryWhoseBytesWereChanged) {
  ASSERT_TRUE(OpenJournal().ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(journal_->Submit(Transfer("", "ivy", 3)).ok());
  journal_.reset();
  // Flip the last byte of the last entry's record (its assignment).
  std::string key = "e";
  for (int s = 56; s >= 0; s -= 8) key.push_back(static_cast<char>(uint64_t{19} >> s));
  std::string value;
  {
    store_.reset();
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_, &raw).ok());
    ASSERT_TRUE(raw->Get(leveldb::ReadOptions(), key, &value).ok());
    delete raw;
  }
  value.back() ^= 1;
  Tamper(key, value);
  absl::Status opened = OpenJournal();
  EXPECT_EQ(opened.code(), absl::StatusCode::kDataLoss) << opened;
  EXPECT_NE(opened.message().find("entry 19"), std::string::npos) << opened;
  absl::StatusOr<CheckReport> report = Check();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
}

// Accounts that open and close, in a state the sequencer caches
// (CachedPrefixes): payload "id|who|action", action "open", "close", "use"
// (refused unless who's account is open) or "touch:<other>" (reads other's
// account). Each request's scope reads its sender's account, as the
// registry's scope reads its actor.
constexpr char kAccount[] = "application/vnd.test.account";

class Accounts final : public StateMachine {
 public:
  absl::string_view name() const override { return "accounts"; }
  std::vector<std::string> OwnedPayloadTypes() const override { return {kAccount}; }
  std::vector<std::string> CachedPrefixes() const override { return {"acct/"}; }
  absl::StatusOr<std::optional<RequestId>> RequestKey(
      const v1::SignedEnvelope& envelope) const override {
    std::vector<std::string> parts = absl::StrSplit(envelope.payload(), '|');
    if (parts.size() != 3) return absl::InvalidArgumentError("account: malformed");
    return RequestId{absl::StrCat("a/", parts[0]), "account.id", parts[0]};
  }
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope& envelope,
                                           const storage::StateReader& state) const override {
    std::vector<std::string> parts = absl::StrSplit(envelope.payload(), '|');
    if (parts.size() != 3) return absl::InvalidArgumentError("account: malformed");
    absl::StatusOr<std::optional<std::string>> account = state.Get("acct/" + parts[1]);
    if (!account.ok()) return account.status();
    return std::string();
  }
  absl::Status Apply(const EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override {
    if (entry.envelope->payload_type() != kAccount) return absl::OkStatus();
    applied.fetch_add(1);
    std::vector<std::string> parts = absl::StrSplit(entry.envelope->payload(), '|');
    const std::string& action = parts[2];
    if (action == "open" || action == "close") {
      changes->Put("acct/" + parts[1], action);
      return absl::OkStatus();
    }
    if (absl::StartsWith(action, "touch:")) {
      return state.Get(absl::StrCat("acct/", action.substr(6))).status();
    }
    absl::StatusOr<std::optional<std::string>> account = state.Get("acct/" + parts[1]);
    if (!account.ok()) return account.status();
    if (*account != "open") return absl::FailedPreconditionError("account: not open");
    return absl::OkStatus();
  }
  mutable std::atomic<int> applied{0};
};

Request AccountRequest(const std::string& id, const std::string& who, const std::string& action) {
  Request r;
  r.envelope.set_payload_type(kAccount);
  r.envelope.set_payload(absl::StrCat(id, "|", who, "|", action));
  return r;
}

// What a test watches of the reads of an ObservedStore's snapshots: how
// often `key` was read.
struct ReadsOfKey {
  std::string key;
  std::atomic<int> gets{0};
};

// A store as another one, but whose snapshots may say that reads are round
// trips (as PostgreSQL's do), so that the sequencer looks up each batch's
// request records first, and count the reads of one key.
class ObservedSnapshot final : public storage::Snapshot {
 public:
  ObservedSnapshot(std::shared_ptr<const storage::Snapshot> s, bool prefetches, ReadsOfKey* reads)
      : s_(std::move(s)), prefetches_(prefetches), reads_(reads) {}
  uint64_t size() const override { return s_->size(); }
  absl::StatusOr<std::string> Entry(uint64_t i) const override { return s_->Entry(i); }
  absl::StatusOr<storage::Sha256Digest> LeafHash(uint64_t i) const override {
    return s_->LeafHash(i);
  }
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override {
    if (reads_ != nullptr && key == reads_->key) reads_->gets.fetch_add(1);
    return s_->Get(key);
  }
  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const storage::ScanVisitor& visit) const override {
    return s_->Scan(begin, end, visit);
  }
  const storage::Sha256Digest& root() const override { return s_->root(); }
  absl::StatusOr<storage::Sha256Digest> Root(uint64_t n) const override { return s_->Root(n); }
  absl::StatusOr<std::vector<storage::Sha256Digest>> InclusionProof(uint64_t i,
                                                                    uint64_t n) const override {
    return s_->InclusionProof(i, n);
  }
  absl::StatusOr<std::vector<storage::Sha256Digest>> ConsistencyProof(uint64_t m,
                                                                      uint64_t n) const override {
    return s_->ConsistencyProof(m, n);
  }
  bool Prefetches() const override { return prefetches_; }

 private:
  std::shared_ptr<const storage::Snapshot> s_;
  const bool prefetches_;
  ReadsOfKey* const reads_;
};

class ObservedStore final : public storage::Store {
 public:
  // `reads` (may be null) must outlive the store and its snapshots.
  ObservedStore(storage::Store* s, bool prefetches, ReadsOfKey* reads = nullptr)
      : s_(s), prefetches_(prefetches), reads_(reads) {}
  absl::StatusOr<uint64_t> Append(absl::Span<const std::string> entries) override {
    return s_->Append(entries);
  }
  uint64_t Size() const override { return s_->Size(); }
  absl::StatusOr<std::string> Entry(uint64_t i) const override { return s_->Entry(i); }
  absl::StatusOr<storage::Sha256Digest> LeafHash(uint64_t i) const override {
    return s_->LeafHash(i);
  }
  absl::StatusOr<storage::Sha256Digest> Root(uint64_t n) const override { return s_->Root(n); }
  absl::StatusOr<std::vector<storage::Sha256Digest>> InclusionProof(uint64_t i,
                                                                    uint64_t n) const override {
    return s_->InclusionProof(i, n);
  }
  absl::StatusOr<std::vector<storage::Sha256Digest>> ConsistencyProof(uint64_t m,
                                                                      uint64_t n) const override {
    return s_->ConsistencyProof(m, n);
  }
  absl::StatusOr<storage::IntegrityReport> CheckIntegrity(
      const absl::optional<storage::TreeHead>& trusted) const override {
    return s_->CheckIntegrity(trusted);
  }
  absl::StatusOr<uint64_t> Commit(absl::Span<const std::string> entries,
                                  const storage::StateWrites& state) override {
    return s_->Commit(entries, state);
  }
  std::optional<uint64_t> StateAppliedSize() const override { return s_->StateAppliedSize(); }
  absl::Status ApplyState(uint64_t applied_size, const storage::StateWrites& state) override {
    return s_->ApplyState(applied_size, state);
  }
  absl::Status ClearState() override { return s_->ClearState(); }
  std::shared_ptr<const storage::Snapshot> GetSnapshot() const override {
    return std::make_shared<ObservedSnapshot>(s_->GetSnapshot(), prefetches_, reads_);
  }
  absl::StatusOr<BackupInfo> Backup(const std::string& directory) const override {
    return s_->Backup(directory);
  }

 private:
  storage::Store* s_;
  const bool prefetches_;
  ReadsOfKey* const reads_;
};

// Reads an account's balance twice before the bank changes it, as a
// waybill's rules read each listed code's record twice.
class TwiceReader final : public StateMachine {
 public:
  absl::string_view name() const override { return "twice reader"; }
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope&,
                                           const storage::StateReader&) const override {
    return std::string();
  }
  absl::Status Apply(const EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites*) const override {
    if (entry.envelope->payload_type() != kTransfer) return absl::OkStatus();
    std::vector<std::string> parts = absl::StrSplit(entry.envelope->payload(), '|');
    absl::StatusOr<std::optional<std::string>> first = state.Get("bank/" + parts[1]);
    absl::StatusOr<std::optional<std::string>> second = state.Get("bank/" + parts[1]);
    if (!first.ok() || !second.ok() || *first != *second) {
      return absl::InternalError("twice reader: the two reads differ");
    }
    return absl::OkStatus();
  }
};

// A record read more than once while a batch is checked is read from the
// store once (it comes from the batch's snapshot, which does not change);
// the next batch reads it again and sees what the one before it wrote.
TEST_F(JournalTest, ARecordReadAgainInABatchIsReadFromTheStoreOnce) {
  ReadsOfKey reads;
  reads.key = "bank/alice";
  ObservedStore store(store_.get(), /*prefetches=*/false, &reads);
  TwiceReader twice;
  absl::StatusOr<std::unique_ptr<Journal>> opened =
      Journal::Open(&store, {&twice, &bank_, &counter_}, JournalOptions{});
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Journal> journal = *std::move(opened);
  // Three reads of alice's balance from the committed state (the reader's
  // two and the bank's), one from the store.
  ASSERT_TRUE(journal->Submit(Transfer("a", "alice", 70)).ok());
  EXPECT_EQ(reads.gets.load(), 1);
  absl::StatusOr<Receipt> second = journal->Submit(Transfer("b", "alice", 50));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->index, 1u);
  EXPECT_EQ(reads.gets.load(), 2);
  EXPECT_EQ(Balance(*journal->Snapshot(), "alice"), "120");
}

// A key the sequencer caches, changed by a batch still committing: the
// batches checked meanwhile see the change, and so does every later one,
// even when the cache was emptied (it is full) while the change was not
// yet durable and a look-up ahead of a batch (on a store whose reads are
// round trips) missed it.
TEST_F(JournalTest, ACachedKeyChangedByABatchStillCommittingStaysChanged) {
  Accounts accounts;
  ObservedStore store(store_.get(), /*prefetches=*/true);
  JournalOptions options;
  options.cached_prefix_keys = 2;
  absl::StatusOr<std::unique_ptr<Journal>> opened =
      Journal::Open(&store, {&accounts}, std::move(options));
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Journal> journal = *std::move(opened);
  ASSERT_TRUE(journal->Submit(AccountRequest("1", "alice", "open")).ok());
  ASSERT_TRUE(journal->Submit(AccountRequest("2", "alice", "use")).ok());

  // Alice's account closes in a batch whose commit is held.
  env_.HoldSyncs();
  std::thread close(
      [&] { EXPECT_TRUE(journal->Submit(AccountRequest("3", "alice", "close")).ok()); });
  ASSERT_TRUE(env_.WaitForHeldSync(absl::Seconds(10)));
  // A batch of its own that fills the cache (two keys: bob's, carol's), which
  // empties it ...
  const int applied = accounts.applied.load();
  std::thread touch(
      [&] { EXPECT_TRUE(journal->Submit(AccountRequest("4", "bob", "touch:carol")).ok()); });
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (accounts.applied.load() == applied && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_GT(accounts.applied.load(), applied);
  // ... then alice's use, looked up ahead of its batch: refused, the close
  // is seen.
  std::thread use([&] {
    EXPECT_EQ(journal->Submit(AccountRequest("5", "alice", "use")).status().code(),
              absl::StatusCode::kFailedPrecondition);
  });
  absl::SleepFor(absl::Milliseconds(200));
  env_.ReleaseSyncs();
  close.join();
  touch.join();
  use.join();
  // Everything committed: alice's account is closed for every later batch.
  absl::StatusOr<Receipt> again = journal->Submit(AccountRequest("6", "alice", "use"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition)
      << (again.ok() ? absl::StrCat("accepted at ", again->index) : again.status().ToString());
  journal.reset();
  const std::string scratch_dir = testing::FreshTempDir("cached_key_scratch");
  absl::StatusOr<std::unique_ptr<storage::Store>> scratch = storage::OpenLevelDbStore(scratch_dir);
  ASSERT_TRUE(scratch.ok());
  absl::StatusOr<CheckReport> report = Journal::Check(*store_, {&accounts}, scratch->get());
  EXPECT_TRUE(report.ok()) << report.status();
}

// Links each entry to an earlier one, as an event's chain link names its
// code's previous event: payload "id|back", the assignment is the leaf hash
// of the entry `back` entries before it, as the sequencer read it.
constexpr char kLink[] = "application/vnd.test.link";

class Linker final : public StateMachine {
 public:
  absl::string_view name() const override { return "linker"; }
  std::vector<std::string> OwnedPayloadTypes() const override { return {kLink}; }
  absl::StatusOr<std::string> RequestScope(const v1::SignedEnvelope&,
                                           const storage::StateReader&) const override {
    return std::string();
  }
  absl::Status Apply(const EntryContext& entry, const storage::StateReader& state,
                     storage::StateWrites* changes) const override {
    std::vector<std::string> parts = absl::StrSplit(entry.envelope->payload(), '|');
    uint64_t back = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &back)) {
      return absl::InvalidArgumentError("link: malformed");
    }
    if (back == 0 || back > entry.index) return absl::OkStatus();
    absl::StatusOr<crypto::Sha256Digest> linked = state.LeafHash(entry.index - back);
    if (!linked.ok()) return linked.status();
    *entry.assignment = linked->ToBytes();
    changes->Put("linked", "");
    return absl::OkStatus();
  }
};

Request Link(int id, int back) {
  Request r;
  r.envelope.set_payload_type(kLink);
  r.envelope.set_payload(absl::StrCat(id, "|", back));
  return r;
}

// The sequencer keeps the latest entries' leaf hashes in a ring (here of 4
// slots, so that links further back, and indexes sharing a slot, read the
// store's tree): every link must name the hash the log holds at that index,
// from batches still committing, from the ring and from the store alike,
// and after a reopen that empties the ring.
TEST_F(JournalTest, LinksReadTheLeafHashesTheLogHolds) {
  Linker linker;
  JournalOptions options;
  options.cached_leaf_hashes = 4;
  const auto open = [&]() -> std::unique_ptr<Journal> {
    absl::StatusOr<std::unique_ptr<Journal>> j = Journal::Open(store_.get(), {&linker}, options);
    EXPECT_TRUE(j.ok()) << j.status();
    return j.ok() ? *std::move(j) : nullptr;
  };
  std::unique_ptr<Journal> journal = open();
  ASSERT_NE(journal, nullptr);
  std::atomic<int> next_id{0};
  const auto submit_many = [&](Journal* j) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 60; ++i) {
          const int id = next_id++;
          EXPECT_TRUE(j->Submit(Link(id, id % 9)).ok());
        }
      });
    }
    for (std::thread& t : threads) t.join();
  };
  submit_many(journal.get());
  journal = nullptr;
  journal = open();
  ASSERT_NE(journal, nullptr);
  submit_many(journal.get());

  std::shared_ptr<const storage::Snapshot> s = journal->Snapshot();
  ASSERT_EQ(s->size(), 480u);
  int linked = 0;
  for (uint64_t i = 0; i < s->size(); ++i) {
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*s->Entry(i)));
    std::vector<std::string> parts = absl::StrSplit(entry.envelope().payload(), '|');
    uint64_t back = 0;
    ASSERT_TRUE(absl::SimpleAtoi(parts[1], &back));
    if (back == 0 || back > i) {
      EXPECT_EQ(entry.assignment(), "") << "entry " << i;
      continue;
    }
    ++linked;
    EXPECT_EQ(entry.assignment(), s->LeafHash(i - back)->ToBytes())
        << "entry " << i << " links " << back << " back";
  }
  EXPECT_GT(linked, 400);
}

}  // namespace
}  // namespace chemledger::journal
