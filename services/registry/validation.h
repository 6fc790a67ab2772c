// Field rules for registry records (proto/chemledger/v1/registry.proto):
// what an enterprise and a product must satisfy before the registry writes
// them. Each function returns OK or InvalidArgument whose message starts with
// the field ("product.un_number: ...") and states the rule, so a client can
// point at the exact field. Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_VALIDATION_H_
#define CHEMLEDGER_SERVICES_REGISTRY_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "chemledger/v1/registry.pb.h"
#include "google/protobuf/message.h"
#include "services/registry/catalogue.h"

namespace chemledger::registry {

// USCC, name, region code, at least one role, and for each role the licence
// it needs (producer: 安全生产许可证; importer and warehouse:
// 危险化学品经营许可证; carrier: 道路运输经营许可证; disposer:
// 危险废物经营许可证), each with a number and a valid date range.
absl::Status ValidateEnterprise(const v1::Enterprise& enterprise);

// A licence's type, number and validity (valid_from <= valid_until), its
// fields named under `field` ("enterprise.licences[0]").
absl::Status ValidateLicence(const v1::Licence& licence, absl::string_view field);

// The most bytes each of a product's first aid, fire fighting and spill
// response texts may have.
inline constexpr size_t kMaxSafetyTextBytes = 1000;

// Every field's own rule (USCC, product number, names, CAS, UN number,
// class, packing group, catalogue number, GHS pictograms, signal word, hazard
// and precautionary statements, control flags, SDS hash and URI, emergency
// phone, the lengths of the safety texts); and when the
// CAS number is in `catalogue`, its UN number, class, catalogue number and
// control flags must be the catalogue's.
absl::Status ValidateProduct(const v1::Product& product, const Catalogue& catalogue);

// The most characters of a site or park id.
inline constexpr size_t kMaxSiteIdLength = 32;

// A site's fields: USCC, site id, name, address, region, 重大危险源 grade,
// capacities (GB 6944 classes, once each, KGM/LTR/TNE/MTQ), the three
// 包保责任人 (name and phone), licensed CAS numbers, park id's form.
absl::Status ValidateSite(const v1::Site& site);
// A regulator's department and jurisdiction (the park's existence is the
// rules' to check): a known department; exactly one of national, a region
// prefix of 2, 4 or 6 digits, or a park id; a park administration's
// jurisdiction is its park. `field` prefixes the errors ("actor").
absl::Status ValidateRegulatorScope(absl::string_view field, v1::Department department,
                                    const v1::Jurisdiction& jurisdiction);
// A park's fields: id, name, region, administration, gates (ids once each).
absl::Status ValidatePark(const v1::Park& park);

// A calendar date from 1900 to 9999 that exists (no 02-30).
bool ValidDate(const v1::Date& date);

// Every text (string) field of `message`, at any depth, at most `most`
// bytes: INVALID_ARGUMENT naming the first that is longer ("<root>.name:
// 70000 bytes; at most 4096"). Bytes fields are not text and not counted.
absl::Status CheckTextFieldBytes(const google::protobuf::Message& message, absl::string_view root,
                                 size_t most);

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_VALIDATION_H_
