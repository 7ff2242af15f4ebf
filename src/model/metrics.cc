#include "model/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace pdm::model {
namespace {

// Indices of `score` sorted by decreasing score.
std::vector<uint32_t> Descending(const std::vector<double>& score) {
  std::vector<uint32_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return score[a] > score[b]; });
  return order;
}

// Cumulative (false positives, true positives) at each distinct threshold, highest first.
struct Step {
  double fp = 0, tp = 0, threshold = 0;
};
std::vector<Step> Steps(const std::vector<double>& score, const std::vector<double>& label) {
  const std::vector<uint32_t> order = Descending(score);
  std::vector<Step> steps;
  double fp = 0, tp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    (label[order[i]] > 0.5 ? tp : fp) += 1;
    if (i + 1 == order.size() || score[order[i + 1]] != score[order[i]]) {
      steps.push_back({fp, tp, score[order[i]]});
    }
  }
  return steps;
}

std::vector<CurvePoint> Thin(std::vector<CurvePoint> points, size_t max_points) {
  if (points.size() <= max_points || max_points < 2) return points;
  std::vector<CurvePoint> out;
  const double step = static_cast<double>(points.size() - 1) / static_cast<double>(max_points - 1);
  for (size_t i = 0; i < max_points; ++i) {
    out.push_back(points[static_cast<size_t>(std::round(static_cast<double>(i) * step))]);
  }
  return out;
}

}  // namespace

double RocAuc(const std::vector<double>& score, const std::vector<double>& label) {
  const std::vector<Step> steps = Steps(score, label);
  if (steps.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double negatives = steps.back().fp, positives = steps.back().tp;
  if (negatives == 0 || positives == 0) return std::numeric_limits<double>::quiet_NaN();
  double area = 0, fp = 0, tp = 0;
  for (const Step& s : steps) {
    area += (s.fp - fp) * (s.tp + tp) / 2;  // trapezoid: ties count half
    fp = s.fp;
    tp = s.tp;
  }
  return area / (negatives * positives);
}

double AveragePrecision(const std::vector<double>& score, const std::vector<double>& label) {
  const std::vector<Step> steps = Steps(score, label);
  if (steps.empty() || steps.back().tp == 0) return std::numeric_limits<double>::quiet_NaN();
  const double positives = steps.back().tp;
  double ap = 0, previous_recall = 0;
  for (const Step& s : steps) {
    const double recall = s.tp / positives;
    ap += (recall - previous_recall) * (s.tp / (s.tp + s.fp));
    previous_recall = recall;
  }
  return ap;
}

std::vector<CurvePoint> RocCurve(const std::vector<double>& score, const std::vector<double>& label,
                                 size_t max_points) {
  const std::vector<Step> steps = Steps(score, label);
  std::vector<CurvePoint> points = {{0, 0, std::numeric_limits<double>::infinity()}};
  if (steps.empty() || steps.back().fp == 0 || steps.back().tp == 0) return points;
  for (const Step& s : steps) {
    points.push_back({s.fp / steps.back().fp, s.tp / steps.back().tp, s.threshold});
  }
  return Thin(std::move(points), max_points);
}

std::vector<CurvePoint> PrCurve(const std::vector<double>& score, const std::vector<double>& label,
                                size_t max_points) {
  const std::vector<Step> steps = Steps(score, label);
  std::vector<CurvePoint> points;
  if (steps.empty() || steps.back().tp == 0) return points;
  for (const Step& s : steps) {
    points.push_back({s.tp / steps.back().tp, s.tp / (s.tp + s.fp), s.threshold});
  }
  return Thin(std::move(points), max_points);
}

BinaryMetrics ScoreBinary(const std::vector<double>& probability, const std::vector<double>& label,
                          double threshold) {
  std::vector<char> alarm(probability.size());
  for (size_t i = 0; i < probability.size(); ++i) alarm[i] = probability[i] >= threshold;
  return ScoreDecisions(probability, label, alarm, threshold);
}

BinaryMetrics ScoreDecisions(const std::vector<double>& probability,
                             const std::vector<double>& label, const std::vector<char>& alarm_of,
                             double threshold, const std::vector<double>* ranking) {
  BinaryMetrics m;
  m.threshold = threshold;
  m.rows = static_cast<int64_t>(label.size());
  double brier = 0;
  for (size_t i = 0; i < label.size(); ++i) {
    const bool positive = label[i] > 0.5;
    const bool alarm = alarm_of[i] != 0;
    m.tp += positive && alarm;
    m.fn += positive && !alarm;
    m.fp += !positive && alarm;
    m.tn += !positive && !alarm;
    const double d = probability[i] - (positive ? 1.0 : 0.0);
    brier += d * d;
  }
  m.positives = m.tp + m.fn;
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  const auto tp = static_cast<double>(m.tp), fp = static_cast<double>(m.fp);
  const auto fn = static_cast<double>(m.fn), tn = static_cast<double>(m.tn);
  m.accuracy = ratio(tp + tn, static_cast<double>(m.rows));
  m.precision = ratio(tp, tp + fp);
  m.recall = ratio(tp, tp + fn);
  m.f1 = ratio(2 * tp, 2 * tp + fp + fn);
  m.balanced_accuracy = (m.recall + ratio(tn, tn + fp)) / 2;
  m.brier = ratio(brier, static_cast<double>(m.rows));
  const std::vector<double>& rank_by = ranking != nullptr ? *ranking : probability;
  m.roc_auc = RocAuc(rank_by, label);
  m.pr_auc = AveragePrecision(rank_by, label);
  return m;
}

RegressionMetrics ScoreRegression(const std::vector<double>& predicted,
                                  const std::vector<double>& truth) {
  RegressionMetrics m;
  m.rows = static_cast<int64_t>(truth.size());
  if (truth.empty()) return m;
  double se = 0, ae = 0, mean = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double d = predicted[i] - truth[i];
    se += d * d;
    ae += std::abs(d);
    m.nasa_score += d < 0 ? std::exp(-d / 13) - 1 : std::exp(d / 10) - 1;
    mean += truth[i];
  }
  const auto n = static_cast<double>(truth.size());
  mean /= n;
  double total = 0;
  for (double t : truth) total += (t - mean) * (t - mean);
  m.rmse = std::sqrt(se / n);
  m.mae = ae / n;
  m.r2 = total > 0 ? 1 - se / total : 0;
  return m;
}

MulticlassMetrics ScoreMulticlass(const std::vector<double>& probability, size_t classes,
                                  const std::vector<double>& label,
                                  const std::vector<int>& predicted) {
  MulticlassMetrics m;
  const size_t n = label.size();
  m.rows = static_cast<int64_t>(n);
  m.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  double log_loss = 0;
  int64_t correct = 0;
  for (size_t r = 0; r < n; ++r) {
    const auto truth = static_cast<size_t>(label[r]);
    const auto guess = static_cast<size_t>(predicted[r]);
    ++m.confusion[truth][guess];
    correct += truth == guess;
    const double p = std::clamp(probability[r * classes + truth], 1e-15, 1 - 1e-15);
    log_loss -= std::log(p);
  }
  if (n == 0) return m;
  m.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  m.log_loss = log_loss / static_cast<double>(n);
  m.classes.resize(classes);
  double recall_sum = 0, f1_sum = 0;
  int present = 0, scored = 0;
  for (size_t c = 0; c < classes; ++c) {
    int64_t predicted_c = 0;
    for (size_t t = 0; t < classes; ++t) predicted_c += m.confusion[t][c];
    ClassMetrics& k = m.classes[c];
    for (size_t p = 0; p < classes; ++p) k.support += m.confusion[c][p];
    const auto tp = static_cast<double>(m.confusion[c][c]);
    k.precision = predicted_c > 0 ? tp / static_cast<double>(predicted_c) : 0;
    k.recall = k.support > 0 ? tp / static_cast<double>(k.support) : 0;
    k.f1 = k.precision + k.recall > 0 ? 2 * k.precision * k.recall / (k.precision + k.recall) : 0;
    if (k.support > 0) {
      recall_sum += k.recall;
      ++present;
    }
    if (k.support > 0 || predicted_c > 0) {
      f1_sum += k.f1;
      ++scored;
    }
  }
  m.balanced_accuracy = present > 0 ? recall_sum / present : 0;
  m.macro_f1 = scored > 0 ? f1_sum / scored : 0;
  return m;
}

}  // namespace pdm::model
