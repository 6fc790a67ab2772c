// Internal to services/registry: where the registry's records live in the
// store's state (docs/architecture.md lists every prefix).
//   r/genesis                 state::DeploymentRecord
//   r/ent/<uscc>              state::EnterpriseRecord
//   r/prod/<uscc>/<number>    chemledger.v1.Product
//   r/actor/<key id>          state::ActorRecord
//   r/lkey/<key id>           state::LabelKeyRecord
//   r/black/<uscc>            state::BlacklistRecord (while blacklisted)
// and, kept by their own modules: r/ref/ (reference_tables.h), r/pend/ and
// r/flagchg/ (product_flags.h).

#ifndef CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_KEYS_H_
#define CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_KEYS_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "crypto/keys.h"

namespace chemledger::registry::keys {

inline std::string Genesis() { return "r/genesis"; }
inline std::string Enterprise(absl::string_view uscc) { return absl::StrCat("r/ent/", uscc); }
inline std::string Products() { return "r/prod/"; }
inline std::string ProductsOf(absl::string_view uscc) { return absl::StrCat(Products(), uscc, "/"); }
inline std::string Product(absl::string_view uscc, absl::string_view number) {
  return absl::StrCat(Products(), uscc, "/", number);
}
inline std::string Actors() { return "r/actor/"; }
inline std::string Actor(const crypto::KeyId& id) { return absl::StrCat("r/actor/", id.ToString()); }
inline std::string SitesOf(absl::string_view uscc) { return absl::StrCat("r/site/", uscc, "/"); }
inline std::string Site(absl::string_view uscc, absl::string_view site_id) {
  return absl::StrCat(SitesOf(uscc), site_id);
}
inline std::string Park(absl::string_view park_id) { return absl::StrCat("r/park/", park_id); }
inline std::string BreakGlass(const crypto::KeyId& responder, absl::string_view uscc,
                              absl::string_view site) {
  return absl::StrCat("r/glass/", responder.ToString(), "/", uscc, "/", site);
}
// A vehicle's grant: "W" is no USCC, so it never meets a site's.
inline std::string BreakGlassWaybill(const crypto::KeyId& responder, absl::string_view carrier,
                                     absl::string_view number) {
  return absl::StrCat("r/glass/", responder.ToString(), "/W/", carrier, "/", number);
}
inline std::string Blacklist() { return "r/black/"; }
inline std::string Blacklisted(absl::string_view uscc) { return absl::StrCat("r/black/", uscc); }
inline std::string LabelKeys() { return "r/lkey/"; }
inline std::string LabelKey(const crypto::KeyId& id) {
  return absl::StrCat("r/lkey/", id.ToString());
}

}  // namespace chemledger::registry::keys

#endif  // CHEMLEDGER_SERVICES_REGISTRY_REGISTRY_KEYS_H_
