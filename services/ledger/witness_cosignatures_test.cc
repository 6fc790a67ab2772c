#include "services/ledger/witness_cosignatures.h"

#include <fstream>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"

namespace chemledger::ledger {
namespace {

std::string TempFile(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

TEST(WitnessCosignaturesTest, TheNewestCosignedCheckpointSurvivesReopening) {
  const std::string file = TempFile("cosignatures");
  std::remove(file.c_str());
  const crypto::Sha256Digest root5 = crypto::Sha256("five"), root9 = crypto::Sha256("nine");
  {
    auto kept = WitnessCosignatures::Open(file);
    ASSERT_TRUE(kept.ok()) << kept.status();
    EXPECT_FALSE((*kept)->Newest().has_value());
    EXPECT_EQ(*(*kept)->Add("aaaa", 5, root5, "\u2014 witness/aaaa AAA=\n"), 1);
    EXPECT_EQ(*(*kept)->Add("bbbb", 5, root5, "\u2014 witness/bbbb BBB=\n"), 2);
    EXPECT_EQ(*(*kept)->Add("aaaa", 9, root9, "\u2014 witness/aaaa CCC=\n"), 1);
    // One the witness already gave changes nothing (both of 5 are kept).
    EXPECT_EQ(*(*kept)->Add("aaaa", 5, root5, "\u2014 witness/aaaa AAA=\n"), 2);
  }
  auto reopened = WitnessCosignatures::Open(file);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::optional<WitnessCosignatures::Cosigned> newest = (*reopened)->Newest();
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(newest->size, 9u);
  EXPECT_EQ(newest->root, root9);
  EXPECT_EQ(newest->lines, "\u2014 witness/aaaa CCC=\n");
  // The other witness catches up.
  EXPECT_EQ(*(*reopened)->Add("bbbb", 9, root9, "\u2014 witness/bbbb DDD=\n"), 2);
  EXPECT_EQ((*reopened)->Newest()->lines, "\u2014 witness/aaaa CCC=\n\u2014 witness/bbbb DDD=\n");
}

// Two objects keeping one file (a read replica still answering while the
// writer that takes over opens the file again): a line the one kept after
// the other read the file is not dropped by the other's next write.
TEST(WitnessCosignaturesTest, TwoKeepingOneFileDropNeithersLines) {
  const std::string file = TempFile("cosignatures-shared");
  std::remove(file.c_str());
  const crypto::Sha256Digest root5 = crypto::Sha256("five"), root9 = crypto::Sha256("nine");
  auto replica = WitnessCosignatures::Open(file);
  auto writer = WitnessCosignatures::Open(file);
  ASSERT_TRUE(replica.ok() && writer.ok());
  EXPECT_EQ(*(*replica)->Add("aaaa", 5, root5, "\u2014 witness/aaaa AAA=\n"), 1);
  // The writer read the file before that line; its own Add keeps both.
  EXPECT_EQ(*(*writer)->Add("bbbb", 9, root9, "\u2014 witness/bbbb BBB=\n"), 1);
  auto reopened = WitnessCosignatures::Open(file);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_TRUE((*reopened)->Newest().has_value());
  EXPECT_EQ((*reopened)->Newest()->size, 9u);
  std::set<std::string> only_a = {"aaaa"};
  ASSERT_TRUE((*reopened)->Newest(1, only_a).has_value()) << "the replica's line was dropped";
  EXPECT_EQ((*reopened)->Newest(1, only_a)->size, 5u);
  // And the writer serves it too from then on.
  ASSERT_TRUE((*writer)->Newest(1, only_a).has_value());
}

// A witness that co-signs every new size does not hide the others': each
// keeps its newest few, and a client asks for the newest checkpoint enough
// of them co-signed.
TEST(WitnessCosignaturesTest, TheNewestCheckpointEnoughWitnessesCosignedIsServed) {
  const std::string file = TempFile("cosignatures-quorum");
  std::remove(file.c_str());
  auto kept = WitnessCosignatures::Open(file);
  ASSERT_TRUE(kept.ok()) << kept.status();
  const auto root = [](uint64_t size) { return crypto::Sha256(std::to_string(size)); };
  const auto line = [](const std::string& id, uint64_t size) {
    return "\u2014 witness/" + id + " S" + std::to_string(size) + "=\n";
  };
  ASSERT_TRUE((*kept)->Add("aaaa", 10, root(10), line("aaaa", 10)).ok());
  ASSERT_TRUE((*kept)->Add("bbbb", 10, root(10), line("bbbb", 10)).ok());
  for (uint64_t size = 11; size <= 14; ++size) {
    ASSERT_TRUE((*kept)->Add("cccc", size, root(size), line("cccc", size)).ok());
  }
  EXPECT_EQ((*kept)->Newest()->size, 14u);
  EXPECT_EQ((*kept)->Newest()->witnesses, 1);
  std::optional<WitnessCosignatures::Cosigned> two = (*kept)->Newest(2);
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->size, 10u);
  EXPECT_EQ(two->witnesses, 2);
  EXPECT_EQ(two->lines, line("aaaa", 10) + line("bbbb", 10));
  EXPECT_FALSE((*kept)->Newest(3).has_value());
  // Only the witnesses a client names count: cccc's newer sizes do not
  // stand in for bbbb's.
  EXPECT_EQ((*kept)->Newest(2, {"aaaa", "bbbb"})->size, 10u);
  EXPECT_FALSE((*kept)->Newest(2, {"aaaa", "cccc"}).has_value());
  EXPECT_EQ((*kept)->Newest(1, {"aaaa"})->lines, line("aaaa", 10));
  // What was kept is not written again when a witness repeats itself.
  std::remove(file.c_str());
  ASSERT_TRUE((*kept)->Add("cccc", 14, root(14), line("cccc", 14)).ok());
  EXPECT_FALSE(std::ifstream(file).good()) << "rewritten for a co-signature it had";
  // A witness keeps its newest kKeptPerWitness; an older one is not taken.
  for (uint64_t size = 15; size < 15 + WitnessCosignatures::kKeptPerWitness; ++size) {
    ASSERT_TRUE((*kept)->Add("cccc", size, root(size), line("cccc", size)).ok());
  }
  EXPECT_EQ(*(*kept)->Add("cccc", 11, root(11), line("cccc", 11)), 0);
  auto reopened = WitnessCosignatures::Open(file);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Newest(2)->size, 10u);
  EXPECT_EQ((*reopened)->Newest()->size, 14u + WitnessCosignatures::kKeptPerWitness);
}

TEST(WitnessCosignaturesTest, AFileNotOfThisFormStopsTheStartSayingWhere) {
  const std::string file = TempFile("broken-cosignatures");
  std::ofstream(file) << "aaaa 5 " << crypto::Sha256("five").ToHex()
                      << " \u2014 witness/aaaa AAA=\nthis is not a line\n";
  auto kept = WitnessCosignatures::Open(file);
  ASSERT_FALSE(kept.ok());
  EXPECT_EQ(kept.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(kept.status().message(), file + ":2: ")) << kept.status();
}

}  // namespace
}  // namespace chemledger::ledger
