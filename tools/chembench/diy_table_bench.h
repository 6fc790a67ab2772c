// The do-it-yourself PostgreSQL table a team would write instead of
// ChemLedger's store, measured beside it (issue 23's comparison): a gRPC
// service on loopback that takes LedgerService.Append, checks the event's
// Ed25519 signature itself, and links each code's events into a hash chain
// of their own in one table, one event per transaction, with PostgreSQL's
// own group commit and the server's `synchronous_commit`. No Merkle tree,
// no rules beyond the signature and a unique event id, no snapshots.
//
// Thread-safety: RunDiyTable may be called from one thread at a time.

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_DIY_TABLE_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_DIY_TABLE_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/keys.h"
#include "chemledger/v1/log.pb.h"
#include "tools/chembench/bench_figures.h"

namespace chemledger::chembench {

// Makes the schema `diy_bench` in the database `connection` names (dropping
// one left from an earlier run), serves it, and sends `events` (signed by
// `signer`) from `clients` threads, one unary call at a time each: the rate
// and each call's latency. Any refused event is an error.
absl::StatusOr<RateFigures> RunDiyTable(const std::string& connection,
                                        const crypto::VerifyingKey& signer,
                                        const std::vector<v1::SignedEnvelope>& events,
                                        int clients);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_DIY_TABLE_BENCH_H_
