#include "services/ledger/witness_cosignatures.h"

#include <fstream>
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
    // An older one than the witness already gave changes nothing.
    EXPECT_EQ(*(*kept)->Add("aaaa", 5, root5, "\u2014 witness/aaaa AAA=\n"), 1);
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
