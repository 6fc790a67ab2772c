// What an actor's role lets it read, where several services decide alike.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_ACTOR_ROLES_H_
#define CHEMLEDGER_SERVICES_COMMON_ACTOR_ROLES_H_

#include "chemledger/v1/registry.pb.h"

namespace chemledger {

// Regulators and platform administrators read every enterprise's records
// (departments and jurisdictions narrow this in the audit work to come).
inline bool ReadsEveryEnterprise(const v1::Actor& actor) {
  return actor.role() == v1::REGULATOR || actor.role() == v1::PLATFORM_ADMIN;
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_ACTOR_ROLES_H_
