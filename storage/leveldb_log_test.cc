#include "storage/leveldb_log.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/merkle.h"
#include "crypto/merkle_reference.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace chemledger::storage {
namespace {

using crypto::HashLeaf;

class LevelDbLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp ? tmp : "/tmp", "/log_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Reopen();
  }

  void Reopen() {
    log_.reset();
    absl::StatusOr<std::unique_ptr<Log>> log = OpenLevelDbLog(dir_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  static std::string EntryFor(uint64_t i) {
    if (i % 17 == 3) return "";  // empty entries are entries too
    return absl::StrCat("entry-", i, std::string(i % 7, static_cast<char>(i)));
  }

  void AppendRange(uint64_t from, uint64_t to) {
    std::vector<std::string> batch;
    for (uint64_t i = from; i < to; ++i) batch.push_back(EntryFor(i));
    absl::StatusOr<uint64_t> first = log_->Append(batch);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(*first, from);
  }

  // Rewrites one raw LevelDB value (or deletes it) behind the log's back.
  void Tamper(const std::string& key, const std::function<void(std::string*)>& edit,
              bool erase = false) {
    log_.reset();
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string value;
    if (erase) {
      ASSERT_TRUE(db->Delete(leveldb::WriteOptions(), key).ok());
    } else {
      db->Get(leveldb::ReadOptions(), key, &value);
      edit(&value);
      ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, value).ok());
    }
    db.reset();
    Reopen();
  }

  static std::string EntryKey(uint64_t index) {
    std::string k = "e";
    for (int s = 56; s >= 0; s -= 8) k.push_back(static_cast<char>(index >> s));
    return k;
  }
  // Byte offset of node (level, index) in the record of the entry holding it.
  static std::pair<uint64_t, size_t> NodeLocation(int level, uint64_t index) {
    return {((index + 1) << level) - 1, 1 + 32 * level};
  }
  // Byte offset of the entry bytes in the record of entry `index`.
  static size_t EntryOffset(uint64_t index) {
    int ones = 0;
    while (index & 1) {
      ++ones;
      index >>= 1;
    }
    return 1 + 32 * (1 + ones);
  }

  void ExpectIntegrityFailure(const std::string& expected_fragment) {
    absl::StatusOr<IntegrityReport> report = log_->CheckIntegrity();
    ASSERT_FALSE(report.ok()) << "tampering went unnoticed";
    EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(report.status().message().find(expected_fragment), std::string::npos)
        << report.status();
  }

  std::string dir_;
  std::unique_ptr<Log> log_;
};

TEST_F(LevelDbLogTest, EmptyLog) {
  EXPECT_EQ(log_->Size(), 0u);
  EXPECT_EQ(*log_->Root(0), crypto::EmptyTreeRoot());
  EXPECT_EQ(log_->Entry(0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log_->Root(1).status().code(), absl::StatusCode::kOutOfRange);
  absl::StatusOr<IntegrityReport> report = log_->CheckIntegrity();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->tree_size, 0u);
}

TEST_F(LevelDbLogTest, AppendsGetConsecutiveIndexesAndSurviveReopen) {
  AppendRange(0, 1);
  AppendRange(1, 101);
  AppendRange(101, 102);
  AppendRange(102, 1102);
  EXPECT_EQ(log_->Size(), 1102u);
  const Sha256Digest root = *log_->Root(1102);
  Reopen();
  EXPECT_EQ(log_->Size(), 1102u);
  EXPECT_EQ(*log_->Root(1102), root);
  for (uint64_t i : {0, 1, 3, 100, 101, 555, 1101}) {
    EXPECT_EQ(*log_->Entry(i), EntryFor(i)) << i;
    EXPECT_EQ(*log_->LeafHash(i), HashLeaf(EntryFor(i)));
  }
  std::vector<std::string> all;
  for (uint64_t i = 0; i < 1102; ++i) all.push_back(EntryFor(i));
  EXPECT_EQ(root, crypto::RootOfEntries(all));
  // Appending after reopen continues the same tree.
  AppendRange(1102, 1103);
  all.push_back(EntryFor(1102));
  EXPECT_EQ(*log_->Root(1103), crypto::RootOfEntries(all));
  absl::StatusOr<IntegrityReport> report = log_->CheckIntegrity();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries_checked, 1103u);
  EXPECT_EQ(report->root, *log_->Root(1103));
}

// Every size up to 64 (grown one entry at a time, so every intermediate tree
// was the current one once), every inclusion and consistency proof, checked by
// the client-side verifier against the roots the log reports.
TEST_F(LevelDbLogTest, EveryProofUpTo64VerifiesWithTheIndependentVerifier) {
  std::vector<Sha256Digest> leaves;
  for (uint64_t i = 0; i < 64; ++i) {
    AppendRange(i, i + 1);
    leaves.push_back(HashLeaf(EntryFor(i)));
  }
  Reopen();
  std::vector<Sha256Digest> roots;
  for (uint64_t size = 0; size <= 64; ++size) {
    roots.push_back(*log_->Root(size));
    ASSERT_EQ(roots.back(), crypto::reference::MerkleTreeHash(
                                absl::MakeConstSpan(leaves).subspan(0, size)));
  }
  for (uint64_t size = 1; size <= 64; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      absl::StatusOr<std::vector<Sha256Digest>> proof = log_->InclusionProof(index, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(crypto::VerifyInclusion(index, size, leaves[index], *proof,
                                          roots[size]).ok())
          << index << " in " << size;
      // A wrong proof is rejected: another leaf's proof, or a flipped bit.
      if (size > 1) {
        auto other = log_->InclusionProof((index + 1) % size, size);
        EXPECT_FALSE(crypto::VerifyInclusion(index, size, leaves[index], *other,
                                             roots[size]).ok());
        auto flipped = *proof;
        flipped[0].mutable_data()[7] ^= 0x10;
        EXPECT_FALSE(crypto::VerifyInclusion(index, size, leaves[index], flipped,
                                             roots[size]).ok());
      }
    }
  }
  for (uint64_t size2 = 0; size2 <= 64; ++size2) {
    for (uint64_t size1 = 0; size1 <= size2; ++size1) {
      absl::StatusOr<std::vector<Sha256Digest>> proof =
          log_->ConsistencyProof(size1, size2);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(crypto::VerifyConsistency(size1, size2, roots[size1], roots[size2],
                                            *proof).ok())
          << size1 << " -> " << size2;
      if (size1 > 0 && size1 < size2) {
        auto flipped = *proof;
        flipped.back().mutable_data()[0] ^= 0x01;
        EXPECT_FALSE(crypto::VerifyConsistency(size1, size2, roots[size1],
                                               roots[size2], flipped).ok());
        EXPECT_FALSE(crypto::VerifyConsistency(size1, size2, roots[size1 - 1],
                                               roots[size2], *proof).ok());
      }
    }
  }
}

TEST_F(LevelDbLogTest, RejectedAppendsWriteNothing) {
  AppendRange(0, 3);
  const Sha256Digest root = *log_->Root(3);
  absl::StatusOr<uint64_t> r = log_->Append({});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> too_big = {"ok", std::string(Log::kMaxEntryBytes + 1, 'x')};
  r = log_->Append(too_big);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("entry 1"), std::string::npos) << r.status();
  EXPECT_EQ(log_->Size(), 3u);
  Reopen();
  EXPECT_EQ(log_->Size(), 3u);
  EXPECT_EQ(*log_->Root(3), root);
}

TEST_F(LevelDbLogTest, OutOfRangeReadsAreRefused) {
  AppendRange(0, 5);
  EXPECT_EQ(log_->Entry(5).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log_->LeafHash(5).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log_->InclusionProof(5, 5).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log_->InclusionProof(0, 6).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log_->ConsistencyProof(3, 6).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log_->ConsistencyProof(4, 3).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(LevelDbLogTest, ConcurrentAppendersLoseAndDuplicateNothing) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::vector<std::vector<uint64_t>> indexes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::vector<std::string> one = {absl::StrCat("thread ", t, " item ", i)};
        absl::StatusOr<uint64_t> index = log_->Append(one);
        ASSERT_TRUE(index.ok()) << index.status();
        indexes[t].push_back(*index);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(log_->Size(), uint64_t{kThreads * kPerThread});
  std::vector<bool> seen(kThreads * kPerThread, false);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const uint64_t index = indexes[t][i];
      ASSERT_LT(index, seen.size());
      ASSERT_FALSE(seen[index]) << "index handed out twice: " << index;
      seen[index] = true;
      EXPECT_EQ(*log_->Entry(index), absl::StrCat("thread ", t, " item ", i));
      if (i > 0) {
        EXPECT_GT(index, indexes[t][i - 1]);  // per-caller order kept
      }
    }
  }
  absl::StatusOr<IntegrityReport> report = log_->CheckIntegrity();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->root, *log_->Root(log_->Size()));
}

TEST_F(LevelDbLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  absl::StatusOr<std::unique_ptr<Log>> second = OpenLevelDbLog(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition)
      << second.status();
}

TEST_F(LevelDbLogTest, ForeignDatabaseAndMissingLogAreRefused) {
  log_.reset();
  const std::string foreign = dir_ + "_foreign";
  {
    leveldb::Options o;
    o.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(o, foreign, &raw).ok());
    raw->Put(leveldb::WriteOptions(), "k", "v");
    delete raw;
  }
  absl::StatusOr<std::unique_ptr<Log>> log = OpenLevelDbLog(foreign);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  LevelDbLogOptions no_create;
  no_create.create_if_missing = false;
  log = OpenLevelDbLog(dir_ + "_absent", no_create);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound) << log.status();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "_absent")) << "a read-only open left a trace";
  EXPECT_EQ(OpenLevelDbLog("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LevelDbLogTest, FlippedByteInAnEntryIsReported) {
  AppendRange(0, 40);
  ASSERT_TRUE(log_->CheckIntegrity().ok());
  Tamper(EntryKey(23), [](std::string* v) { (*v)[EntryOffset(23) + 2] ^= 0x01; });
  // Opening does not rescan the log, so it still opens...
  EXPECT_EQ(log_->Size(), 40u);
  // ...and the integrity check finds the exact entry.
  ExpectIntegrityFailure("entry 23 hashes to");
  ExpectIntegrityFailure("the entry or its leaf hash was altered");
}

TEST_F(LevelDbLogTest, FlippedByteInAStoredNodeIsReported) {
  AppendRange(0, 40);
  const auto [holder, offset] = NodeLocation(2, 5);
  Tamper(EntryKey(holder), [offset = offset](std::string* v) { (*v)[offset + 31] ^= 0x80; });
  ExpectIntegrityFailure("tree node (level 2, index 5) (stored with entry 23)");
}

TEST_F(LevelDbLogTest, FlippedLeafHashIsReported) {
  AppendRange(0, 9);
  Tamper(EntryKey(8), [](std::string* v) { (*v)[1] ^= 0x01; });
  ExpectIntegrityFailure("entry 8 hashes to");
}

TEST_F(LevelDbLogTest, MissingEntryIsReported) {
  AppendRange(0, 10);
  Tamper(EntryKey(4), nullptr, /*erase=*/true);
  ExpectIntegrityFailure("entry 4 is missing");
}

TEST_F(LevelDbLogTest, ForeignKeyIsReported) {
  AppendRange(0, 10);
  Tamper("x-extra", [](std::string* v) { *v = "?"; });
  ExpectIntegrityFailure("unexpected key");
}

TEST_F(LevelDbLogTest, ForeignKeysBesideTheStateAreReported) {
  AppendRange(0, 10);
  // A server's store holds its applied size and its state keys after the
  // entries: the log's check passes over them, and over nothing else.
  Tamper("f#state-applied", [](std::string* v) { *v = std::string(7, '\0') + "\x0a"; });
  Tamper("scode/1", [](std::string* v) { *v = "state"; });
  ASSERT_TRUE(log_->CheckIntegrity().ok()) << log_->CheckIntegrity().status();
  Tamper("f#zzz", [](std::string* v) { *v = "?"; });
  ExpectIntegrityFailure("unexpected key '66237a7a7a'");
  Tamper("f#zzz", nullptr, /*erase=*/true);
  ASSERT_TRUE(log_->CheckIntegrity().ok());
  Tamper("zz", [](std::string* v) { *v = "?"; });
  ExpectIntegrityFailure("unexpected key '7a7a'");
}

TEST_F(LevelDbLogTest, ForeignMetaKeyIsReported) {
  AppendRange(0, 10);
  Tamper("#junk", [](std::string* v) { *v = "?"; });
  ExpectIntegrityFailure("unexpected key '236a756e6b'");
}

// Rewrites the hashes don't reveal need a trusted tree head (a checkpoint).
TEST_F(LevelDbLogTest, ForgedLastEntryIsCaughtOnlyAgainstATrustedCheckpoint) {
  AppendRange(0, 9);
  const TreeHead trusted{9, *log_->Root(9)};
  const std::string forged = "FORGED";
  Tamper(EntryKey(8), [&](std::string* v) {
    *v = std::string("\x01", 1) + crypto::HashLeaf(forged).ToBytes() + forged;
  });
  EXPECT_TRUE(log_->CheckIntegrity().ok());  // self-consistent, as documented
  absl::StatusOr<IntegrityReport> report = log_->CheckIntegrity(trusted);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(report.status().message().find("the log was rewritten"), std::string::npos)
      << report.status();
}

TEST_F(LevelDbLogTest, TruncationIsCaughtAgainstATrustedCheckpoint) {
  AppendRange(0, 10);
  const TreeHead trusted{10, *log_->Root(10)};
  const TreeHead older{4, *log_->Root(4)};
  for (uint64_t i = 10; i-- > 6;) Tamper(EntryKey(i), nullptr, /*erase=*/true);
  EXPECT_TRUE(log_->CheckIntegrity().ok());
  EXPECT_TRUE(log_->CheckIntegrity(older).ok());  // what survives still matches
  absl::StatusOr<IntegrityReport> report = log_->CheckIntegrity(trusted);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("the log was truncated"), std::string::npos)
      << report.status();
}

TEST_F(LevelDbLogTest, LostFormatRecordIsDataLoss) {
  AppendRange(0, 3);
  log_.reset();
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_, &raw).ok());
    raw->Delete(leveldb::WriteOptions(), "#format");
    delete raw;
  }
  absl::StatusOr<std::unique_ptr<Log>> log = OpenLevelDbLog(dir_);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss) << log.status();
}

TEST_F(LevelDbLogTest, EmptyDatabaseIsNotALogWithoutCreateIfMissing) {
  log_.reset();
  const std::string empty = dir_ + "_empty_db";
  {
    leveldb::Options o;
    o.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(o, empty, &raw).ok());
    delete raw;
  }
  LevelDbLogOptions no_create;
  no_create.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Log>> log = OpenLevelDbLog(empty, no_create);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kNotFound) << log.status();
}

TEST_F(LevelDbLogTest, OversizedAppendIsRefused) {
  std::vector<std::string> many(17, std::string(Log::kMaxEntryBytes, 'x'));
  absl::StatusOr<uint64_t> r = log_->Append(many);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("split them"), std::string::npos) << r.status();
  EXPECT_EQ(log_->Size(), 0u);
}

TEST_F(LevelDbLogTest, MalformedRecordIsReported) {
  AppendRange(0, 10);
  Tamper(EntryKey(5), [](std::string* v) { v->resize(40); });
  ExpectIntegrityFailure("record of entry 5 is malformed");
  EXPECT_EQ(log_->Entry(5).status().code(), absl::StatusCode::kDataLoss);
}

// The size is one past the last entry: a stray entry past the end leaves a
// gap the tree does not cover, which opening reports.
TEST_F(LevelDbLogTest, EntryPastAGapFailsToOpen) {
  AppendRange(0, 10);
  log_.reset();
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir_, &raw).ok());
    const std::string smuggled = "smuggled";
    // Entry 12 (0b1100) stores 1 hash: a well-formed record.
    raw->Put(leveldb::WriteOptions(), EntryKey(12),
             std::string("\x01", 1) + crypto::HashLeaf(smuggled).ToBytes() + smuggled);
    delete raw;
  }
  absl::StatusOr<std::unique_ptr<Log>> log = OpenLevelDbLog(dir_);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss) << log.status();
  EXPECT_NE(log.status().message().find("does not cover size 13"), std::string::npos)
      << log.status();
}

}  // namespace
}  // namespace chemledger::storage
