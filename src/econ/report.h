// The business case as JSON (a public contract, see docs/roi.md) and as text.
#ifndef PDM_ECON_REPORT_H_
#define PDM_ECON_REPORT_H_

#include <optional>
#include <string>

#include "econ/business_case.h"
#include "econ/threshold.h"

namespace pdm::econ {

std::string BusinessCaseToJson(const BusinessCase& business_case,
                               const std::optional<ThresholdChoice>& threshold, int indent = 2);
std::string BusinessCaseToText(const BusinessCase& business_case,
                               const std::optional<ThresholdChoice>& threshold);

}  // namespace pdm::econ

#endif  // PDM_ECON_REPORT_H_
