// `chemaudit login`: signs a regulator in to the console (docs/console.md,
// proto/chemledger/v1/console.proto) and gives the address a browser opens
// once to get its session.

#ifndef CHEMLEDGER_TOOLS_CHEMAUDIT_CONSOLE_LOGIN_H_
#define CHEMLEDGER_TOOLS_CHEMAUDIT_CONSOLE_LOGIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"

namespace chemledger::chemaudit {

struct ConsoleEntry {
  // "<console>/console/enter?ticket=...#note-key=<pinned verifier key>": the
  // fragment (never sent to the server) pins the log's key in the page,
  // which checks every proof against it.
  std::string url;
  absl::Time expires;
};

// Asks `console` ("https://HOST:PORT", or "http://" on loopback) for a
// challenge, checks that it names the deployment `note_key` is pinned for,
// signs it with `key` and trades the signature for a one-time ticket.
// `tls_ca_file`: the PEM file of the CA that signed the server's
// certificate (empty: the system's).
absl::StatusOr<ConsoleEntry> SignInToConsole(const std::string& console,
                                             const crypto::SigningKey& key,
                                             const crypto::NoteVerifier& note_key,
                                             const std::string& tls_ca_file);

}  // namespace chemledger::chemaudit

#endif  // CHEMLEDGER_TOOLS_CHEMAUDIT_CONSOLE_LOGIN_H_
