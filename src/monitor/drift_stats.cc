#include "monitor/drift_stats.h"

#include <algorithm>
#include <cmath>

namespace pdm::monitor {
namespace {

double Total(std::span<const double> h) {
  double sum = 0;
  for (double v : h) sum += v;
  return sum;
}

}  // namespace

double KsStatistic(std::span<const double> a, std::span<const double> b) {
  const double na = static_cast<double>(a.size());
  const double nb = static_cast<double>(b.size());
  size_t i = 0, j = 0;
  double sup = 0;
  // Walk the merged order; at each distinct value both CDFs have taken every copy of it.
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    sup = std::max(sup, std::abs(static_cast<double>(i) / na - static_cast<double>(j) / nb));
  }
  return sup;
}

double WassersteinDistance(std::span<const double> a, std::span<const double> b) {
  const double na = static_cast<double>(a.size());
  const double nb = static_cast<double>(b.size());
  size_t i = 0, j = 0;
  double area = 0;
  double x = std::min(a[0], b[0]);
  // Between consecutive distinct values of the merged samples both CDFs are constant.
  while (i < a.size() || j < b.size()) {
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    if (i == a.size() && j == b.size()) break;
    const double next = std::min(i < a.size() ? a[i] : b[j], j < b.size() ? b[j] : a[i]);
    area += std::abs(static_cast<double>(i) / na - static_cast<double>(j) / nb) * (next - x);
    x = next;
  }
  return area;
}

double Psi(std::span<const double> reference, std::span<const double> current) {
  const double tp = Total(reference), tq = Total(current);
  if (tp <= 0 || tq <= 0) return 0;
  double psi = 0;
  for (size_t k = 0; k < reference.size(); ++k) {
    const double p = std::max(reference[k] / tp, kPsiFloor);
    const double q = std::max(current[k] / tq, kPsiFloor);
    psi += (q - p) * std::log(q / p);
  }
  return psi;
}

double JensenShannonDistance(std::span<const double> reference, std::span<const double> current) {
  const double tp = Total(reference), tq = Total(current);
  if (tp <= 0 || tq <= 0) return 0;
  double divergence = 0;
  for (size_t k = 0; k < reference.size(); ++k) {
    const double p = reference[k] / tp, q = current[k] / tq;
    const double m = 0.5 * (p + q);
    if (p > 0) divergence += 0.5 * p * std::log2(p / m);
    if (q > 0) divergence += 0.5 * q * std::log2(q / m);
  }
  return std::sqrt(std::max(0.0, divergence));
}

double BinnedKs(std::span<const double> reference, std::span<const double> current) {
  const double tp = Total(reference), tq = Total(current);
  if (tp <= 0 || tq <= 0) return 0;
  double cp = 0, cq = 0, sup = 0;
  for (size_t k = 0; k < reference.size(); ++k) {
    cp += reference[k] / tp;
    cq += current[k] / tq;
    sup = std::max(sup, std::abs(cp - cq));
  }
  return sup;
}

double BinnedWasserstein(std::span<const double> reference, std::span<const double> reference_means,
                         std::span<const double> current, std::span<const double> current_means) {
  const double tp = Total(reference), tq = Total(current);
  if (tp <= 0 || tq <= 0) return 0;
  // Both are discrete distributions on points ordered by bin, and within a bin by mean: merge
  // the points and integrate |F_p - F_q| between consecutive ones.
  const size_t n = reference.size();
  size_t i = 0, j = 0;
  auto skip_empty = [n](std::span<const double> h, size_t* k) {
    while (*k < n && h[*k] <= 0) ++*k;
  };
  skip_empty(reference, &i);
  skip_empty(current, &j);
  double fp = 0, fq = 0, area = 0, x = 0;
  bool started = false;
  while (i < n || j < n) {
    const bool take_reference =
        j >= n || (i < n && (i < j || (i == j && reference_means[i] <= current_means[j])));
    const double point = take_reference ? reference_means[i] : current_means[j];
    if (started) area += std::abs(fp - fq) * std::max(0.0, point - x);
    started = true;
    x = point;
    if (take_reference) {
      fp += reference[i++] / tp;
      skip_empty(reference, &i);
    } else {
      fq += current[j++] / tq;
      skip_empty(current, &j);
    }
  }
  return area;
}

}  // namespace pdm::monitor
