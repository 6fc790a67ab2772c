// History bundles (services/audit/history_bundle.h), whatever bytes a
// bundle file holds: the offline verifier parses and checks them without
// crashing, and accepts nothing its note key did not sign.

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "chemledger/v1/audit_service.pb.h"
#include "crypto/sha256.h"
#include "services/audit/history_bundle.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {

std::vector<std::string> FuzzSeeds() {
  // A bundle of no events under a signed checkpoint, and the same with a
  // forged root.
  v1::HistoryBundle bundle;
  bundle.set_format("chemledger history bundle v1");
  bundle.set_code("HTTPS://CL.EXAMPLE.CN/L/0000");
  crypto::Checkpoint c;
  c.origin = FuzzNoteSigner().name();
  c.size = 3;
  c.root_hash = crypto::Sha256("root");
  bundle.mutable_checkpoint()->set_origin(c.origin);
  bundle.mutable_checkpoint()->set_tree_size(c.size);
  bundle.mutable_checkpoint()->set_root_hash(c.root_hash.ToBytes());
  bundle.mutable_checkpoint()->set_signed_note(*FuzzNoteSigner().SignCheckpoint(c));
  v1::ProvenEntry* event = bundle.add_events();
  event->set_log_index(1);
  event->set_entry_bytes("not an entry");
  event->add_inclusion_proof(crypto::Sha256("a").ToBytes());
  std::vector<std::string> seeds = {bundle.SerializeAsString()};
  bundle.mutable_checkpoint()->set_root_hash(crypto::Sha256("forged").ToBytes());
  seeds.push_back(bundle.SerializeAsString());
  return seeds;
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chemledger;
  v1::HistoryBundle bundle;
  if (!bundle.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<audit::VerifiedHistory> verified =
      audit::VerifyHistoryBundle(bundle, fuzz::FuzzNoteSigner().verifier(), std::nullopt);
  if (verified.ok() && verified->events > static_cast<size_t>(bundle.events_size())) {
    fprintf(stderr, "history_bundle_fuzzer: verified more events than the bundle holds\n");
    abort();
  }
  return 0;
}
