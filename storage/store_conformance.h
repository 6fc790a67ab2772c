// The store suite (storage/store.h): what every backend must do, run
// against each (storage/leveldb_store_test.cc, storage/postgres_store_test.cc)
// by instantiating StoreConformanceTest with the backend:
//
//   INSTANTIATE_TEST_SUITE_P(LevelDb, StoreConformanceTest, ::testing::Values(&backend));
//
// What only one backend has (LevelDB's files, fault-injected syncs, power
// cuts; PostgreSQL's schema) is tested beside it.

#ifndef CHEMLEDGER_STORAGE_STORE_CONFORMANCE_H_
#define CHEMLEDGER_STORAGE_STORE_CONFORMANCE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "storage/store.h"

namespace chemledger::storage {

// A backend under test.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Opens the store called `name`: a new, empty one the first time in this
  // process, the same one again after (a reopen). Null (with a test failure)
  // when it cannot.
  virtual std::unique_ptr<Store> Open(const std::string& name) = 0;
};

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend*> {
 protected:
  std::unique_ptr<Store> Open(const std::string& name) { return GetParam()->Open(name); }
};

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_STORE_CONFORMANCE_H_
