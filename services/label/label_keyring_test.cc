#include "services/label/label_keyring.h"

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "crypto/keys.h"
#include "gtest/gtest.h"
#include "tests/subprocess.h"

namespace chemledger::label {
namespace {

TEST(LabelKeyringTest, AKeyFileMadeWhileItRunsIsFoundAtOnce) {
  const std::string dir = testing::FreshTempDir("label_keyring");
  absl::StatusOr<crypto::VerifyingKey> first = LabelKeyring::CreateKey(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<LabelKeyring>> keyring = LabelKeyring::Open(dir);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  absl::StatusOr<const crypto::SigningKey*> found = (*keyring)->Find(first->key_id());
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ((*found)->key_id(), first->key_id());

  // Asked for before its file exists: NotFound, naming the file.
  const crypto::SigningKey later = crypto::SigningKey::Generate();
  absl::StatusOr<const crypto::SigningKey*> missing = (*keyring)->Find(later.key_id());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_NE(missing.status().message().find(absl::StrCat("label-", later.key_id().ToString())),
            std::string::npos)
      << missing.status();
  // Made the moment after (`chemledgerd label-key new`): found at once, the
  // directory having changed, though it was looked at just now.
  absl::StatusOr<crypto::VerifyingKey> second = LabelKeyring::CreateKey(dir);
  ASSERT_TRUE(second.ok()) << second.status();
  found = (*keyring)->Find(second->key_id());
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ((*found)->key_id(), second->key_id());
  // The first is still there, the same key.
  EXPECT_EQ(*(*keyring)->Find(first->key_id()), *(*keyring)->Find(first->key_id()));
}

TEST(LabelKeyringTest, AKeyFileOthersMayReadMakesOnlyItsKeyUnusable) {
  const std::string dir = testing::FreshTempDir("label_keyring_broken");
  absl::StatusOr<crypto::VerifyingKey> good = LabelKeyring::CreateKey(dir);
  absl::StatusOr<crypto::VerifyingKey> open_to_all = LabelKeyring::CreateKey(dir);
  ASSERT_TRUE(good.ok() && open_to_all.ok());
  const std::string path = absl::StrCat(dir, "/label-", open_to_all->key_id().ToString(), ".key");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  absl::StatusOr<std::unique_ptr<LabelKeyring>> keyring = LabelKeyring::Open(dir);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_TRUE((*keyring)->Find(good->key_id()).ok());
  absl::StatusOr<const crypto::SigningKey*> broken = (*keyring)->Find(open_to_all->key_id());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kFailedPrecondition) << broken.status();
  EXPECT_NE(broken.status().message().find("its file is unusable"), std::string::npos)
      << broken.status();
}

}  // namespace
}  // namespace chemledger::label
