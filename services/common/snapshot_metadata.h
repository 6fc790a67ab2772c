// Every read answer says which tree head it was served at: the gRPC initial
// metadata entries "chemledger-log-size" (decimal) and "chemledger-log-root"
// (the RFC 6962 root hash at that size, 64 lowercase hex digits), of the
// snapshot the answer was read from (journal/ledger_client.h). A client that
// reads twice and compares sizes knows whether the ledger moved in between;
// one that reads from a read replica (docs/postgres.md) knows how far
// behind the writer the answer is, and can check the pair against any
// signed checkpoint with LedgerService.GetConsistencyProof.
//
// Thread-safety: as the gRPC server context.

#ifndef CHEMLEDGER_SERVICES_COMMON_SNAPSHOT_METADATA_H_
#define CHEMLEDGER_SERVICES_COMMON_SNAPSHOT_METADATA_H_

#include <cstdint>
#include <string>

#include "grpcpp/server_context.h"
#include "storage/store.h"

namespace chemledger {

inline constexpr char kLogSizeHeader[] = "chemledger-log-size";
inline constexpr char kLogRootHeader[] = "chemledger-log-root";

// The size and root of `snapshot`, the one the answer was read from.
inline void TellServedAt(grpc::ServerContextBase* context, const storage::Snapshot& snapshot) {
  context->AddInitialMetadata(kLogSizeHeader, std::to_string(snapshot.size()));
  context->AddInitialMetadata(kLogRootHeader, snapshot.root().ToHex());
}

// The size alone, for an answer that carries its snapshot's size only (a
// page token's).
inline void TellLogSize(grpc::ServerContextBase* context, uint64_t size) {
  context->AddInitialMetadata(kLogSizeHeader, std::to_string(size));
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_SNAPSHOT_METADATA_H_
