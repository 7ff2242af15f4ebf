#include "model/decision.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace pdm::model {
namespace {

double Sigmoid(double z) {
  return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
}

// Solves a x = b (n x n, row-major) by Gaussian elimination with partial pivoting.
std::vector<double> Solve(std::vector<double> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r) {
      if (std::abs(a[r * n + c]) > std::abs(a[pivot * n + c])) pivot = r;
    }
    if (std::abs(a[pivot * n + c]) < 1e-300) return std::vector<double>(n, 0);
    if (pivot != c) {
      for (size_t k = 0; k < n; ++k) std::swap(a[c * n + k], a[pivot * n + k]);
      std::swap(b[c], b[pivot]);
    }
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      for (size_t k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= a[i * n + k] * x[k];
    x[i] = s / a[i * n + i];
  }
  return x;
}

// Newton's method on the columns in `active` (others fixed at 0).
LogisticFit NewtonLogistic(const std::vector<double>& x, size_t cols,
                           const std::vector<double>& target, const std::vector<bool>& active) {
  const size_t rows = target.size();
  std::vector<size_t> used;
  for (size_t j = 0; j < cols; ++j) {
    if (active[j]) used.push_back(j);
  }
  const size_t p = used.size() + 1;  // + intercept (last)
  std::vector<double> beta(p, 0);
  const double ridge = 1e-8 * static_cast<double>(rows) + 1e-12;
  double previous_loss = INFINITY;
  for (int iteration = 0; iteration < 100; ++iteration) {
    std::vector<double> gradient(p, 0), hessian(p * p, 0), z(p);
    double loss = 0;
    for (size_t i = 0; i < rows; ++i) {
      for (size_t k = 0; k + 1 < p; ++k) z[k] = x[i * cols + used[k]];
      z[p - 1] = 1;
      double eta = 0;
      for (size_t k = 0; k < p; ++k) eta += beta[k] * z[k];
      const double mu = Sigmoid(eta);
      const double w = std::max(mu * (1 - mu), 1e-12);
      loss -= target[i] * std::log(std::max(mu, 1e-300)) +
              (1 - target[i]) * std::log(std::max(1 - mu, 1e-300));
      for (size_t k = 0; k < p; ++k) {
        gradient[k] += (mu - target[i]) * z[k];
        for (size_t l = 0; l <= k; ++l) hessian[k * p + l] += w * z[k] * z[l];
      }
    }
    for (size_t k = 0; k < p; ++k) {
      for (size_t l = 0; l < k; ++l) hessian[l * p + k] = hessian[k * p + l];
      if (k + 1 < p) {
        hessian[k * p + k] += ridge;
        gradient[k] += ridge * beta[k];
      }
    }
    const std::vector<double> step = Solve(hessian, gradient);
    double max_step = 0;
    for (size_t k = 0; k < p; ++k) {
      beta[k] -= step[k];
      max_step = std::max(max_step, std::abs(step[k]));
    }
    if (max_step < 1e-10 || std::abs(previous_loss - loss) < 1e-12 * (1 + loss)) break;
    previous_loss = loss;
  }
  LogisticFit fit;
  fit.coef.assign(cols, 0);
  for (size_t k = 0; k + 1 < p; ++k) fit.coef[used[k]] = beta[k];
  fit.intercept = beta[p - 1];
  return fit;
}

}  // namespace

LogisticFit FitLogistic(const std::vector<double>& x, size_t cols,
                        const std::vector<double>& target, bool non_negative) {
  std::vector<bool> active(cols, true);
  while (true) {
    LogisticFit fit = NewtonLogistic(x, cols, target, active);
    if (!non_negative) return fit;
    size_t worst = cols;
    for (size_t j = 0; j < cols; ++j) {
      if (active[j] && fit.coef[j] < 0 && (worst == cols || fit.coef[j] < fit.coef[worst])) {
        worst = j;
      }
    }
    if (worst == cols) return fit;
    active[worst] = false;
  }
}

absl::StatusOr<CalibrationKind> ParseCalibrationKind(const std::string& name) {
  if (name == "platt" || name.empty()) return CalibrationKind::kPlatt;
  if (name == "isotonic") return CalibrationKind::kIsotonic;
  if (name == "none") return CalibrationKind::kNone;
  return absl::InvalidArgumentError(
      core::StrCat("calibration: expected platt, isotonic or none, got '", name, "'"));
}

const char* CalibrationKindName(CalibrationKind kind) {
  switch (kind) {
    case CalibrationKind::kPlatt:
      return "platt";
    case CalibrationKind::kIsotonic:
      return "isotonic";
    case CalibrationKind::kNone:
      break;
  }
  return "none";
}

double Calibration::Apply(double margin) const {
  switch (kind) {
    case CalibrationKind::kPlatt:
      return Sigmoid(a * margin + b);
    case CalibrationKind::kIsotonic: {
      if (knots.empty()) return Sigmoid(margin);
      if (margin <= knots.front()) return values.front();
      if (margin >= knots.back()) return values.back();
      const size_t i = std::upper_bound(knots.begin(), knots.end(), margin) - knots.begin();
      const double x0 = knots[i - 1], x1 = knots[i];
      const double t = x1 > x0 ? (margin - x0) / (x1 - x0) : 1;
      return values[i - 1] + t * (values[i] - values[i - 1]);
    }
    case CalibrationKind::kNone:
      break;
  }
  return Sigmoid(margin);
}

nlohmann::json Calibration::ToJson() const {
  nlohmann::json json = {{"kind", CalibrationKindName(kind)}};
  if (kind == CalibrationKind::kPlatt) {
    json["a"] = a;
    json["b"] = b;
  } else if (kind == CalibrationKind::kIsotonic) {
    json["knots"] = knots;
    json["values"] = values;
  }
  return json;
}

absl::StatusOr<Calibration> Calibration::FromJson(const nlohmann::json& json) {
  Calibration c;
  try {
    auto kind = ParseCalibrationKind(json.at("kind").get<std::string>());
    if (!kind.ok()) return kind.status();
    c.kind = *kind;
    if (c.kind == CalibrationKind::kPlatt) {
      c.a = json.at("a").get<double>();
      c.b = json.at("b").get<double>();
    } else if (c.kind == CalibrationKind::kIsotonic) {
      c.knots = json.at("knots").get<std::vector<double>>();
      c.values = json.at("values").get<std::vector<double>>();
      if (c.knots.size() != c.values.size() || !std::is_sorted(c.knots.begin(), c.knots.end())) {
        return absl::InvalidArgumentError("calibration: knots and values do not match");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(core::StrCat("calibration: ", e.what()));
  }
  return c;
}

Calibration FitCalibration(CalibrationKind kind, const std::vector<double>& margin,
                           const std::vector<double>& label) {
  Calibration c;
  c.kind = kind;
  if (kind == CalibrationKind::kPlatt) {
    double positives = 0;
    for (double y : label) positives += y > 0.5;
    const double negatives = static_cast<double>(label.size()) - positives;
    const double hi = (positives + 1) / (positives + 2), lo = 1 / (negatives + 2);
    std::vector<double> target(label.size());
    for (size_t i = 0; i < label.size(); ++i) target[i] = label[i] > 0.5 ? hi : lo;
    const LogisticFit fit = FitLogistic(margin, 1, target, false);
    c.a = fit.coef[0];
    c.b = fit.intercept;
  } else if (kind == CalibrationKind::kIsotonic) {
    std::vector<uint32_t> order(margin.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](uint32_t i, uint32_t j) {
      return margin[i] < margin[j] || (margin[i] == margin[j] && i < j);
    });
    // Blocks of equal margins first, then pooled while they violate monotonicity.
    struct Block {
      double lo, hi, sum, count;
    };
    std::vector<Block> blocks;
    for (uint32_t i : order) {
      const double y = label[i] > 0.5 ? 1.0 : 0.0;
      if (!blocks.empty() && blocks.back().hi == margin[i]) {
        blocks.back().sum += y;
        blocks.back().count += 1;
      } else {
        blocks.push_back({margin[i], margin[i], y, 1});
      }
      while (blocks.size() > 1) {
        Block& last = blocks.back();
        Block& prev = blocks[blocks.size() - 2];
        if (prev.sum / prev.count < last.sum / last.count) break;
        prev.hi = last.hi;
        prev.sum += last.sum;
        prev.count += last.count;
        blocks.pop_back();
      }
    }
    for (const Block& b : blocks) {
      c.knots.push_back(b.lo);
      c.values.push_back(b.sum / b.count);
      if (b.hi > b.lo) {
        c.knots.push_back(b.hi);
        c.values.push_back(b.sum / b.count);
      }
    }
  }
  return c;
}

double ChooseThreshold(const std::vector<double>& probability, const std::vector<double>& label,
                       const std::optional<Costs>& costs) {
  std::vector<uint32_t> order(probability.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return probability[a] > probability[b]; });
  double positives = 0;
  for (double y : label) positives += y > 0.5;
  // Start from "never alarm" and lower the threshold one distinct probability at a time.
  double tp = 0, fp = 0;
  auto objective = [&] {
    const double fn = positives - tp;
    if (costs) return -(costs->missed_failure * fn + costs->false_alarm * fp);
    return 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
  };
  double best = objective();
  double best_threshold = order.empty() ? 0.5 : std::nextafter(probability[order[0]], 2.0);
  for (size_t i = 0; i < order.size(); ++i) {
    (label[order[i]] > 0.5 ? tp : fp) += 1;
    if (i + 1 < order.size() && probability[order[i + 1]] == probability[order[i]]) continue;
    const double value = objective();
    if (value > best) {
      best = value;
      const double next = i + 1 < order.size() ? probability[order[i + 1]] : 0.0;
      best_threshold = (probability[order[i]] + next) / 2;
    }
  }
  return best_threshold;
}

}  // namespace pdm::model
