// Signed notes (crypto/checkpoint.h, crypto/trust_list.h; C2SP signed-note):
// checkpoints and trust lists opened with a pinned key, whatever a server
// or a file hands over.

#include "absl/strings/string_view.h"
#include "crypto/checkpoint.h"
#include "crypto/label_testing.h"
#include "crypto/sha256.h"
#include "crypto/trust_list.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
std::vector<std::string> FuzzSeeds() {
  crypto::Checkpoint c;
  c.origin = "fuzz.example/log";
  c.size = 12345;
  c.root_hash = crypto::Sha256("root");
  crypto::TrustList t;
  t.resolver = "CL.EXAMPLE.CN";
  t.issued = absl::CivilDay(2026, 11, 23);
  t.expires = absl::CivilDay(2026, 11, 30);
  t.keys.push_back({crypto::testing::TestKey(2).verifying_key(), absl::CivilDay(2026, 1, 1),
                    absl::CivilDay(2027, 12, 31), absl::CivilDay(2026, 6, 1)});
  return {*FuzzNoteSigner().SignCheckpoint(c), *crypto::SignTrustList(t, FuzzNoteSigner())};
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view note(reinterpret_cast<const char*>(data), size);
  const chemledger::crypto::NoteVerifier& key = chemledger::fuzz::FuzzNoteSigner().verifier();
  (void)chemledger::crypto::OpenNote(note, key);
  (void)chemledger::crypto::OpenCheckpoint(note, key.name(), key);
  (void)chemledger::crypto::OpenTrustList(note, key);
  return 0;
}
