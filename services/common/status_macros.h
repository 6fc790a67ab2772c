// Early returns for absl::Status and absl::StatusOr, as in the cores' code:
//
//   CL_RETURN_IF_ERROR(CheckSomething());
//   CL_ASSIGN_OR_RETURN(Thing t, FindThing(...));
//
// The function must return absl::Status or an absl::StatusOr. (Abseil has no
// public macros for this; these are the usual ones.)

#ifndef CHEMLEDGER_SERVICES_COMMON_STATUS_MACROS_H_
#define CHEMLEDGER_SERVICES_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CL_CONCAT_INNER(a, b) a##b
#define CL_CONCAT(a, b) CL_CONCAT_INNER(a, b)
#define CL_ASSIGN_OR_RETURN(lhs, expr)              \
  auto CL_CONCAT(status_or_, __LINE__) = (expr);     \
  if (!CL_CONCAT(status_or_, __LINE__).ok()) {       \
    return CL_CONCAT(status_or_, __LINE__).status(); \
  }                                                  \
  lhs = *std::move(CL_CONCAT(status_or_, __LINE__))
#define CL_RETURN_IF_ERROR(expr)                      \
  if (absl::Status s_ = (expr); !s_.ok()) {         \
    return s_;                                      \
  }

#endif  // CHEMLEDGER_SERVICES_COMMON_STATUS_MACROS_H_
