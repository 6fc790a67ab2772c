// Sign-in to the regulator console (docs/console.md): challenges, one-time
// tickets and sessions, kept as EphemeralRecords (services/common/
// ephemeral_records.h): chemledgerd's own, or in a cluster ledgerd's, which
// every auditd instance shares.
//
//   Challenge()   a challenge for the regulator's key to sign
//   Login()       the signed challenge in, a one-time ticket out, for a
//                 registered, unrevoked regulator or platform administrator
//   Enter()       the ticket in (once), a session token out: the browser's
//                 cookie (tickets and tokens are kept as their SHA-256)
//   Reader()      the actor a session token belongs to, judged by the
//                 registry at the snapshot given (a key revoked or an
//                 enterprise blacklisted since sign-in ends the session)
//   End()         signs out
//
// Nothing here is written to the log; the records are kept by chemledgerd or
// ledgerd on disk beside the store (services/common/ephemeral_store.h), so a
// restart signs no one out. Challenges are not kept (see Challenge), only
// the used ones. Bounds: challenges and tickets live two minutes, sessions
// kSessionLifetime; at most kMaxSessionsPerKey per key (a new one ends the
// oldest), kMaxSignInsPerKey live sign-ins per key, and
// kMaxOutstanding used challenges, tickets and sessions each in all.
//
// Thread-safety: thread-safe.

#ifndef CHEMLEDGER_WEB_CONSOLE_SESSIONS_H_
#define CHEMLEDGER_WEB_CONSOLE_SESSIONS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chemledger/v1/console.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "services/common/ephemeral_records.h"
#include "storage/store.h"

namespace chemledger::web {

class ConsoleSessions {
 public:
  static constexpr absl::Duration kChallengeLifetime = absl::Minutes(2);
  static constexpr absl::Duration kTicketLifetime = absl::Minutes(2);
  static constexpr absl::Duration kSessionLifetime = absl::Minutes(30);
  static constexpr int kMaxSessionsPerKey = 4;
  // Sign-ins one key may hold: a sign-in counts while its challenge's used
  // mark lives (3 to 6 minutes); more are refused, so that one key, from
  // however many addresses, cannot use up kMaxOutstanding for everyone.
  static constexpr size_t kMaxSignInsPerKey = 20;
  static constexpr size_t kMaxOutstanding = 10000;

  // `origin`: the deployment's name (the log's origin); `records`: where
  // the challenge key, used challenges, tickets and sessions are kept
  // (null: records of its own).
  explicit ConsoleSessions(std::string origin,
                           std::shared_ptr<EphemeralRecords> records = nullptr);

  const std::string& origin() const { return origin_; }

  // A new challenge, good for kChallengeLifetime. Nothing is kept for it
  // (it carries its expiry and a MAC under a key of the day that every
  // instance shares through the records), so however many are asked for,
  // none is refused and none pushes out another.
  absl::StatusOr<v1::ConsoleChallenge> Challenge(absl::Time now);

  // Checks `request` (a ConsoleLogin for this origin and for `host`, the
  // HOST[:PORT] the request was sent to, naming a challenge given and not
  // used, signed by the key it names, which the registry in `state` holds
  // for an active regulator or platform administrator) and gives a
  // one-time ticket. Errors name the field and the rule: InvalidArgument
  // (form, origin, console address), Unauthenticated (challenge; a key that
  // may not act or a signature that does not verify, alike, so that nobody
  // learns a key's standing without its signature), PermissionDenied (not a
  // regulator or administrator), ResourceExhausted (kMaxOutstanding logins
  // in the last five minutes). A login whose signature and signer are
  // accepted uses its challenge up, even when no ticket can then be given;
  // one refused before that leaves it good until it expires.
  absl::StatusOr<v1::ConsoleTicket> Login(const storage::StateReader& state,
                                          const v1::ConsoleLoginRequest& request,
                                          absl::string_view host, absl::Time now);

  // The session a ticket opens: its token (the cookie's value) and when it
  // ends. Unauthenticated for an unknown, used or expired ticket.
  struct Opened {
    std::string token;
    absl::Time expires;
  };
  absl::StatusOr<Opened> Enter(absl::string_view ticket, absl::Time now);

  // The actor whose session `token` is, as the registry in `state` has it
  // now (ActiveSigner), and when the session ends. Unauthenticated for an
  // unknown or expired session; the registry's refusal (which ends the
  // session) for a key that may no longer act.
  struct Reader {
    v1::Actor actor;
    std::string key_id;
    absl::Time expires;
  };
  absl::StatusOr<Reader> ReaderOf(const storage::StateReader& state, absl::string_view token,
                                  absl::Time now);

  // Ends the session (nothing if there is none). An error when its record
  // could not be deleted (the store unavailable, a cluster's ledgerd
  // restarting): then the session is still good until it expires.
  absl::Status End(absl::string_view token);

 private:
  // The challenge key of day `day` (Unix seconds / 86400), read from the
  // records, or (with `make`) made there when there is none; nullopt when
  // there is none and `make` is false.
  absl::StatusOr<std::optional<std::string>> ChallengeKey(int64_t day, bool make, absl::Time now);
  // The expiry of `challenge` when this deployment gave it and it has not
  // expired (whether it was used is the caller's to check); Unauthenticated
  // naming login.challenge otherwise.
  absl::StatusOr<int64_t> CheckChallenge(absl::string_view challenge, absl::Time now);

  const std::string origin_;
  const std::shared_ptr<EphemeralRecords> records_;
};

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_CONSOLE_SESSIONS_H_
