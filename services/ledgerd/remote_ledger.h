// The personalities' side of ledgerd's internal service (ledger_store_
// service.h): journal::LedgerClient and notary::LedgerNotary over gRPC, so
// that labeld, waybilld, verifyd and auditd run the same cores as the
// all-in-one server, which uses the in-process implementations.
//
// Snapshots are ledgerd's, named by their log size: Latest() and At() ask
// ledgerd to open (and keep) one, and every read of it names that size.
// A snapshot never changes, so what it reads is cached in it (state keys),
// and log entries, which never change either, are cached across snapshots
// (up to `entry_cache_bytes`), until ledgerd's process changes (a restart,
// perhaps on a restored store); stats() counts the hits. ledgerd keeps each
// snapshot it hands out for the request's reads (30 s after its last);
// Keep() asks it to keep one for paged reads (two minutes).
//
// Every call has a deadline. A call that finds ledgerd unreachable waits for
// it (gRPC's wait-for-ready) until the deadline and is retried with backoff
// when the connection breaks during it: reads always, Submit too, since
// every request a personality submits carries a request id and a retry is
// answered by the first one's receipt. The two calls whose repeat could
// not be told from a second use (remembering a read credential's nonce,
// taking a console ticket, marking a console challenge used) are sent once.
//
// Latest() cannot fail by its signature: when ledgerd cannot be reached, it
// returns a snapshot of the last size seen whose every read fails with
// Unavailable, and the request that reads it fails with that.
//
// Thread-safety: thread-safe; the client and notary may be used from any
// number of threads and must not outlive the RemoteLedger.

#ifndef CHEMLEDGER_SERVICES_LEDGERD_REMOTE_LEDGER_H_
#define CHEMLEDGER_SERVICES_LEDGERD_REMOTE_LEDGER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "journal/ledger_client.h"
#include "services/common/ephemeral_records.h"
#include "services/common/read_auth.h"
#include "services/notary/notary.h"

namespace chemledger::ledgerd {

struct RemoteLedgerOptions {
  absl::Duration read_deadline = absl::Seconds(10);
  absl::Duration submit_deadline = absl::Seconds(60);
  absl::Duration first_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  size_t entry_cache_bytes = 64 << 20;
};

struct RemoteLedgerStats {
  uint64_t entry_cache_hits = 0;
  uint64_t entry_cache_misses = 0;
  uint64_t state_cache_hits = 0;    // reads of a key its snapshot had read
  uint64_t state_cache_misses = 0;
  uint64_t retries = 0;             // calls sent again after a broken connection
};

class RemoteLedger {
 public:
  // Connects over `channel` (mutual TLS in a cluster: services/common/
  // tls_credentials.h) and learns the note key, waiting up to `wait` for ledgerd to
  // answer. Unavailable if it does not.
  static absl::StatusOr<std::unique_ptr<RemoteLedger>> Connect(
      std::shared_ptr<grpc::Channel> channel, RemoteLedgerOptions options = {},
      absl::Duration wait = absl::Seconds(30));
  ~RemoteLedger();

  journal::LedgerClient* client() const;
  const notary::LedgerNotary* notary() const;
  // ledgerd's memory of used read credentials, which every instance of
  // every service shares (read_auth::ReadCredentialChecker::Options::memory).
  std::shared_ptr<read_auth::NonceMemory> nonce_memory() const;
  // ledgerd's records that live minutes (the console's sign-in), shared by
  // every auditd instance.
  std::shared_ptr<EphemeralRecords> records() const;
  RemoteLedgerStats stats() const;

  // Internal.
  class Core;

 private:
  RemoteLedger() = default;
  std::shared_ptr<Core> core_;
  std::unique_ptr<journal::LedgerClient> client_;
  std::unique_ptr<notary::LedgerNotary> notary_;
  std::shared_ptr<read_auth::NonceMemory> nonces_;
  std::shared_ptr<EphemeralRecords> records_;
};

// Channel arguments a client of the internal service needs: message sizes,
// and reconnecting within two seconds of ledgerd's return.
grpc::ChannelArguments RemoteLedgerChannelArguments();

}  // namespace chemledger::ledgerd

#endif  // CHEMLEDGER_SERVICES_LEDGERD_REMOTE_LEDGER_H_
