// The training report: one self-contained HTML page (inline SVG and CSS, no script, no network).
#ifndef PDM_MODEL_REPORT_H_
#define PDM_MODEL_REPORT_H_

#include <string>

#include "model/bundle.h"

namespace pdm::model {

std::string TrainingReportHtml(const TrainingFacts& facts, const Ensemble& ensemble);

}  // namespace pdm::model

#endif  // PDM_MODEL_REPORT_H_
