#include "web/console_sessions.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/wire.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"

namespace chemledger::web {
namespace {

std::string RandomToken() { return absl::WebSafeBase64Escape(crypto::RandomBytes(32)); }

std::string TokenKey(absl::string_view token) { return crypto::Sha256(token).ToBytes(); }

}  // namespace

void ConsoleSessions::DropExpired(absl::Time now) {
  for (auto it = challenges_.begin(); it != challenges_.end();) {
    it = it->second <= now ? challenges_.erase(it) : std::next(it);
  }
  for (auto it = tickets_.begin(); it != tickets_.end();) {
    it = it->second.expires <= now ? tickets_.erase(it) : std::next(it);
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  }
}

absl::StatusOr<v1::ConsoleChallenge> ConsoleSessions::Challenge(absl::Time now) {
  const std::string challenge = crypto::RandomBytes(32);
  absl::MutexLock lock(&mu_);
  DropExpired(now);
  if (challenges_.size() >= kMaxOutstanding) {
    return absl::ResourceExhaustedError(
        absl::StrCat(kMaxOutstanding, " sign-in challenges are waiting for an answer: try again "
                                      "in two minutes"));
  }
  const absl::Time expires = now + kChallengeLifetime;
  challenges_[challenge] = expires;
  v1::ConsoleChallenge out;
  out.set_origin(origin_);
  out.set_challenge(challenge);
  out.set_expires_unix_seconds(absl::ToUnixSeconds(expires));
  return out;
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
  {
    // Used up here, whatever follows.
    absl::MutexLock lock(&mu_);
    DropExpired(now);
    auto it = challenges_.find(login.challenge());
    if (it == challenges_.end()) {
      return absl::UnauthenticatedError(
          "login.challenge: not a challenge this server gave, or used or expired (a challenge "
          "is good once, for two minutes)");
    }
    challenges_.erase(it);
  }
  absl::string_view console = login.console();
  if (!absl::ConsumePrefix(&console, "https://") && !absl::ConsumePrefix(&console, "http://")) {
    return absl::InvalidArgumentError(
        "login.console: the console's address as called, https://HOST[:PORT], is required");
  }
  if (console != host) {
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
  const std::string ticket = RandomToken();
  const absl::Time expires = now + kTicketLifetime;
  {
    absl::MutexLock lock(&mu_);
    if (tickets_.size() >= kMaxOutstanding) {
      return absl::ResourceExhaustedError(
          absl::StrCat(kMaxOutstanding, " sign-in tickets are waiting to be opened: try again "
                                        "in two minutes"));
    }
    tickets_[TokenKey(ticket)] = Ticket{key_id->ToString(), expires};
  }
  v1::ConsoleTicket out;
  out.set_enter_path(absl::StrCat("/console/enter?ticket=", ticket));
  out.set_expires_unix_seconds(absl::ToUnixSeconds(expires));
  return out;
}

absl::StatusOr<ConsoleSessions::Opened> ConsoleSessions::Enter(absl::string_view ticket,
                                                               absl::Time now) {
  absl::MutexLock lock(&mu_);
  DropExpired(now);
  auto it = tickets_.find(TokenKey(ticket));
  if (it == tickets_.end()) {
    return absl::UnauthenticatedError(
        "ticket: not a ticket this server gave, or already opened or expired (a ticket opens "
        "once, within two minutes of chemaudit login)");
  }
  const std::string key_id = it->second.key_id;
  tickets_.erase(it);
  // A key's oldest session ends when it opens one too many.
  std::vector<std::map<std::string, Session>::iterator> held;
  for (auto s = sessions_.begin(); s != sessions_.end(); ++s) {
    if (s->second.key_id == key_id) held.push_back(s);
  }
  while (static_cast<int>(held.size()) >= kMaxSessionsPerKey) {
    auto oldest = held.begin();
    for (auto h = held.begin(); h != held.end(); ++h) {
      if ((*h)->second.created < (*oldest)->second.created) oldest = h;
    }
    sessions_.erase(*oldest);
    held.erase(oldest);
  }
  if (sessions_.size() >= kMaxOutstanding) {
    return absl::ResourceExhaustedError(
        absl::StrCat(kMaxOutstanding, " console sessions are open: try again later"));
  }
  Opened opened{RandomToken(), now + kSessionLifetime};
  sessions_[TokenKey(opened.token)] = Session{key_id, now, opened.expires};
  return opened;
}

absl::StatusOr<ConsoleSessions::Reader> ConsoleSessions::ReaderOf(
    const storage::StateReader& state, absl::string_view token, absl::Time now) {
  Reader reader;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(TokenKey(token));
    if (it == sessions_.end() || it->second.expires <= now) {
      if (it != sessions_.end()) sessions_.erase(it);
      return absl::UnauthenticatedError(
          "session: none, or ended (sign in again with chemaudit login)");
    }
    reader.key_id = it->second.key_id;
    reader.expires = it->second.expires;
  }
  absl::StatusOr<crypto::KeyId> key_id = crypto::KeyId::Parse(reader.key_id);
  if (!key_id.ok()) return key_id.status();
  absl::StatusOr<v1::Actor> actor = registry::ActiveSigner(state, *key_id);
  if (!actor.ok() || !registry::HasOversightRole(*actor)) {
    End(token);
    if (!actor.ok()) {
      return absl::Status(actor.status().code(),
                          absl::StrCat("session ended: ", actor.status().message()));
    }
    return absl::PermissionDeniedError("session ended: the key's actor is no longer a regulator");
  }
  reader.actor = *std::move(actor);
  return reader;
}

void ConsoleSessions::End(absl::string_view token) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(TokenKey(token));
}

}  // namespace chemledger::web
