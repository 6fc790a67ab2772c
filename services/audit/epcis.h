// A history bundle's events as a GS1 EPCIS 2.0 document (JSON-LD), for the
// regulators' and enterprises' systems that speak EPCIS (docs/audit.md,
// "EPCIS"). The document validates against GS1's EPCIS 2.0 JSON Schema
// and expands with GS1's JSON-LD context (services/audit/epcis_test.cc checks
// the documents it exports, and GS1's examples).
//
// Mapping, per ChemLedger business step (CBV 2.0 vocabulary):
//   COMMISSIONING     ObjectEvent ADD         commissioning    active
//   STORING           ObjectEvent OBSERVE     storing          in_progress
//   SHIPPING          ObjectEvent OBSERVE     shipping         in_transit
//                     (the waybill a bizTransaction "bol"; source and
//                     destination owning parties)
//   RECEIVING         ObjectEvent OBSERVE     receiving        in_progress
//   CONSUMING         ObjectEvent OBSERVE     dispensing       partially_dispensed
//   REPACKAGING       TransformationEvent     repackaging      active (input and output codes)
//   PACKING           AggregationEvent ADD    packing          container_closed
//   UNPACKING         AggregationEvent DELETE unpacking        container_open
//   DESTROYING        ObjectEvent DELETE      destroying       destroyed
//                     (the transfer manifest a bizTransaction)
//   LOSS_REPORT       ObjectEvent OBSERVE     other            unknown
//   FOUND             ObjectEvent OBSERVE     other            active
//   VOIDING           ObjectEvent DELETE      decommissioning  inactive
//   HOLDING           ObjectEvent OBSERVE     holding          non_sellable_other
//   RELEASING         ObjectEvent OBSERVE     other            active
//   RECALLING         ObjectEvent OBSERVE     other            recalled
//   OBSERVING         ObjectEvent OBSERVE     inspecting       (none)
//   ERROR_DECLARATION ObjectEvent OBSERVE     other            (none)
//                     (the codes of the event it corrects)
//   WASTE_DECLARING   ObjectEvent OBSERVE     other            non_sellable_other (cl:wasteCode)
// An event that a later one in the bundle declared an error (and that no
// later declaration put back: before rules epoch 10 a declaration could
// itself be declared an error) carries EPCIS's errorDeclaration: the
// declaration's record time, reason "did_not_occur" (the declaration undid
// it), cl:declaredBy (the declaration's eventID) and cl:reason.
// Identifiers are URIs: a code is urn:chemledger:code:<code>, an enterprise
// urn:chemledger:enterprise:<USCC>, a site urn:chemledger:site:<USCC>:<site,
// percent-encoded>, a waybill urn:chemledger:waybill:<number>. eventID is
// the entry's RFC 6962 leaf hash as a named-information URI (RFC 6920),
// "ni:///sha-256;<base64url>", so an EPCIS event leads back to its log
// entry and proof. What EPCIS has no field for is an extension in the
// "cl:" namespace (urn:chemledger:epcis:): the ChemLedger step, log index,
// signer's key id, quantities, reasons.
//
// Thread-safe: pure functions.

#ifndef CHEMLEDGER_SERVICES_AUDIT_EPCIS_H_
#define CHEMLEDGER_SERVICES_AUDIT_EPCIS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chemledger/v1/audit_service.pb.h"

namespace chemledger::audit {

// The EPCIS 2.0 document of `bundle`'s events, created at `now`. The bundle
// should have been verified first (VerifyHistoryBundle): this only reads it.
absl::StatusOr<std::string> EpcisDocumentOf(const v1::HistoryBundle& bundle, absl::Time now);

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_EPCIS_H_
