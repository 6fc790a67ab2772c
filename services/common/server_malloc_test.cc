// The server processes' allocator (BUILD: server_malloc) is the one in use:
// a binary linked with it calls tcmalloc's malloc and free, not glibc's.

#include <dlfcn.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace {

TEST(ServerMallocTest, MallocIsTcmallocs) {
#ifdef CHEMLEDGER_SANITIZERS
  GTEST_SKIP() << "builds with sanitizers keep their own malloc";
#else
  void* tc_malloc = dlsym(RTLD_DEFAULT, "tc_malloc");
  ASSERT_NE(tc_malloc, nullptr) << "libtcmalloc_minimal is not linked in";
  // The malloc every library's calls resolve to is tcmalloc's (its malloc
  // is an alias of tc_malloc), not glibc's.
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "malloc"), tc_malloc);
  EXPECT_EQ(dlsym(RTLD_DEFAULT, "free"), dlsym(RTLD_DEFAULT, "tc_free"));
  void* p = std::malloc(100);
  ASSERT_NE(p, nullptr);
  std::free(p);
#endif
}

}  // namespace
