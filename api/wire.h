// The wire contract of ChemLedger, for clients and servers alike: the
// signature contexts (payload types) each signed request carries, the full
// method names that read credentials sign, and the limits the server
// enforces. Clients (chemctl, chemscan, chembench, tests) link this, not the
// server's cores. docs/signatures.md explains the contexts; the .proto files
// under proto/chemledger/v1 the messages.
//
// Constants only; thread-safe.

#ifndef CHEMLEDGER_API_WIRE_H_
#define CHEMLEDGER_API_WIRE_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "crypto/keys.h"

namespace chemledger::api {

// ---- Signature contexts: the payload_type of each kind of signed request.

// Log entry 0: the deployment and its first administrator (chemledger.v1.Genesis).
inline constexpr crypto::SignatureContext kGenesisContext(
    "application/vnd.chemledger.genesis.v1+protobuf");
// chemledger.v1.RegistryRequest
inline constexpr crypto::SignatureContext kRegistryContext(
    "application/vnd.chemledger.registry.v1+protobuf");
// chemledger.v1.IssueLabelsRequest
inline constexpr crypto::SignatureContext kIssueLabelsContext(
    "application/vnd.chemledger.issue-labels.v1+protobuf");
// chemledger.v1.Event
inline constexpr crypto::SignatureContext kEventContext(
    "application/vnd.chemledger.event.v1+protobuf");
// chemledger.v1.WaybillRequest
inline constexpr crypto::SignatureContext kWaybillContext(
    "application/vnd.chemledger.waybill.v1+protobuf");
// chemledger.v1.ConsoleLogin: a regulator signing in to the console
// (docs/console.md); never a log entry.
inline constexpr crypto::SignatureContext kConsoleLoginContext(
    "application/vnd.chemledger.console-login.v1+protobuf");
// The context of a signed request the ledger takes (registry change, label
// issuance, event, waybill), by its payload type; null for any other.
inline const crypto::SignatureContext* SignedRequestContext(absl::string_view payload_type) {
  static const crypto::SignatureContext* const kTaken[] = {
      &kRegistryContext, &kIssueLabelsContext, &kEventContext, &kWaybillContext};
  for (const crypto::SignatureContext* c : kTaken) {
    if (c->payload_type() == payload_type) return c;
  }
  return nullptr;
}

// chemledger.v1.RefusedRequest: a refused request, recorded by the server
// (its envelope is not signed; the request inside it is).
inline constexpr char kRefusalPayloadType[] = "application/vnd.chemledger.refusal.v1+protobuf";

// chemledger.v1.PublicScan: an anonymous scan of a lost, ended or voided
// package's label, recorded by the server (its envelope is not signed; the
// label inside is, by a label key).
inline constexpr char kPublicScanPayloadType[] =
    "application/vnd.chemledger.public-scan.v1+protobuf";

// chemledger.v1.MajorHazardAlert: a site crossed GB 18218's Σ q/Q = 1 or
// changed grade, recorded by the server after the event that did it (its
// envelope is not signed; the signed checkpoint covers it).
inline constexpr char kMajorHazardAlertPayloadType[] =
    "application/vnd.chemledger.major-hazard-alert.v1+protobuf";

// ---- Full method names, as read credentials sign them.

inline constexpr char kGetEnterpriseMethod[] = "/chemledger.v1.RegistryService/GetEnterprise";
inline constexpr char kGetProductMethod[] = "/chemledger.v1.RegistryService/GetProduct";
inline constexpr char kListProductsMethod[] = "/chemledger.v1.RegistryService/ListProducts";
inline constexpr char kListSitesMethod[] = "/chemledger.v1.RegistryService/ListSites";
inline constexpr char kGetActorMethod[] = "/chemledger.v1.RegistryService/GetActor";
inline constexpr char kGetActorKeyMethod[] = "/chemledger.v1.RegistryService/GetActorKey";
inline constexpr char kGetRegistryEntryMethod[] =
    "/chemledger.v1.RegistryService/GetRegistryEntry";
inline constexpr char kListPendingProductsMethod[] =
    "/chemledger.v1.RegistryService/ListPendingProducts";
inline constexpr char kListProductFlagChangesMethod[] =
    "/chemledger.v1.RegistryService/ListProductFlagChanges";
// Open to anyone (no read credentials): reference tables are public.
inline constexpr char kListReferenceTablesMethod[] =
    "/chemledger.v1.RegistryService/ListReferenceTables";
inline constexpr char kGetStatementTextsMethod[] =
    "/chemledger.v1.RegistryService/GetStatementTexts";
inline constexpr char kFindCatalogueEntriesMethod[] =
    "/chemledger.v1.RegistryService/FindCatalogueEntries";
inline constexpr char kResolveLabelMethod[] = "/chemledger.v1.LabelService/ResolveLabel";
// Read credentials for IssueLabels (signed over no request bytes, as a
// stream's): required on every call, by an actor of the labels' enterprise
// (the signed request may be in the log, where others read it).
inline constexpr char kIssueLabelsMethod[] = "/chemledger.v1.LabelService/IssueLabels";
inline constexpr char kGetEventMethod[] = "/chemledger.v1.LedgerService/GetEvent";
inline constexpr char kGetHistoryMethod[] = "/chemledger.v1.LedgerService/GetHistory";
inline constexpr char kListStockMethod[] = "/chemledger.v1.LedgerService/ListStock";
inline constexpr char kListScanSignalsMethod[] = "/chemledger.v1.LedgerService/ListScanSignals";
inline constexpr char kGetSiteLoadMethod[] = "/chemledger.v1.LedgerService/GetSiteLoad";
inline constexpr char kListSiteFlagsMethod[] = "/chemledger.v1.LedgerService/ListSiteFlags";
inline constexpr char kGetWaybillMethod[] = "/chemledger.v1.WaybillService/GetWaybill";
inline constexpr char kListVehiclesInParkMethod[] =
    "/chemledger.v1.WaybillService/ListVehiclesInPark";
inline constexpr char kVerifyMethod[] = "/chemledger.v1.VerifyService/Verify";
inline constexpr char kGetHistoryBundleMethod[] = "/chemledger.v1.AuditService/GetHistoryBundle";
inline constexpr char kReconcileMethod[] = "/chemledger.v1.AuditService/Reconcile";
inline constexpr char kQueryEventsMethod[] = "/chemledger.v1.AuditService/QueryEvents";
inline constexpr char kListAnomaliesMethod[] = "/chemledger.v1.AuditService/ListAnomalies";
inline constexpr char kQueryStockMethod[] = "/chemledger.v1.AuditService/QueryStock";
inline constexpr char kSubscribeAnomaliesMethod[] =
    "/chemledger.v1.AuditService/SubscribeAnomalies";
inline constexpr char kExportEventsMethod[] = "/chemledger.v1.AuditService/ExportEvents";
inline constexpr char kQueryInTransitMethod[] = "/chemledger.v1.AuditService/QueryInTransit";
inline constexpr char kListMajorHazardSitesMethod[] =
    "/chemledger.v1.AuditService/ListMajorHazardSites";
inline constexpr char kAddCheckpointCosignatureMethod[] =
    "/chemledger.v1.LedgerService/AddCheckpointCosignature";
inline constexpr char kListWaybillsMethod[] = "/chemledger.v1.WaybillService/ListWaybills";
inline constexpr char kBackupMethod[] = "/chemledger.v1.AdminService/Backup";
// Unary writes (signed envelopes; no read credentials), the one public
// read of the registry, and the label keys' trust list (public).
inline constexpr char kAppendMethod[] = "/chemledger.v1.LedgerService/Append";
inline constexpr char kGetDeploymentMethod[] = "/chemledger.v1.RegistryService/GetDeployment";
inline constexpr char kGetTrustListMethod[] = "/chemledger.v1.LabelService/GetTrustList";
// Streams of writes open with credentials for their own method
// (services/registry/stream_gate.h).
inline constexpr char kAppendStreamMethod[] = "/chemledger.v1.LedgerService/AppendStream";
inline constexpr char kAppendBatchesMethod[] = "/chemledger.v1.LedgerService/AppendBatches";
inline constexpr char kSubmitStreamMethod[] = "/chemledger.v1.WaybillService/SubmitStream";
inline constexpr char kSubmitBatchesMethod[] = "/chemledger.v1.WaybillService/SubmitBatches";

// ---- Limits.

// Most packages one IssueLabelsRequest may ask for.
inline constexpr uint32_t kMaxPackagesPerRequest = 100000;
// Labels per IssueLabels response message.
inline constexpr uint32_t kLabelsPerMessage = 1000;
// What a VerifyRequest costs against VerifyService's rate limits: 1 per URL
// and this per image. Reading a sharp photo takes up to a few hundred
// milliseconds of a core; no photo is read longer than 1 s and 1 s a photo
// per call (render/qr_photos.h).
inline constexpr size_t kVerifyImageCost = 10;
// Most codes VerifyService reads from one image; each beyond
// kVerifyImageCost costs 1 more, charged once the image is read, so an
// image costs at most this much.
inline constexpr size_t kVerifyMaxCodesPerImage = 100;
// What a VerifyRequest of `urls` URLs and `images` images costs up front.
inline constexpr size_t VerifyCallCost(size_t urls, size_t images) {
  return urls + kVerifyImageCost * images;
}
// Most codes one event may name (children of one packing included).
inline constexpr int kMaxCodesPerEvent = 1000;
// From rules epoch 13, most codes of one observation (OBSERVING) that its
// labels must prove the scan of: those its enterprise neither holds, has
// held, is sent nor carries (docs/events.md).
inline constexpr int kMaxLabelProofsPerObservation = 100;
// From rules epoch 14, most labels (non-empty Event.label_urls) one
// observation carries: each is a signature check.
inline constexpr int kMaxLabelsPerObservation = 100;
// The most anomalies a page of AuditService.ListAnomalies holds with their
// evidence (ListAnomaliesRequest.with_evidence).
inline constexpr uint32_t kMaxAnomalyPageSizeWithEvidence = 100;
// Most codes one event may touch, the contents of the aggregates it moves and
// a repackaging's outputs included.
inline constexpr int kMaxTouchedCodes = 10000;
// How deep aggregates may nest (a package on a pallet in a container: 2).
inline constexpr int kMaxNesting = 8;
// Largest log entry one event may make (its envelope and chain links).
inline constexpr size_t kMaxEventEntryBytes = 1 << 20;
// Largest log entry one waybill request may make.
inline constexpr size_t kMaxWaybillEntryBytes = 1 << 20;
// Most events one EventBatch (LedgerService.AppendBatches) may carry.
inline constexpr int kMaxEventsPerBatchMessage = 1000;
// Most requests one WaybillBatch (WaybillService.SubmitBatches) may carry.
inline constexpr int kMaxWaybillsPerBatchMessage = 256;

}  // namespace chemledger::api

#endif  // CHEMLEDGER_API_WIRE_H_
