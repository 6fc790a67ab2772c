// RegistryService's reads (proto/chemledger/v1/registry_service.proto),
// answered from a snapshot: who may read what (a site's registration, a
// responder's break-glass grant, products under review) is decided here, not
// in the gRPC adapter (registry_service.h), which authenticates the reader,
// calls these and translates the status. Tests and the fuzz targets call
// them without the network.
//
// Refusals name the request field and the rule; none is the server's fault
// but a store that cannot be read or an entry that does not parse.
//
// Thread-safety: stateless; every method may be called from any thread.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_READS_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_READS_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/registry_service.pb.h"
#include "storage/store.h"

namespace chemledger::registry {

// The most sites ListSites answers (ListSitesResponse.truncated beyond).
inline constexpr size_t kMaxSitesListed = 10000;
// The most codes one GetStatementTexts call asks for.
inline constexpr int kMaxStatementCodesAsked = 100;

class RegistryReads {
 public:
  // Open to anyone (no read credentials).
  absl::StatusOr<v1::ListBlacklistResponse> ListBlacklist(
      const storage::Snapshot& snapshot, const v1::ListBlacklistRequest& request) const;
  absl::StatusOr<v1::Park> GetPark(const storage::Snapshot& snapshot,
                                   const v1::GetParkRequest& request) const;
  absl::StatusOr<v1::ListReferenceTablesResponse> ListReferenceTables(
      const storage::Snapshot& snapshot, const v1::ListReferenceTablesRequest& request) const;
  absl::StatusOr<v1::FindCatalogueEntriesResponse> FindCatalogueEntries(
      const storage::Snapshot& snapshot, const v1::FindCatalogueEntriesRequest& request) const;
  absl::StatusOr<v1::GetStatementTextsResponse> GetStatementTexts(
      const storage::Snapshot& snapshot, const v1::GetStatementTextsRequest& request) const;

  // For `reader`, a registered actor whose read credentials were checked.
  absl::StatusOr<v1::EnterpriseRecord> GetEnterprise(const storage::Snapshot& snapshot,
                                                     const v1::Actor& reader,
                                                     const v1::GetEnterpriseRequest& request) const;
  absl::StatusOr<v1::Product> GetProduct(const storage::Snapshot& snapshot, const v1::Actor& reader,
                                         const v1::GetProductRequest& request) const;
  absl::StatusOr<v1::ListProductsResponse> ListProducts(
      const storage::Snapshot& snapshot, const v1::Actor& reader,
      const v1::ListProductsRequest& request) const;
  absl::StatusOr<v1::ListPendingProductsResponse> ListPendingProducts(
      const storage::Snapshot& snapshot, const v1::Actor& reader,
      const v1::ListPendingProductsRequest& request) const;
  absl::StatusOr<v1::ListProductFlagChangesResponse> ListProductFlagChanges(
      const storage::Snapshot& snapshot, const v1::Actor& reader,
      const v1::ListProductFlagChangesRequest& request) const;
  absl::StatusOr<v1::ListSitesResponse> ListSites(const storage::Snapshot& snapshot,
                                                  const v1::Actor& reader,
                                                  const v1::ListSitesRequest& request) const;
  absl::StatusOr<v1::Actor> GetActor(const storage::Snapshot& snapshot, const v1::Actor& reader,
                                     const v1::GetActorRequest& request) const;
  absl::StatusOr<v1::ActorKeyRecord> GetActorKey(const storage::Snapshot& snapshot,
                                                 const v1::Actor& reader,
                                                 const v1::GetActorRequest& request) const;
  absl::StatusOr<v1::RegistryEntry> GetRegistryEntry(
      const storage::Snapshot& snapshot, const v1::Actor& reader,
      const v1::GetRegistryEntryRequest& request) const;
};

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_READS_H_
