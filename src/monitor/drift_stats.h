// Distances between a reference distribution and a current one, as drift statistics.
//
// Two forms of each: exact ones on raw samples (the definitions scipy implements, for the batch
// report and as the yardstick in tests) and binned ones on the histograms a DriftMonitor keeps,
// so that a streaming evaluation costs O(bins), not a sort of the window. How far a binned
// estimate can be from the exact statistic is stated beside it (docs/monitoring.md).
#ifndef PDM_MONITOR_DRIFT_STATS_H_
#define PDM_MONITOR_DRIFT_STATS_H_

#include <cstdint>
#include <span>

namespace pdm::monitor {

// Two-sample Kolmogorov-Smirnov statistic sup_x |F_a(x) - F_b(x)| of the empirical CDFs, as
// scipy.stats.ks_2samp(a, b).statistic. REQUIRES: both sorted ascending, no NaN, non-empty.
double KsStatistic(std::span<const double> a_sorted, std::span<const double> b_sorted);

// The 1-Wasserstein (earth mover's) distance integral |F_a(x) - F_b(x)| dx between the empirical
// distributions, as scipy.stats.wasserstein_distance(a, b). REQUIRES: as KsStatistic.
double WassersteinDistance(std::span<const double> a_sorted, std::span<const double> b_sorted);

// The smoothing of the population stability index: a bin share below it counts as it, so an
// empty bin gives a large but finite term.
inline constexpr double kPsiFloor = 1e-4;

// Population stability index sum_i (q_i - p_i) ln(q_i / p_i) of two histograms over the same
// bins (counts or shares; each is normalised to sum to 1), shares floored at kPsiFloor.
// 0 when either histogram is empty.
double Psi(std::span<const double> reference, std::span<const double> current);

// The Jensen-Shannon distance (the square root of the divergence, base 2, so within [0, 1]) of
// two histograms over the same bins, as scipy.spatial.distance.jensenshannon(p, q, base=2).
// 0 when either histogram is empty.
double JensenShannonDistance(std::span<const double> reference, std::span<const double> current);

// KS statistic of two histograms over the same ordered bins: the largest difference of their
// cumulative shares at a bin's upper edge. Against the exact statistic of the samples it is
// never larger, and smaller by at most the largest share one bin holds in either histogram.
double BinnedKs(std::span<const double> reference, std::span<const double> current);

// Wasserstein distance of two histograms over the same ordered bins, each bin's mass put at the
// mean of the values it holds (`*_means`; a bin's mean lies within it, so the order holds).
// Exact for values that take one value per bin (counts, flags, categories); otherwise off from
// the exact distance by at most sum_i (p_i + q_i) * width_i over the bins with finite edges,
// plus the spread of the values in the two open-ended outer bins.
double BinnedWasserstein(std::span<const double> reference, std::span<const double> reference_means,
                         std::span<const double> current, std::span<const double> current_means);

}  // namespace pdm::monitor

#endif  // PDM_MONITOR_DRIFT_STATS_H_
