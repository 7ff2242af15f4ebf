#include "econ/threshold.h"

#include <algorithm>
#include <cmath>

#include "core/numbers.h"
#include "core/strings.h"
#include "io/csv_reader.h"

namespace pdm::econ {

absl::StatusOr<ThresholdChoice> CostOptimalThreshold(std::vector<ScoredLabel> scores,
                                                     const ThresholdEconomics& e,
                                                     int curve_points) {
  ThresholdChoice choice;
  for (const ScoredLabel& s : scores) {
    if (!std::isfinite(s.score)) return absl::InvalidArgumentError("scores must be finite");
    (s.positive ? choice.positives : choice.negatives) += 1;
  }
  if (choice.positives == 0 || choice.negatives == 0) {
    return absl::InvalidArgumentError(
        core::StrCat("scores need both failures and non-failures (have ", choice.positives,
                     " positive, ", choice.negatives, " negative)"));
  }
  std::sort(scores.begin(), scores.end(),
            [](const ScoredLabel& a, const ScoredLabel& b) { return a.score > b.score; });
  const double p = static_cast<double>(choice.positives);
  const double n = static_cast<double>(choice.negatives);
  auto point = [&](double threshold, int64_t tp, int64_t fp) {
    ThresholdPoint pt;
    pt.threshold = threshold;
    pt.recall = static_cast<double>(tp) / p;
    pt.false_positive_rate = static_cast<double>(fp) / n;
    pt.yearly_savings =
        pt.recall * e.failures_per_year * e.value_per_detected_failure -
        pt.false_positive_rate * e.healthy_decisions_per_year * e.cost_per_false_alarm;
    return pt;
  };
  // Never alarm: nothing saved, nothing spent.
  choice.best = point(std::nextafter(scores.front().score, INFINITY), 0, 0);
  int64_t tp = 0, fp = 0;
  for (size_t i = 0; i < scores.size();) {
    const double threshold = scores[i].score;
    for (; i < scores.size() && scores[i].score == threshold; ++i)
      (scores[i].positive ? tp : fp) += 1;
    const ThresholdPoint candidate = point(threshold, tp, fp);
    if (candidate.yearly_savings > choice.best.yearly_savings) choice.best = candidate;
  }
  // The curve: thresholds evenly spaced over [min, max] score (or [0, 1] for probabilities).
  double lo = scores.back().score, hi = scores.front().score;
  if (lo >= 0 && hi <= 1) lo = 0, hi = 1;
  curve_points = std::max(curve_points, 2);
  size_t above = 0;  // scores[0..above) are >= threshold; thresholds rise, so `above` shrinks
  tp = choice.positives;
  fp = choice.negatives;
  above = scores.size();
  for (int k = 0; k < curve_points; ++k) {
    const double threshold = lo + (hi - lo) * k / (curve_points - 1);
    while (above > 0 && scores[above - 1].score < threshold) {
      --above;
      (scores[above].positive ? tp : fp) -= 1;
    }
    choice.curve.push_back(point(threshold, tp, fp));
  }
  return choice;
}

absl::StatusOr<std::vector<ScoredLabel>> ReadScores(const std::filesystem::path& path) {
  io::CsvReaderOptions options;
  auto reader = io::CsvReader::Open(path, options);
  if (!reader.ok()) return reader.status();
  io::CsvRecord record;
  if (!(*reader)->Next(&record)) {
    return absl::InvalidArgumentError(
        core::StrCat(path.string(), ": empty file, expected a header"));
  }
  int label_col = -1, score_col = -1;
  for (size_t i = 0; i < record.fields.size(); ++i) {
    if (record.fields[i] == "label") label_col = static_cast<int>(i);
    if (record.fields[i] == "score") score_col = static_cast<int>(i);
  }
  if (label_col < 0 || score_col < 0) {
    return absl::InvalidArgumentError(
        core::StrCat(path.string(), ": the header needs a 'label' and a 'score' column"));
  }
  std::vector<ScoredLabel> scores;
  while ((*reader)->Next(&record)) {
    const size_t needed = static_cast<size_t>(std::max(label_col, score_col)) + 1;
    if (!record.error.empty() || record.fields.size() < needed) {
      return absl::InvalidArgumentError(
          core::StrCat(path.string(), ":", record.line, ": ",
                       record.error.empty() ? "too few fields" : record.error));
    }
    double label = 0, score = 0;
    if (core::ParseDouble(record.fields[static_cast<size_t>(label_col)], &label) !=
            core::NumberParse::kOk ||
        (label != 0 && label != 1)) {
      return absl::InvalidArgumentError(
          core::StrCat(path.string(), ":", record.line, ": label: expected 0 or 1, got '",
                       record.fields[static_cast<size_t>(label_col)], "'"));
    }
    if (core::ParseDouble(record.fields[static_cast<size_t>(score_col)], &score) !=
        core::NumberParse::kOk) {
      return absl::InvalidArgumentError(
          core::StrCat(path.string(), ":", record.line, ": score: expected a finite number, got '",
                       record.fields[static_cast<size_t>(score_col)], "'"));
    }
    scores.push_back({score, label == 1});
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  return scores;
}

}  // namespace pdm::econ
