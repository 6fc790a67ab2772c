// Every read answer says which log size it was served at: the gRPC initial
// metadata entry "chemledger-log-size" (decimal), the size of the snapshot
// the answer was read from (journal/ledger_client.h). A client that reads
// twice and compares sizes knows whether the ledger moved in between.
//
// Thread-safety: as the gRPC server context.

#ifndef CHEMLEDGER_SERVICES_COMMON_SNAPSHOT_METADATA_H_
#define CHEMLEDGER_SERVICES_COMMON_SNAPSHOT_METADATA_H_

#include <cstdint>
#include <string>

#include "grpcpp/server_context.h"

namespace chemledger {

inline constexpr char kLogSizeHeader[] = "chemledger-log-size";

inline void TellLogSize(grpc::ServerContextBase* context, uint64_t size) {
  context->AddInitialMetadata(kLogSizeHeader, std::to_string(size));
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_SNAPSHOT_METADATA_H_
