// Error handling vocabulary: pdm uses absl::Status / absl::StatusOr<T> everywhere a call can fail.
// No exception crosses a module boundary.
#ifndef PDM_CORE_STATUS_H_
#define PDM_CORE_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PDM_CONCAT_INNER_(a, b) a##b
#define PDM_CONCAT_(a, b) PDM_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define PDM_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status pdm_status_ = (expr);       \
    if (!pdm_status_.ok()) return pdm_status_; \
  } while (false)

// `lhs = value of rexpr` (an absl::StatusOr<T>), or returns its error from the enclosing function.
#define PDM_ASSIGN_OR_RETURN(lhs, rexpr) \
  PDM_ASSIGN_OR_RETURN_IMPL_(PDM_CONCAT_(pdm_statusor_, __LINE__), lhs, rexpr)
// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration and cannot be parenthesised.
#define PDM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)   \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // PDM_CORE_STATUS_H_
