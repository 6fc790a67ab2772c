#include "web/console_sessions.h"

#include <sodium.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/wire.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "services/common/big_endian.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"

namespace chemledger::web {
namespace {

std::string RandomToken() { return absl::WebSafeBase64Escape(crypto::RandomBytes(32)); }

std::string TokenKey(absl::string_view token) { return crypto::Sha256(token).ToBytes(); }

// A challenge is its expiry (Unix seconds, 8 bytes big-endian), 8 random
// bytes, and the first 16 bytes of HMAC-SHA-256, under the key of the
// expiry's day, of the origin, a newline and those 16 bytes. Nothing is
// kept when one is given, so asking for challenges fills nothing; a login
// that succeeds marks its challenge used.
constexpr size_t kChallengeBytes = 32;
constexpr size_t kChallengeRandomBytes = 8;
constexpr size_t kChallengeMacBytes = 16;
constexpr size_t kChallengeKeyBytes = crypto_auth_hmacsha256_KEYBYTES;
// How long a used challenge's mark outlives the challenge.
constexpr absl::Duration kUsedMarkMargin = absl::Minutes(3);

absl::Status UnknownChallenge() {
  return absl::UnauthenticatedError(
      "login.challenge: not a challenge this server gave, or used or expired (a challenge is good "
      "once, for two minutes)");
}

std::string ChallengeMac(absl::string_view key, absl::string_view origin, absl::string_view head) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(origin.data()),
                                origin.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>("\n"), 1);
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(head.data()),
                                head.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  return std::string(reinterpret_cast<const char*>(mac), kChallengeMacBytes);
}

}  // namespace

constexpr char kChallengeKeys[] = "console-challenge-key";
constexpr char kUsedChallenges[] = "console-challenge-used";
constexpr char kTickets[] = "console-ticket";
constexpr char kSessions[] = "console-session";

// A session's record: its key id, when it began and when it ends.
static std::string SessionValue(absl::string_view key_id, absl::Time created, absl::Time expires) {
  return absl::StrCat(key_id, "\n", absl::ToUnixMicros(created), "\n",
                      absl::ToUnixMicros(expires));
}

ConsoleSessions::ConsoleSessions(std::string origin, std::shared_ptr<EphemeralRecords> records)
    : origin_(std::move(origin)),
      records_(records != nullptr ? std::move(records)
                                  : std::shared_ptr<EphemeralRecords>(NewLocalEphemeralRecords())) {}

absl::StatusOr<std::optional<std::string>> ConsoleSessions::ChallengeKey(int64_t day, bool make,
                                                                         absl::Time now) {
  // Read from the records every time (a sign-in step is rare): a copy kept
  // here could differ from the records' after the process keeping them lost
  // the day's key (a power loss) and another instance made a new one.
  const std::string name = absl::StrCat(day);
  absl::StatusOr<std::optional<std::string>> kept =
      records_->Get(kChallengeKeys, name, /*take=*/false, now);
  if (!kept.ok()) return kept.status();
  if (*kept && (*kept)->size() != kChallengeKeyBytes) {
    // A damaged record: no key, and made again when one is asked for (else
    // it would block sign-in until it expires).
    if (!make) return std::nullopt;
    if (absl::Status s = records_->Delete(kChallengeKeys, name); !s.ok()) return s;
    *kept = std::nullopt;
  }
  if (!*kept && make) {
    // The first instance to need the day's key makes it; the others take
    // that one (of two makers, one wins).
    EphemeralRecords::Limits limits;
    limits.max_of_kind = 16;
    limits.only_if_absent = true;
    absl::Status made = records_->Put(kChallengeKeys, name, crypto::RandomBytes(kChallengeKeyBytes),
                                      "", absl::FromUnixSeconds((day + 2) * 86400), limits, now);
    if (!made.ok() && !absl::IsAlreadyExists(made)) return made;
    kept = records_->Get(kChallengeKeys, name, /*take=*/false, now);
    if (!kept.ok()) return kept.status();
  }
  if (!*kept) return std::nullopt;
  if ((*kept)->size() != kChallengeKeyBytes) {
    return absl::DataLossError("the console's challenge key record is damaged");
  }
  return kept;
}

absl::StatusOr<v1::ConsoleChallenge> ConsoleSessions::Challenge(absl::Time now) {
  const absl::Time expires = now + kChallengeLifetime;
  const int64_t expiry = absl::ToUnixSeconds(expires);
  absl::StatusOr<std::optional<std::string>> key = ChallengeKey(expiry / 86400, true, now);
  if (!key.ok()) return key.status();
  if (!*key) return absl::UnavailableError("the console's challenge key could not be made");
  const std::string head = absl::StrCat(BigEndian64(static_cast<uint64_t>(expiry)),
                                        crypto::RandomBytes(kChallengeRandomBytes));
  v1::ConsoleChallenge out;
  out.set_origin(origin_);
  out.set_challenge(absl::StrCat(head, ChallengeMac(**key, origin_, head)));
  out.set_expires_unix_seconds(expiry);
  return out;
}

absl::StatusOr<int64_t> ConsoleSessions::CheckChallenge(absl::string_view challenge,
                                                        absl::Time now) {
  if (challenge.size() != kChallengeBytes) return UnknownChallenge();
  const int64_t expiry = static_cast<int64_t>(FromBigEndian64(challenge));
  // (A minute's grace beyond the lifetime for the clocks of several
  // console instances.)
  if (expiry <= absl::ToUnixSeconds(now) ||
      expiry > absl::ToUnixSeconds(now + kChallengeLifetime + absl::Minutes(1))) {
    return UnknownChallenge();
  }
  absl::StatusOr<std::optional<std::string>> key = ChallengeKey(expiry / 86400, false, now);
  if (!key.ok()) return key.status();
  if (!*key) return UnknownChallenge();
  const absl::string_view head = challenge.substr(0, kChallengeBytes - kChallengeMacBytes);
  const std::string mac = ChallengeMac(**key, origin_, head);
  if (sodium_memcmp(mac.data(), challenge.data() + head.size(), kChallengeMacBytes) != 0) {
    return UnknownChallenge();
  }
  return expiry;
}

absl::StatusOr<v1::ConsoleTicket> ConsoleSessions::Login(const storage::StateReader& state,
                                                         const v1::ConsoleLoginRequest& request,
                                                         absl::string_view host, absl::Time now) {
  v1::ConsoleLogin login;
  if (request.login().empty() || !login.ParseFromString(request.login())) {
    return absl::InvalidArgumentError("login: must be a serialized chemledger.v1.ConsoleLogin");
  }
  if (login.origin() != origin_) {
    return absl::InvalidArgumentError(absl::StrCat("login.origin: '", login.origin(),
                                                   "' is not this deployment ('", origin_, "')"));
  }
  // Checked here; used up below, by a login that succeeds.
  absl::StatusOr<int64_t> challenge_expiry = CheckChallenge(login.challenge(), now);
  if (!challenge_expiry.ok()) return challenge_expiry.status();
  absl::string_view console = login.console();
  if (!absl::ConsumePrefix(&console, "https://") && !absl::ConsumePrefix(&console, "http://")) {
    return absl::InvalidArgumentError(
        "login.console: the console's address as called, https://HOST[:PORT], is required");
  }
  // Host names are not case-sensitive: `host` comes lower-cased.
  if (absl::AsciiStrToLower(console) != host) {
    return absl::InvalidArgumentError(absl::StrCat(
        "login.console: '", login.console(), "' is not this console (", host,
        "): a login is good only at the address its signer called"));
  }
  absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(login.key_id());
  if (!key_id.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("login.key_id: ", key_id.status().message()));
  }
  absl::StatusOr<crypto::Signature> signature = crypto::Signature::FromBytes(request.signature());
  if (!signature.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature: ", signature.status().message()));
  }
  // Whether the key may act is told only to whoever holds it.
  absl::StatusOr<v1::Actor> actor = registry::ActiveSigner(state, *key_id);
  absl::StatusOr<crypto::VerifyingKey> key =
      actor.ok() ? crypto::VerifyingKey::FromBytes(actor->public_key()) : actor.status();
  if (!key.ok() || !key->Verify(api::kConsoleLoginContext, request.login(), *signature).ok()) {
    return absl::UnauthenticatedError(
        "login.key_id, signature: not the signature of a registered key that may act now "
        "(unknown, revoked, or of a blacklisted enterprise) over this login");
  }
  if (!registry::HasOversightRole(*actor)) {
    return absl::PermissionDeniedError(
        "login.key_id: the console is for regulators and platform administrators");
  }
  // Used up: of two logins with one challenge, one gets a ticket. Only
  // registered regulators' signed logins are recorded here. The mark
  // outlives the challenge by kUsedMarkMargin, as the store's clock judges
  // the mark and each console instance's clock the challenge (a minute
  // apart at most is allowed), so no instance takes a challenge whose mark
  // the store has dropped. (A bound per key that refuses, never one that
  // drops a key's oldest mark: that challenge would be good again.)
  {
    EphemeralRecords::Limits limits;
    limits.max_of_kind = kMaxOutstanding;
    limits.only_if_absent = true;
    limits.refuse_beyond_per_owner = kMaxSignInsPerKey;
    absl::Status used =
        records_->Put(kUsedChallenges, login.challenge(), "", key_id->ToString(),
                      absl::FromUnixSeconds(*challenge_expiry) + kUsedMarkMargin, limits, now);
    if (absl::IsAlreadyExists(used)) return UnknownChallenge();
    if (used == OwnerHoldsTooManyRecords(kUsedChallenges, kMaxSignInsPerKey)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "login.key_id: ", kMaxSignInsPerKey,
          " sign-ins by this key in the last few minutes: try again in a few minutes"));
    }
    if (absl::IsResourceExhausted(used)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          kMaxOutstanding, " sign-ins in the last five minutes: try again in a few minutes"));
    }
    if (!used.ok()) return used;
  }
  const std::string ticket = RandomToken();
  const absl::Time expires = now + kTicketLifetime;
  absl::Status kept = records_->Put(kTickets, TokenKey(ticket), key_id->ToString(), "", expires,
                                    {kMaxOutstanding, 0}, now);
  if (absl::IsResourceExhausted(kept)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(kMaxOutstanding, " sign-in tickets are waiting to be opened: try again "
                                      "in two minutes"));
  }
  if (!kept.ok()) return kept;
  v1::ConsoleTicket out;
  out.set_enter_path(absl::StrCat("/console/enter?ticket=", ticket));
  out.set_expires_unix_seconds(absl::ToUnixSeconds(expires));
  return out;
}

absl::StatusOr<ConsoleSessions::Opened> ConsoleSessions::Enter(absl::string_view ticket,
                                                               absl::Time now) {
  const auto unknown = [] {
    return absl::UnauthenticatedError(
        "ticket: not a ticket this server gave, or already opened or expired (a ticket opens "
        "once, within two minutes of chemaudit login)");
  };
  // The ticket is taken only once the session is kept: a failure between
  // leaves it to be opened again.
  absl::StatusOr<std::optional<std::string>> key_id =
      records_->Get(kTickets, TokenKey(ticket), /*take=*/false, now);
  if (!key_id.ok()) return key_id.status();
  if (!*key_id) return unknown();
  // A key's oldest session ends when it opens one too many.
  Opened opened{RandomToken(), now + kSessionLifetime};
  absl::Status kept =
      records_->Put(kSessions, TokenKey(opened.token), SessionValue(**key_id, now, opened.expires),
                    **key_id, opened.expires, {kMaxOutstanding, kMaxSessionsPerKey}, now);
  if (absl::IsResourceExhausted(kept)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(kMaxOutstanding, " console sessions are open: try again later"));
  }
  if (!kept.ok()) return kept;
  absl::StatusOr<std::optional<std::string>> taken =
      records_->Get(kTickets, TokenKey(ticket), /*take=*/true, now);
  if (!taken.ok() || !*taken) {
    // Opened at the same moment elsewhere: one session per ticket.
    records_->Delete(kSessions, TokenKey(opened.token)).IgnoreError();
    return taken.ok() ? unknown() : taken.status();
  }
  return opened;
}

absl::StatusOr<ConsoleSessions::Reader> ConsoleSessions::ReaderOf(
    const storage::StateReader& state, absl::string_view token, absl::Time now) {
  Reader reader;
  {
    absl::StatusOr<std::optional<std::string>> session =
        records_->Get(kSessions, TokenKey(token), /*take=*/false, now);
    if (!session.ok()) return session.status();
    std::vector<std::string> parts;
    if (*session) parts = absl::StrSplit(**session, '\n');
    int64_t expires = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[2], &expires) ||
        absl::FromUnixMicros(expires) <= now) {
      return absl::UnauthenticatedError(
          "session: none, or ended (sign in again with chemaudit login)");
    }
    reader.key_id = parts[0];
    reader.expires = absl::FromUnixMicros(expires);
  }
  absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(reader.key_id);
  if (!key_id.ok()) return key_id.status();
  absl::StatusOr<v1::Actor> actor = registry::ActiveSigner(state, *key_id);
  if (!actor.ok() || !registry::HasOversightRole(*actor)) {
    // Refused now whether or not its record goes: every read checks the
    // actor again.
    End(token).IgnoreError();
    if (!actor.ok()) {
      return absl::Status(actor.status().code(),
                          absl::StrCat("session ended: ", actor.status().message()));
    }
    return absl::PermissionDeniedError("session ended: the key's actor is no longer a regulator");
  }
  reader.actor = *std::move(actor);
  return reader;
}

absl::Status ConsoleSessions::End(absl::string_view token) {
  if (token.empty()) return absl::OkStatus();  // no cookie: no session to end
  return records_->Delete(kSessions, TokenKey(token));
}

}  // namespace chemledger::web
