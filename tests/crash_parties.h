// Test-only: the parties of deployment_crash_test and its child process: a
// producer (methanol, product M01), a carrier and a consignee, with
// deterministic keys.

#ifndef CHEMLEDGER_TESTS_CRASH_PARTIES_H_
#define CHEMLEDGER_TESTS_CRASH_PARTIES_H_

#include <string>

#include "crypto/keys.h"
#include "services/common/identifiers.h"

namespace chemledger::testing {

inline std::string CrashUscc(const std::string& region) {
  const std::string first17 = "91" + region + "M000100Y4";
  return first17 + ids::UsccCheckCharacter(first17);
}
inline std::string Producer() { return CrashUscc("350100"); }
inline std::string Carrier() { return CrashUscc("350500"); }
inline std::string Consignee() { return CrashUscc("330200"); }

inline crypto::SigningKey CrashKey(int seed) {
  return crypto::SigningKey::FromSeed(
      *crypto::SecretSeed::FromBytes(std::string(32, static_cast<char>(seed))));
}
inline crypto::SigningKey AdminKey() { return CrashKey(1); }
inline crypto::SigningKey ProducerKey() { return CrashKey(3); }
inline crypto::SigningKey CarrierKey() { return CrashKey(7); }

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTS_CRASH_PARTIES_H_
