// The names and licence numbers example enterprises are registered under
// (registry_testing.h), so that example documents naming them (e-waybills,
// services/waybill/waybill_testing.h) state what the registry holds. For
// tests, demos and benchmarks; no deployment's data.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_EXAMPLE_NAMES_H_
#define CHEMLEDGER_SERVICES_REGISTRY_EXAMPLE_NAMES_H_

#include <string>

namespace chemledger::registry::examples {

// "enterprise <region>", the region being the 6 digits after the USCC's
// first two characters.
inline std::string ExampleName(const std::string& uscc) { return "enterprise " + uscc.substr(2, 6); }
// The number of an example enterprise's licence.
inline std::string ExampleLicenceNumber(const std::string& uscc) { return "L-" + uscc; }

}  // namespace chemledger::registry::examples

#endif  // CHEMLEDGER_SERVICES_REGISTRY_EXAMPLE_NAMES_H_
