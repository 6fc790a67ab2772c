#include "storage/store_conformance.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"

namespace chemledger::storage {
namespace {

std::optional<std::string> Get(const Snapshot& s, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> v = s.Get(key);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : std::nullopt;
}

std::vector<std::string> KeysOf(const Snapshot& s, absl::string_view begin, absl::string_view end) {
  std::vector<std::string> keys;
  EXPECT_TRUE(s.Scan(begin, end,
                     [&](absl::string_view k, absl::string_view) {
                       keys.emplace_back(k);
                       return true;
                     })
                  .ok());
  return keys;
}

TEST_P(StoreConformanceTest, CommitWritesEntriesAndStateTogether) {
  const std::string name = "store_commit";
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);
  EXPECT_EQ(store->GetSnapshot()->size(), 0u);
  EXPECT_EQ(store->GetSnapshot()->root(), crypto::EmptyTreeRoot());

  StateWrites w;
  w.Put("code/A", "active");
  w.Put("code/B", "active");
  absl::StatusOr<uint64_t> first = store->Commit({"e0", "e1"}, w);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0u);
  EXPECT_EQ(store->Size(), 2u);
  EXPECT_EQ(store->StateAppliedSize(), 2u);

  std::shared_ptr<const Snapshot> s1 = store->GetSnapshot();
  EXPECT_EQ(s1->size(), 2u);
  EXPECT_EQ(s1->root(), *store->Root(2));
  EXPECT_EQ(Get(*s1, "code/A"), "active");
  EXPECT_EQ(*s1->Entry(1), "e1");

  StateWrites w2;
  w2.Put("code/A", "consumed");
  w2.Delete("code/B");
  ASSERT_TRUE(store->Commit({"e2"}, w2).ok());
  // The earlier snapshot still reads the state as it was at size 2.
  EXPECT_EQ(Get(*s1, "code/A"), "active");
  EXPECT_EQ(Get(*s1, "code/B"), "active");
  EXPECT_EQ(s1->Entry(2).status().code(), absl::StatusCode::kOutOfRange);
  std::shared_ptr<const Snapshot> s2 = store->GetSnapshot();
  EXPECT_EQ(s2->size(), 3u);
  EXPECT_EQ(Get(*s2, "code/A"), "consumed");
  EXPECT_EQ(Get(*s2, "code/B"), std::nullopt);
  EXPECT_EQ(*s2->Root(2), s1->root());
  EXPECT_EQ(s2->InclusionProof(0, 3)->size(), 2u);
  EXPECT_EQ(*s2->ConsistencyProof(2, 3), *store->ConsistencyProof(2, 3));

  // Reopened: the same entries, state and applied size.
  s1.reset();
  s2.reset();
  store.reset();
  store = Open(name);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Size(), 3u);
  EXPECT_EQ(store->StateAppliedSize(), 3u);
  EXPECT_EQ(Get(*store->GetSnapshot(), "code/A"), "consumed");
  // The log's integrity check ignores the state keys.
  absl::StatusOr<IntegrityReport> report = store->CheckIntegrity();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries_checked, 3u);
}

TEST_P(StoreConformanceTest, ManyInclusionProofsAtOnceAreEachTheOneProof) {
  const std::string name = "store_proofs";
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  std::vector<std::string> entries;
  for (int i = 0; i < 77; ++i) entries.push_back(absl::StrCat("entry ", i));
  ASSERT_TRUE(store->Commit(entries, StateWrites()).ok());
  ASSERT_TRUE(store->Commit({"one more"}, StateWrites()).ok());
  std::shared_ptr<const Snapshot> s = store->GetSnapshot();
  const std::vector<uint64_t> indexes = {0, 1, 2, 40, 41, 63, 64, 76, 77, 5};
  for (uint64_t size : {uint64_t{78}, uint64_t{64}}) {
    std::vector<uint64_t> in_tree;
    for (uint64_t i : indexes) {
      if (i < size) in_tree.push_back(i);
    }
    absl::StatusOr<std::vector<std::vector<Sha256Digest>>> many = s->InclusionProofs(in_tree, size);
    ASSERT_TRUE(many.ok()) << many.status();
    ASSERT_EQ(many->size(), in_tree.size());
    for (size_t k = 0; k < in_tree.size(); ++k) {
      EXPECT_EQ((*many)[k], *s->InclusionProof(in_tree[k], size)) << in_tree[k] << " of " << size;
      EXPECT_TRUE(crypto::VerifyInclusion(in_tree[k], size, *s->LeafHash(in_tree[k]), (*many)[k],
                                          *s->Root(size))
                      .ok());
    }
  }
  // Beyond the snapshot: refused as one proof is.
  EXPECT_FALSE(s->InclusionProofs({1}, 79).ok());
  EXPECT_FALSE(s->InclusionProofs({78}, 78).ok());
}

TEST_P(StoreConformanceTest, ScanVisitsTheStateKeysOfARangeInOrder) {
  const std::string name = "store_scan";
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  StateWrites w;
  for (const char* k : {"h/A/2", "h/A/1", "h/B/1", "h/A/3", "i/x", "g/z"}) w.Put(k, k);
  ASSERT_TRUE(store->Commit({"e"}, w).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store->GetSnapshot()
                  ->Scan("h/A/", "h/A0",
                         [&](absl::string_view k, absl::string_view v) {
                           EXPECT_EQ(k, v);
                           seen.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"h/A/1", "h/A/2", "h/A/3"}));
  seen.clear();
  ASSERT_TRUE(store->GetSnapshot()
                  ->Scan("h/", "",
                         [&](absl::string_view k, absl::string_view) {
                           seen.emplace_back(k);
                           return seen.size() < 4;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"h/A/1", "h/A/2", "h/A/3", "h/B/1"}));
}

// A backend may answer a whole-prefix scan from memory: every later write
// under the prefix (or under a longer prefix inside it) must show, and
// none at an older snapshot.
TEST_P(StoreConformanceTest, PrefixScansSeeEveryLaterWriteUnderThePrefixAndNoneBefore) {
  std::unique_ptr<Store> store = Open("store_prefix_scans");
  ASSERT_NE(store, nullptr);
  StateWrites w;
  for (const char* k : {"s/A/1", "s/A/2", "s/B/1"}) w.Put(k, "v");
  ASSERT_TRUE(store->Commit({"e0"}, w).ok());
  std::shared_ptr<const Snapshot> before = store->GetSnapshot();
  // Twice, so that a backend that learns from the first answers the second.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(KeysOf(*before, "s/A/", PrefixEnd("s/A/")),
              (std::vector<std::string>{"s/A/1", "s/A/2"}));
    EXPECT_EQ(KeysOf(*before, "s/", PrefixEnd("s/")),
              (std::vector<std::string>{"s/A/1", "s/A/2", "s/B/1"}));
  }
  StateWrites w2;
  w2.Put("s/A/3", "v");
  w2.Delete("s/A/1");
  w2.Put("s/A", "not under s/A/");
  ASSERT_TRUE(store->Commit({"e1"}, w2).ok());
  std::shared_ptr<const Snapshot> after = store->GetSnapshot();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(KeysOf(*after, "s/A/", PrefixEnd("s/A/")),
              (std::vector<std::string>{"s/A/2", "s/A/3"}));
    EXPECT_EQ(KeysOf(*after, "s/", PrefixEnd("s/")),
              (std::vector<std::string>{"s/A", "s/A/2", "s/A/3", "s/B/1"}));
    EXPECT_EQ(KeysOf(*before, "s/A/", PrefixEnd("s/A/")),
              (std::vector<std::string>{"s/A/1", "s/A/2"}));
  }
  // Values too, and a visitor that stops early.
  StateWrites w3;
  w3.Put("s/B/1", "changed");
  ASSERT_TRUE(store->Commit({"e2"}, w3).ok());
  std::vector<std::string> values;
  ASSERT_TRUE(store->GetSnapshot()
                  ->Scan("s/B/", PrefixEnd("s/B/"),
                         [&](absl::string_view, absl::string_view v) {
                           values.emplace_back(v);
                           return false;
                         })
                  .ok());
  EXPECT_EQ(values, (std::vector<std::string>{"changed"}));
}

// Prefetch is a hint: whatever a backend does with it, every read at every
// snapshot returns what it would have without it.
TEST_P(StoreConformanceTest, PrefetchChangesNoReadAtAnySnapshot) {
  std::unique_ptr<Store> store = Open("store_prefetch");
  ASSERT_NE(store, nullptr);
  StateWrites w;
  w.Put("p/kept", "1");
  w.Put("p/changed", "old");
  w.Put("p/deleted", "1");
  ASSERT_TRUE(store->Commit({"e0"}, w).ok());
  std::shared_ptr<const Snapshot> before = store->GetSnapshot();
  const std::vector<std::string> keys = {"p/kept", "p/changed", "p/deleted", "p/new", "p/never",
                                         "p/kept"};
  before->Prefetch(keys);
  EXPECT_EQ(Get(*before, "p/changed"), "old");
  EXPECT_EQ(Get(*before, "p/never"), std::nullopt);
  StateWrites w2;
  w2.Put("p/changed", "new");
  w2.Delete("p/deleted");
  w2.Put("p/new", "2");
  ASSERT_TRUE(store->Commit({"e1"}, w2).ok());
  // The old snapshot prefetched again after the commit, and the new one.
  before->Prefetch(keys);
  std::shared_ptr<const Snapshot> after = store->GetSnapshot();
  after->Prefetch(keys);
  EXPECT_EQ(Get(*before, "p/kept"), "1");
  EXPECT_EQ(Get(*before, "p/changed"), "old");
  EXPECT_EQ(Get(*before, "p/deleted"), "1");
  EXPECT_EQ(Get(*before, "p/new"), std::nullopt);
  EXPECT_EQ(Get(*after, "p/kept"), "1");
  EXPECT_EQ(Get(*after, "p/changed"), "new");
  EXPECT_EQ(Get(*after, "p/deleted"), std::nullopt);
  EXPECT_EQ(Get(*after, "p/new"), "2");
  EXPECT_EQ(Get(*after, "p/never"), std::nullopt);
}

TEST_P(StoreConformanceTest, AppendLeavesTheStateBehindAndApplyStateCatchesUp) {
  const std::string name = "store_apply";
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  // A log written before stores kept state: entries only.
  ASSERT_TRUE(store->Append({"old0", "old1", "old2"}).ok());
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);

  StateWrites w;
  w.Put("k", "v");
  EXPECT_EQ(store->ApplyState(4, w).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->ApplyState(2, w).ok());
  EXPECT_EQ(store->StateAppliedSize(), 2u);
  EXPECT_EQ(store->ApplyState(1, w).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->ApplyState(3, StateWrites()).ok());
  EXPECT_EQ(store->Size(), 3u);
  EXPECT_EQ(Get(*store->GetSnapshot(), "k"), "v");

  ASSERT_TRUE(store->Append({"new"}).ok());
  EXPECT_EQ(store->StateAppliedSize(), 3u);
  store.reset();
  store = Open(name);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->StateAppliedSize(), 3u);
  EXPECT_EQ(store->Size(), 4u);
}

TEST_P(StoreConformanceTest, ClearStateDropsEveryStateKeyAndKeepsTheLog) {
  const std::string name = "store_clear";
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  // More keys than one clearing batch deletes.
  StateWrites w;
  for (int i = 0; i < 40000; ++i) w.Put(absl::StrCat("k/", i), "v");
  ASSERT_TRUE(store->Commit({"e0", "e1"}, w).ok());
  const Sha256Digest root = store->GetSnapshot()->root();
  ASSERT_TRUE(store->ClearState().ok());
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);
  std::shared_ptr<const Snapshot> cleared = store->GetSnapshot();
  int keys = 0;
  ASSERT_TRUE(cleared->Scan("", "", [&](absl::string_view, absl::string_view) {
                       ++keys;
                       return true;
                     })
                  .ok());
  EXPECT_EQ(keys, 0);
  EXPECT_EQ(cleared->size(), 2u);
  EXPECT_EQ(cleared->root(), root);
  EXPECT_EQ(*cleared->Entry(1), "e1");
  // The state is built again from the start.
  StateWrites again;
  again.Put("k/0", "rebuilt");
  ASSERT_TRUE(store->ApplyState(2, again).ok());
  cleared.reset();  // a snapshot must not outlive its store (store.h)
  store.reset();
  store = Open(name);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->StateAppliedSize(), 2u);
  EXPECT_EQ(Get(*store->GetSnapshot(), "k/0"), "rebuilt");
  EXPECT_EQ(Get(*store->GetSnapshot(), "k/1"), std::nullopt);
  EXPECT_TRUE(store->CheckIntegrity().ok());
}

TEST_P(StoreConformanceTest, RefusesOversizedAndEmptyCommitsWritingNothing) {
  const std::string name = "store_limits";
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Commit({}, StateWrites()).status().code(),
            absl::StatusCode::kInvalidArgument);
  StateWrites big_key;
  big_key.Put(std::string(kMaxStateKeyBytes + 1, 'k'), "v");
  absl::StatusOr<uint64_t> refused = store->Commit({"e"}, big_key);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("state key"), std::string::npos) << refused.status();
  EXPECT_EQ(store->Size(), 0u);
  EXPECT_EQ(store->StateAppliedSize(), std::nullopt);
}

TEST_P(StoreConformanceTest, ScansPageThroughManyKeysEachAtItsSnapshot) {
  const std::string name = "store_many_keys";
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  StateWrites w;
  for (int i = 0; i < 2500; ++i) w.Put(absl::StrCat("k/", 10000 + i), absl::StrCat(i));
  w.Put("l/after", "x");
  ASSERT_TRUE(store->Commit({"e0"}, w).ok());
  std::shared_ptr<const Snapshot> before = store->GetSnapshot();
  // Every third key deleted, one changed, one added, in a later commit.
  StateWrites later;
  for (int i = 0; i < 2500; i += 3) later.Delete(absl::StrCat("k/", 10000 + i));
  later.Put("k/10001", "changed");
  later.Put("k/2", "new");
  ASSERT_TRUE(store->Commit({"e1"}, later).ok());
  std::shared_ptr<const Snapshot> after = store->GetSnapshot();

  const std::vector<std::string> old_keys = KeysOf(*before, "k/", "k0");
  ASSERT_EQ(old_keys.size(), 2500u);
  EXPECT_EQ(old_keys.front(), "k/10000");
  EXPECT_EQ(old_keys.back(), "k/12499");
  EXPECT_TRUE(std::is_sorted(old_keys.begin(), old_keys.end()));
  const std::vector<std::string> new_keys = KeysOf(*after, "k/", "k0");
  EXPECT_EQ(new_keys.size(), 2500u - 834u + 1u);
  EXPECT_EQ(new_keys.back(), "k/2");
  EXPECT_EQ(Get(*before, "k/10001"), "1");
  EXPECT_EQ(Get(*after, "k/10001"), "changed");
  EXPECT_EQ(Get(*before, "k/10003"), "3");
  EXPECT_EQ(Get(*after, "k/10003"), std::nullopt);
  // To the last key, and stopping early.
  EXPECT_EQ(KeysOf(*after, "l/", "").size(), 1u);
  int visited = 0;
  ASSERT_TRUE(after->Scan("", "", [&](absl::string_view, absl::string_view) {
                     return ++visited < 1500;
                   })
                  .ok());
  EXPECT_EQ(visited, 1500);
}

TEST_P(StoreConformanceTest, EveryAcknowledgedCommitIsThereAfterReopen) {
  const std::string name = "store_reopen_many";
  std::vector<Sha256Digest> roots;
  {
    std::unique_ptr<Store> store = Open(name);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 50; ++i) {
      StateWrites w;
      w.Put(absl::StrCat("c/", i % 7), absl::StrCat(i));
      std::vector<std::string> entries;
      for (int k = 0; k <= i % 3; ++k) entries.push_back(absl::StrCat("entry ", i, ".", k));
      absl::StatusOr<uint64_t> first = store->Commit(entries, w);
      ASSERT_TRUE(first.ok()) << first.status();
      roots.push_back(store->GetSnapshot()->root());
    }
  }
  std::unique_ptr<Store> store = Open(name);
  ASSERT_NE(store, nullptr);
  std::shared_ptr<const Snapshot> s = store->GetSnapshot();
  EXPECT_EQ(s->root(), roots.back());
  EXPECT_EQ(store->StateAppliedSize(), s->size());
  EXPECT_EQ(Get(*s, "c/0"), "49");
  EXPECT_EQ(Get(*s, "c/6"), "48");
  absl::StatusOr<IntegrityReport> report = store->CheckIntegrity(TreeHead{s->size(), s->root()});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->entries_checked, s->size());
  // Each earlier root is the tree's at its size, and consistent with now.
  uint64_t size = 0;
  for (int i = 0; i < 50; ++i) {
    size += i % 3 + 1;
    EXPECT_EQ(*s->Root(size), roots[i]) << i;
    absl::StatusOr<std::vector<Sha256Digest>> proof = s->ConsistencyProof(size, s->size());
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_TRUE(crypto::VerifyConsistency(size, s->size(), roots[i], s->root(), *proof).ok());
  }
}

}  // namespace
}  // namespace chemledger::storage
