// The read services' request validation (docs/fuzzing.md): whatever request
// bytes reach VerifyService, AuditService, LedgerService's reads or
// RegistryService's, their cores (verification.h, audit_reads.h,
// ledger_reads.h, log_proofs.h: the log's proofs, checkpoints and witnesses'
// co-signatures; registry_reads.h; WaybillService's reads, waybill_reads.h,
// and its online resolution of waybill codes) answer or refuse with a
// reason, and never crash. A ledger runs in this process on a real
// LevelDB store (testing/test_ledger.h), set up once: a producer with its
// administrator and methanol product, and issued labels; for the waybill
// reads also a carrier, a consignee, a park with a gate, and one waybill
// whose vehicle is inside the park. The input's first byte picks the
// request kind and the reader (the platform administrator, the producer's
// administrator, or for VerifyService anyone; for WaybillService also the
// carrier's administrator and the park's gate); the rest is the request's
// bytes (for RegistryService and WaybillService, the second byte picks the
// method and the rest is the request's bytes). AuditService's streams are
// fed through their cores too: ExportEvents's first parts, and a round of
// SubscribeAnomalies's feed (anomalies.h).

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/ledger_service.pb.h"
#include "chemledger/v1/verify_service.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/label_testing.h"
#include "google/protobuf/stubs/logging.h"
#include "render/qr.h"
#include "render/qr_photos.h"
#include "services/audit/anomalies.h"
#include "services/audit/audit_reads.h"
#include "services/common/envelope.h"
#include "services/ledger/ledger_reads.h"
#include "services/ledger/log_proofs.h"
#include "services/ledger/witness_cosignatures.h"
#include "services/notary/notary.h"
#include "services/registry/registry_reads.h"
#include "services/registry/registry_state.h"
#include "services/registry/registry_testing.h"
#include "services/verify/verification.h"
#include "services/waybill/waybill_code_resolution.h"
#include "services/waybill/waybill_reads.h"
#include "services/waybill/waybill_testing.h"
#include "testing/test_ledger.h"
#include "tests/fuzz/fuzz_ledger.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
namespace {

constexpr const char* kProducer = kFuzzProducer;

struct World {
  crypto::SigningKey admin = crypto::testing::TestKey(1);
  crypto::SigningKey producer_admin = crypto::testing::TestKey(2);
  std::unique_ptr<testing::TestLedger> ledger;
  AuditedLedger audited;  // the note key, its notary and the audit's answers
  std::unique_ptr<ledger::LedgerReads> ledger_reads;
  std::vector<v1::Actor> readers;
  std::vector<std::string> urls;
  // A witness (a regulator, as read credentials would give it), and the
  // co-signatures GetCheckpoint reads: the witness's of the checkpoint at
  // size 2, kept once (each AddCheckpointCosignature input gets a store of
  // its own, so that no input depends on the ones before it).
  v1::Actor witness;
  std::string cosigned_note;
  std::unique_ptr<ledger::WitnessCosignatures> cosignatures;
  // WaybillService's reads: the platform administrator, the consignor's
  // administrator, the carrier's and the park's gate; the waybill's code.
  std::unique_ptr<waybill::WaybillReads> waybill_reads;
  std::vector<v1::Actor> waybill_readers;
  std::string waybill_url;
};

const std::string& FuzzCarrier() {
  static const std::string* uscc = new std::string(registry::testing::ExampleUscc("110105"));
  return *uscc;
}
const std::string& FuzzConsignee() {
  static const std::string* uscc = new std::string(registry::testing::ExampleUscc("330200"));
  return *uscc;
}

void Must(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  fprintf(stderr, "read_requests_fuzzer: %s: %s\n", what, s.ToString().c_str());
  abort();
}

// The waybill reads' world: a carrier (administered by test key 5) and a
// consignee; the producer's first code commissioned and on waybill
// "FUZZ-1", whose vehicle entered park "FZ-CHEM" at gate G1 (test key 6).
void AddWaybillWorld(World& w, const std::string& code) {
  testing::TestLedger& t = *w.ledger;
  const crypto::SigningKey carrier_admin = crypto::testing::TestKey(5);
  const crypto::SigningKey gate = crypto::testing::TestKey(6);
  Must(t.RegisterEnterprise(w.admin, registry::testing::ExampleEnterprise(
                                         FuzzCarrier(), v1::CARRIER, v1::ROAD_TRANSPORT)),
       "carrier");
  Must(t.RegisterEnterprise(w.admin, registry::testing::ExampleEnterprise(
                                         FuzzConsignee(), v1::USER, v1::LICENCE_TYPE_UNSPECIFIED)),
       "consignee");
  Must(t.AddActor(w.admin, FuzzCarrier(), v1::ENTERPRISE_ADMIN, carrier_admin), "carrier admin");
  v1::RegistryRequest park;
  *park.mutable_register_park() = registry::testing::ExamplePark("FZ-CHEM");
  Must(t.Registry(w.admin, park).status(), "park");
  v1::RegistryRequest add_gate;
  *add_gate.mutable_add_actor() =
      registry::testing::ExampleActor("gate", v1::PARK_GATE, "", gate.verifying_key());
  add_gate.mutable_add_actor()->set_park_id("FZ-CHEM");
  Must(t.Registry(w.admin, add_gate).status(), "gate");
  v1::Event commissioning;
  commissioning.set_event_id("commission");
  commissioning.set_step(v1::COMMISSIONING);
  commissioning.add_codes(code);
  commissioning.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  commissioning.set_event_time_offset_minutes(480);
  commissioning.mutable_location()->set_enterprise_uscc(kProducer);
  commissioning.mutable_location()->set_site("main");
  absl::StatusOr<v1::SignedEnvelope> event =
      envelope::Sign(api::kEventContext, commissioning.SerializeAsString(), w.producer_admin);
  Must(event.status(), "commissioning");
  Must(t.ledger().Append(*event).status(), "commissioning");
  Must(t.AuthorizeCarrier(w.producer_admin, FuzzCarrier()), "authorization");
  const auto submit = [&](const crypto::SigningKey& key, const v1::WaybillRequest& r) {
    absl::StatusOr<v1::SignedEnvelope> e =
        envelope::Sign(api::kWaybillContext, r.SerializeAsString(), key);
    Must(e.status(), "waybill");
    return t.waybills().Apply(*e);
  };
  v1::WaybillRequest submission;
  submission.set_request_id("fuzz-1");
  *submission.mutable_submit() = waybill::testing::ExampleWaybill(
      "FUZZ-1", FuzzCarrier(), kProducer, FuzzConsignee(), {code}, 25000, "KGM");
  absl::StatusOr<waybill::WaybillReceipt> submitted = submit(carrier_admin, submission);
  Must(submitted.status(), "waybill");
  w.waybill_url = submitted->waybill_code;
  v1::WaybillRequest entry;
  entry.set_request_id("gate-1");
  v1::GatePassage* g = entry.mutable_gate();
  g->set_waybill_number("FUZZ-1");
  g->set_carrier_uscc(FuzzCarrier());
  g->set_park_id("FZ-CHEM");
  g->set_gate_id("G1");
  g->set_direction(v1::GatePassage::ENTRY);
  g->mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  Must(submit(gate, entry).status(), "gate entry");
  w.waybill_reads = std::make_unique<waybill::WaybillReads>(&t.waybills());
  std::shared_ptr<const storage::Snapshot> snapshot = t.client().Latest();
  for (const crypto::SigningKey* key : std::initializer_list<const crypto::SigningKey*>{
           &w.admin, &w.producer_admin, &carrier_admin, &gate}) {
    absl::StatusOr<v1::Actor> actor = registry::ActiveSigner(*snapshot, key->key_id());
    Must(actor.status(), "waybill reader");
    w.waybill_readers.push_back(*actor);
  }
}

World& TheWorld() {
  static World* world = [] {
    google::protobuf::SetLogHandler(nullptr);
    render::ReadQrPhotosInCallingThread();  // Verify's images, in-process
    auto* w = new World();
    LabelledLedger labelled =
        NewLabelledLedger("read_requests_fuzzer", w->admin, w->producer_admin, "READ", 3, 3);
    w->ledger = std::move(labelled.ledger);
    testing::TestLedger& t = *w->ledger;
    for (const label::IssuedLabel& l : labelled.labels) w->urls.push_back(l.url);
    std::shared_ptr<const storage::Snapshot> snapshot = t.client().Latest();
    for (const crypto::SigningKey* key : {&w->admin, &w->producer_admin}) {
      absl::StatusOr<v1::Actor> actor = registry::ActiveSigner(*snapshot, key->key_id());
      if (!actor.ok()) {
        fprintf(stderr, "read_requests_fuzzer: %s\n", actor.status().ToString().c_str());
        abort();
      }
      w->readers.push_back(*actor);
    }
    w->audited = NewAuditedLedger(t);
    w->ledger_reads = std::make_unique<ledger::LedgerReads>(&reference::ShippedReferenceTables());
    crypto::SigningKey witness_key = crypto::testing::TestKey(3);
    w->witness =
        registry::testing::ExampleActor("witness", v1::REGULATOR, "", witness_key.verifying_key());
    const crypto::NoteSigner& log = *w->audited.note_signer;
    const std::string witness_name = "witness/" + witness_key.key_id().ToString();
    w->cosigned_note = *crypto::NoteSigner::Create(witness_name, std::move(witness_key))
                            ->Cosign(*log.SignCheckpoint({log.name(), 2, *snapshot->Root(2)}));
    w->cosignatures = *ledger::WitnessCosignatures::Open("");
    v1::AddCheckpointCosignatureRequest kept;
    kept.set_cosigned_note(w->cosigned_note);
    if (absl::Status s =
            ledger::AddCosignature(*snapshot, w->witness, log.verifier(), kept, *w->cosignatures)
                .status();
        !s.ok()) {
      fprintf(stderr, "read_requests_fuzzer: %s\n", s.ToString().c_str());
      abort();
    }
    AddWaybillWorld(*w, labelled.labels[0].code);
    return w;
  }();
  return *world;
}

enum Kind : uint8_t {
  kVerify,
  kStock,
  kEvents,
  kReconcile,
  kAnomalies,
  kInTransit,
  kHistory,
  kMajorHazardSites,
  // LedgerService's reads.
  kGetEvent,
  kGetHistory,
  kListStock,
  kListScanSignals,
  kGetSiteLoad,
  kListSiteFlags,
  // LedgerService's log reads and the witnesses' co-signatures.
  kInclusionProof,
  kConsistencyProof,
  kCheckpoint,
  kCosignature,
  // RegistryService's reads: the input's second byte picks the method.
  kRegistry,
  // WaybillService's reads: the input's second byte picks the method.
  kWaybill,
  // AuditService's streams: ExportEvents (its first parts), and one round
  // of SubscribeAnomalies's feed.
  kExportEvents,
  kSubscribeAnomalies,
  kKinds
};

// A refusal must say why, and be the caller's fault or the state's, not the
// server's.
void CheckRefusal(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  if (s.message().empty() || s.code() == absl::StatusCode::kInternal ||
      s.code() == absl::StatusCode::kUnknown || s.code() == absl::StatusCode::kDataLoss) {
    fprintf(stderr, "read_requests_fuzzer: %s refused without a reason of the caller's: %s\n",
            what, s.ToString().c_str());
    abort();
  }
}

// RegistryService's reads, in the order of the input's second byte.
enum RegistryMethod : uint8_t {
  kListBlacklist,
  kGetPark,
  kListReferenceTables,
  kFindCatalogueEntries,
  kGetEnterprise,
  kGetProduct,
  kListProducts,
  kListPendingProducts,
  kListProductFlagChanges,
  kListSites,
  kGetActor,
  kGetActorKey,
  kGetRegistryEntry,
  kGetStatementTexts,
  kRegistryReads
};

// Parses `bytes` as the request of an open registry read and reads.
template <typename Request, typename Response>
int OpenRegistryRead(const storage::Snapshot& snapshot, const std::string& bytes,
                     absl::StatusOr<Response> (registry::RegistryReads::*read)(
                         const storage::Snapshot&, const Request&) const,
                     const char* what) {
  Request request;
  if (!request.ParseFromString(bytes)) return 0;
  CheckRefusal((registry::RegistryReads().*read)(snapshot, request).status(), what);
  return 0;
}

// Parses `bytes` as the request of `read`, one of `core`'s reads for a
// reader with credentials, and reads; 0 as libFuzzer wants.
template <typename Core, typename Request, typename Response>
int CoreRead(const Core& core, const storage::Snapshot& snapshot, const v1::Actor& reader,
             const std::string& bytes,
             absl::StatusOr<Response> (Core::*read)(const storage::Snapshot&, const v1::Actor&,
                                                    const Request&) const,
             const char* what) {
  Request request;
  if (!request.ParseFromString(bytes)) return 0;
  CheckRefusal((core.*read)(snapshot, reader, request).status(), what);
  return 0;
}

int ReadRegistry(const storage::Snapshot& snapshot, const v1::Actor& reader, uint8_t method,
                 const std::string& bytes) {
  using registry::RegistryReads;
  const RegistryReads registry_reads;
  switch (static_cast<RegistryMethod>(method % kRegistryReads)) {
    case kListBlacklist:
      return OpenRegistryRead(snapshot, bytes, &RegistryReads::ListBlacklist, "ListBlacklist");
    case kGetPark:
      return OpenRegistryRead(snapshot, bytes, &RegistryReads::GetPark, "GetPark");
    case kListReferenceTables:
      return OpenRegistryRead(snapshot, bytes, &RegistryReads::ListReferenceTables,
                              "ListReferenceTables");
    case kFindCatalogueEntries:
      return OpenRegistryRead(snapshot, bytes, &RegistryReads::FindCatalogueEntries,
                              "FindCatalogueEntries");
    case kGetStatementTexts:
      return OpenRegistryRead(snapshot, bytes, &RegistryReads::GetStatementTexts,
                              "GetStatementTexts");
    case kGetEnterprise:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::GetEnterprise,
                      "GetEnterprise");
    case kGetProduct:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::GetProduct,
                      "GetProduct");
    case kListProducts:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::ListProducts,
                      "ListProducts");
    case kListPendingProducts:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::ListPendingProducts,
                      "ListPendingProducts");
    case kListProductFlagChanges:
      return CoreRead(registry_reads, snapshot, reader, bytes,
                      &RegistryReads::ListProductFlagChanges, "ListProductFlagChanges");
    case kListSites:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::ListSites,
                      "ListSites");
    case kGetActor:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::GetActor,
                      "GetActor");
    case kGetActorKey:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::GetActorKey,
                      "GetActorKey");
    case kGetRegistryEntry:
      return CoreRead(registry_reads, snapshot, reader, bytes, &RegistryReads::GetRegistryEntry,
                      "GetRegistryEntry");
    default:
      return 0;
  }
}

// WaybillService's reads, in the order of the input's second byte.
enum WaybillMethod : uint8_t {
  kGetWaybill,
  kListWaybills,
  kListVehiclesInPark,
  kResolveWaybillCode,
  kWaybillReads
};

int ReadWaybills(const storage::Snapshot& snapshot, uint8_t reader_byte, uint8_t method,
                 const std::string& bytes) {
  World& w = TheWorld();
  const v1::Actor& reader = w.waybill_readers[reader_byte % w.waybill_readers.size()];
  switch (static_cast<WaybillMethod>(method % kWaybillReads)) {
    case kGetWaybill:
      return CoreRead(*w.waybill_reads, snapshot, reader, bytes, &waybill::WaybillReads::GetWaybill,
                      "GetWaybill");
    case kListWaybills: {
      v1::ListWaybillsRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      // A token this process sealed gives its position; anything else is
      // read as the position itself, which the adapter never passes but
      // the core must survive.
      absl::StatusOr<waybill::WaybillListPosition> position =
          waybill::OpenListWaybillsToken(request.page_token());
      const std::string after = position.ok() ? position->after : request.page_token();
      CheckRefusal(w.waybill_reads->ListWaybills(snapshot, reader, request, after).status(),
                   "ListWaybills");
      break;
    }
    case kListVehiclesInPark:
      return CoreRead(*w.waybill_reads, snapshot, reader, bytes,
                      &waybill::WaybillReads::ListVehiclesInPark, "ListVehiclesInPark");
    case kResolveWaybillCode: {
      v1::ResolveWaybillCodeRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      // Open to anyone: errors only when the store cannot be read.
      absl::StatusOr<v1::ResolveWaybillCodeResponse> resolved =
          waybill::ResolveWaybillCode(snapshot, request.url(), api::TodayInChina());
      if (!resolved.ok()) {
        fprintf(stderr, "read_requests_fuzzer: ResolveWaybillCode failed: %s\n",
                resolved.status().ToString().c_str());
        abort();
      }
      break;
    }
    default:
      break;
  }
  return 0;
}

std::string Input(Kind kind, uint8_t reader, const google::protobuf::Message& request) {
  return std::string(1, static_cast<char>(kind * 4 + reader)) + request.SerializeAsString();
}

std::string RegistryInput(RegistryMethod read, uint8_t reader,
                          const google::protobuf::Message& request) {
  return std::string(1, static_cast<char>(kRegistry * 4 + reader)) +
         std::string(1, static_cast<char>(read)) + request.SerializeAsString();
}

std::string WaybillInput(WaybillMethod read, uint8_t reader,
                         const google::protobuf::Message& request) {
  return std::string(1, static_cast<char>(kWaybill * 4 + reader)) +
         std::string(1, static_cast<char>(read)) + request.SerializeAsString();
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  World& w = TheWorld();
  v1::VerifyRequest verify;
  for (const std::string& url : w.urls) verify.add_urls(url);
  verify.add_urls("HTTPS://CL.EXAMPLE.CN/W/ABC");
  // A photo of a label too: its images are read in this process.
  v1::VerifyRequest photo;
  photo.add_images(*render::QrToPng(*render::EncodeQr(w.urls.front())));
  v1::StockQuery stock;
  stock.set_enterprise_uscc(kProducer);
  v1::EventQuery events;
  events.set_enterprise_uscc(kProducer);
  events.set_page_size(10);
  v1::ReconcileRequest reconcile;
  v1::ListAnomaliesRequest anomalies;
  v1::InTransitQuery in_transit;
  v1::GetHistoryBundleRequest history;
  history.set_code(w.urls[0]);
  v1::GetEventRequest get_event;
  get_event.set_enterprise_uscc(kProducer);
  get_event.set_event_id("e-1");
  v1::GetHistoryRequest get_history;
  get_history.set_code(w.urls[0]);
  get_history.set_page_size(2);
  v1::ListStockRequest list_stock;
  list_stock.set_enterprise_uscc(kProducer);
  list_stock.set_site("warehouse 1");
  v1::ListScanSignalsRequest scan_signals;
  scan_signals.set_page_size(5);
  v1::GetSiteLoadRequest site_load;
  site_load.set_site("warehouse 1");
  v1::ListSiteFlagsRequest site_flags;
  site_flags.set_enterprise_uscc(kProducer);
  v1::MajorHazardSitesQuery major_hazards;
  major_hazards.set_region_prefix("3501");
  v1::GetInclusionProofRequest inclusion;
  inclusion.set_leaf_index(1);
  v1::GetConsistencyProofRequest consistency;
  consistency.set_first_size(2);
  v1::GetCheckpointRequest checkpoint;
  checkpoint.set_with_cosignatures(true);
  v1::AddCheckpointCosignatureRequest cosignature;
  cosignature.set_cosigned_note(w.cosigned_note);
  v1::GetEnterpriseRequest enterprise;
  enterprise.set_uscc(kProducer);
  v1::ListSitesRequest sites;
  sites.set_enterprise_uscc(kProducer);
  v1::GetActorRequest actor;
  actor.set_key_id(w.admin.key_id().ToString());
  v1::GetRegistryEntryRequest registry_entry;
  registry_entry.set_log_index(1);
  v1::FindCatalogueEntriesRequest catalogue;
  catalogue.set_cas("67-56-1");
  v1::ListPendingProductsRequest pending;
  v1::ListBlacklistRequest blacklist;
  blacklist.set_page_size(10);
  v1::GetParkRequest park;
  park.set_park_id("P1");
  v1::ListReferenceTablesRequest reference_tables;
  v1::GetStatementTextsRequest statement_texts;
  statement_texts.add_codes("H225");
  statement_texts.add_codes("P301+P310");
  v1::GetProductRequest product;
  product.set_enterprise_uscc(kProducer);
  product.set_product_number("M01");
  v1::ListProductsRequest products;
  products.set_enterprise_uscc(kProducer);
  v1::ListProductFlagChangesRequest flag_changes;
  v1::GetWaybillRequest get_waybill;
  get_waybill.set_waybill_number("FUZZ-1");
  v1::GetWaybillRequest get_carriers_waybill = get_waybill;
  get_carriers_waybill.set_carrier_uscc(FuzzCarrier());
  v1::ListWaybillsRequest list_waybills;
  list_waybills.set_page_size(1);
  list_waybills.set_vehicle_plate("闽A12345");
  v1::ListWaybillsRequest list_of_consignee;
  list_of_consignee.set_consignee_uscc(FuzzConsignee());
  list_of_consignee.set_page_token(waybill::ListWaybillsToken({1, ""}));
  v1::ListVehiclesInParkRequest vehicles;
  vehicles.set_park_id("FZ-CHEM");
  v1::ResolveWaybillCodeRequest resolve;
  resolve.set_url(w.waybill_url);
  v1::ExportEventsRequest export_events;
  export_events.mutable_query()->set_enterprise_uscc(kProducer);
  export_events.set_consistency_from_size(2);
  v1::ListAnomaliesRequest subscribe;
  subscribe.set_after_log_index(1);
  return {Input(kVerify, 0, verify),
          Input(kVerify, 2, verify),
          Input(kVerify, 2, photo),
          Input(kStock, 1, stock),
          Input(kEvents, 1, events),
          Input(kReconcile, 0, reconcile),
          Input(kAnomalies, 0, anomalies),
          Input(kInTransit, 0, in_transit),
          Input(kHistory, 0, history),
          Input(kGetEvent, 1, get_event),
          Input(kGetHistory, 0, get_history),
          Input(kGetHistory, 1, get_history),
          Input(kListStock, 1, list_stock),
          Input(kListScanSignals, 0, scan_signals),
          Input(kGetSiteLoad, 1, site_load),
          Input(kListSiteFlags, 0, site_flags),
          Input(kMajorHazardSites, 0, major_hazards),
          Input(kInclusionProof, 0, inclusion),
          Input(kConsistencyProof, 0, consistency),
          Input(kCheckpoint, 0, checkpoint),
          Input(kCosignature, 0, cosignature),
          RegistryInput(kListBlacklist, 0, blacklist),
          RegistryInput(kGetPark, 0, park),
          RegistryInput(kListReferenceTables, 0, reference_tables),
          RegistryInput(kGetStatementTexts, 0, statement_texts),
          RegistryInput(kGetProduct, 1, product),
          RegistryInput(kListProducts, 0, products),
          RegistryInput(kListProductFlagChanges, 0, flag_changes),
          RegistryInput(kFindCatalogueEntries, 0, catalogue),
          RegistryInput(kGetEnterprise, 1, enterprise),
          RegistryInput(kListPendingProducts, 0, pending),
          RegistryInput(kListPendingProducts, 1, pending),
          RegistryInput(kListSites, 0, sites),
          RegistryInput(kListSites, 1, sites),
          RegistryInput(kGetActor, 1, actor),
          RegistryInput(kGetActorKey, 0, actor),
          RegistryInput(kGetRegistryEntry, 0, registry_entry),
          RegistryInput(kGetRegistryEntry, 1, registry_entry),
          WaybillInput(kGetWaybill, 0, get_waybill),
          WaybillInput(kGetWaybill, 1, get_carriers_waybill),
          WaybillInput(kGetWaybill, 2, get_waybill),
          WaybillInput(kListWaybills, 0, list_waybills),
          WaybillInput(kListWaybills, 2, list_of_consignee),
          WaybillInput(kListVehiclesInPark, 3, vehicles),
          WaybillInput(kListVehiclesInPark, 0, vehicles),
          WaybillInput(kResolveWaybillCode, 0, resolve),
          Input(kExportEvents, 0, export_events),
          Input(kExportEvents, 1, export_events),
          Input(kSubscribeAnomalies, 0, subscribe),
          Input(kSubscribeAnomalies, 1, subscribe)};
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chemledger;
  using fuzz::Kind;
  if (size < 1) return 0;
  fuzz::World& w = fuzz::TheWorld();
  const Kind kind = static_cast<Kind>((data[0] / 4) % fuzz::kKinds);
  const v1::Actor& reader = w.readers[(data[0] % 4) % w.readers.size()];
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  std::shared_ptr<const storage::Snapshot> snapshot = w.ledger->client().Latest();
  switch (kind) {
    case fuzz::kVerify: {
      v1::VerifyRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      const label::Scanner scanner =
          data[0] % 4 >= 2 ? label::Scanner::Anyone() : label::Scanner::Actor(reader);
      fuzz::CheckRefusal(
          verify::Verify(*snapshot, request, api::TodayInChina(), scanner).status(),
          "Verify");
      break;
    }
    case fuzz::kStock: {
      v1::StockQuery request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(w.audited.audit->QueryStock(*snapshot, reader, request).status(),
                         "QueryStock");
      break;
    }
    case fuzz::kEvents: {
      v1::EventQuery request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(w.audited.audit->QueryEvents(snapshot, reader, request).status(),
                         "QueryEvents");
      break;
    }
    case fuzz::kReconcile: {
      v1::ReconcileRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(w.audited.audit->Reconcile(*snapshot, reader, request).status(),
                         "Reconcile");
      break;
    }
    case fuzz::kAnomalies: {
      v1::ListAnomaliesRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(w.audited.audit->ListAnomalies(*snapshot, reader, request).status(),
                         "ListAnomalies");
      break;
    }
    case fuzz::kInTransit: {
      v1::InTransitQuery request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(w.audited.audit->QueryInTransit(*snapshot, reader, request).status(),
                         "QueryInTransit");
      break;
    }
    case fuzz::kHistory: {
      v1::GetHistoryBundleRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(w.audited.audit->GetHistoryBundle(*snapshot, reader, request).status(),
                         "GetHistoryBundle");
      break;
    }
    case fuzz::kMajorHazardSites: {
      v1::MajorHazardSitesQuery request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(w.audited.audit->ListMajorHazardSites(*snapshot, reader, request).status(),
                         "ListMajorHazardSites");
      break;
    }
    case fuzz::kGetEvent:
      return fuzz::CoreRead(*w.ledger_reads, *snapshot, reader, bytes,
                            &ledger::LedgerReads::GetEvent, "GetEvent");
    case fuzz::kGetHistory:
      return fuzz::CoreRead(*w.ledger_reads, *snapshot, reader, bytes,
                            &ledger::LedgerReads::GetHistory, "GetHistory");
    case fuzz::kListStock:
      return fuzz::CoreRead(*w.ledger_reads, *snapshot, reader, bytes,
                            &ledger::LedgerReads::ListStock, "ListStock");
    case fuzz::kListScanSignals:
      return fuzz::CoreRead(*w.ledger_reads, *snapshot, reader, bytes,
                            &ledger::LedgerReads::ListScanSignals, "ListScanSignals");
    case fuzz::kGetSiteLoad:
      return fuzz::CoreRead(*w.ledger_reads, *snapshot, reader, bytes,
                            &ledger::LedgerReads::GetSiteLoad, "GetSiteLoad");
    case fuzz::kListSiteFlags:
      return fuzz::CoreRead(*w.ledger_reads, *snapshot, reader, bytes,
                            &ledger::LedgerReads::ListSiteFlags, "ListSiteFlags");
    case fuzz::kInclusionProof: {
      v1::GetInclusionProofRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(ledger::InclusionProofOf(*snapshot, request).status(),
                         "GetInclusionProof");
      break;
    }
    case fuzz::kConsistencyProof: {
      v1::GetConsistencyProofRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(ledger::ConsistencyProofOf(*snapshot, request).status(),
                         "GetConsistencyProof");
      break;
    }
    case fuzz::kCheckpoint: {
      v1::GetCheckpointRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      fuzz::CheckRefusal(
          ledger::CheckpointFor(*snapshot, w.audited.note_signer->name(), *w.cosignatures, request)
              .status(),
          "GetCheckpoint");
      break;
    }
    case fuzz::kCosignature: {
      v1::AddCheckpointCosignatureRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      // Any reader byte: the witness, or a reader who is not one.
      const v1::Actor& cosigner = data[0] % 2 == 0 ? w.witness : reader;
      std::unique_ptr<ledger::WitnessCosignatures> cosignatures =
          *ledger::WitnessCosignatures::Open("");
      fuzz::CheckRefusal(
          ledger::AddCosignature(*snapshot, cosigner, w.audited.note_signer->verifier(), request,
                                 *cosignatures)
              .status(),
          "AddCheckpointCosignature");
      break;
    }
    case fuzz::kRegistry:
      if (bytes.empty()) return 0;
      return fuzz::ReadRegistry(*snapshot, reader, static_cast<uint8_t>(bytes[0]), bytes.substr(1));
    case fuzz::kExportEvents: {
      v1::ExportEventsRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      // The first parts only: a stream the caller may leave at any part.
      // A receiver that left is told CANCELLED, and only then.
      constexpr int kParts = 8;
      int parts = 0;
      const absl::Status exported = w.audited.audit->ExportEvents(
          *snapshot, reader, request,
          [&parts](const v1::QueryBundlePart&) { return ++parts < kParts; });
      if (absl::IsCancelled(exported) != (parts == kParts)) {
        fprintf(stderr, "read_requests_fuzzer: ExportEvents after %d parts: %s\n", parts,
                exported.ToString().c_str());
        abort();
      }
      fuzz::CheckRefusal(exported, "ExportEvents");
      break;
    }
    case fuzz::kSubscribeAnomalies: {
      v1::ListAnomaliesRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      // A subscription from where the request says (or the log's start),
      // one round of a few pages, as AuditService's loop reads it.
      audit::AnomalyFeed feed(request, 0, 20, 3);
      int told = 0;
      absl::StatusOr<bool> round = feed.Round(
          snapshot->size(),
          [&](const v1::ListAnomaliesRequest& page) {
            return w.audited.audit->ListAnomalies(*snapshot, reader, page);
          },
          [&told](const v1::Anomaly&) { return ++told < 10; });  // then the listener leaves
      fuzz::CheckRefusal(round.status(), "SubscribeAnomalies");
      break;
    }
    case fuzz::kWaybill:
      if (bytes.empty()) return 0;
      return fuzz::ReadWaybills(*snapshot, data[0] % 4, static_cast<uint8_t>(bytes[0]),
                                bytes.substr(1));
    default:
      break;
  }
  return 0;
}
