// The drift statistics against scipy's (Debian python3-scipy through /usr/bin/python3) on the
// same samples: the exact ones equal scipy's to rounding, the binned ones stay within the bounds
// drift_stats.h states.
#include "monitor/drift_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "monitor/profile.h"
#include "nlohmann/json.hpp"
#include "tests/testing/test_paths.h"

namespace pdm::monitor {
namespace {

using json = nlohmann::json;

struct Case {
  std::string name;
  std::vector<double> a, b;
};

std::vector<Case> Cases() {
  std::mt19937_64 rng(20261205);
  std::normal_distribution<double> normal(0, 1);
  std::vector<Case> cases;
  auto draw = [&](size_t n, double shift, double scale) {
    std::vector<double> v(n);
    for (double& x : v) x = shift + scale * normal(rng);
    return v;
  };
  cases.push_back({"same_distribution", draw(5000, 0, 1), draw(3000, 0, 1)});
  cases.push_back({"shifted", draw(5000, 10, 2), draw(2000, 10.6, 2)});
  cases.push_back({"scaled", draw(4000, 0, 1), draw(4000, 0, 1.5)});
  std::poisson_distribution<int> few(2.0), more(2.6);
  Case counts{"discrete_with_ties", {}, {}};
  for (int i = 0; i < 6000; ++i) counts.a.push_back(few(rng));
  for (int i = 0; i < 2500; ++i) counts.b.push_back(more(rng));
  cases.push_back(counts);
  // Four categories, each with at least 1% of the reference: one bin each.
  std::discrete_distribution<int> was({40, 30, 20, 10}), now({25, 25, 25, 25});
  Case categories{"categories", {}, {}};
  for (int i = 0; i < 5000; ++i) categories.a.push_back(was(rng));
  for (int i = 0; i < 3000; ++i) categories.b.push_back(now(rng));
  cases.push_back(categories);
  Case tiny{"tiny", {1, 2, 2, 3, 7}, {2, 4, 4.5}};
  cases.push_back(tiny);
  for (Case& c : cases) {
    std::sort(c.a.begin(), c.a.end());
    std::sort(c.b.begin(), c.b.end());
  }
  return cases;
}

// The binned view of a case: the profile of `a`, and b's counts and means in its fine bins.
struct Binned {
  ColumnProfile profile;
  std::vector<double> b_counts, b_means, b_coarse;
};

Binned Bin(const Case& c) {
  Binned out;
  out.profile = BuildColumnProfile(c.name, c.a);
  const ColumnProfile& p = out.profile;
  out.b_counts.assign(p.bins(), 0);
  out.b_means.assign(p.bins(), 0);
  out.b_coarse.assign(p.coarse_bins(), 0);
  for (double v : c.b) {
    const size_t bin = p.BinOf(v);
    out.b_counts[bin] += 1;
    out.b_means[bin] += v;
    out.b_coarse[p.coarse_of[bin]] += 1;
  }
  for (size_t k = 0; k < p.bins(); ++k) {
    if (out.b_counts[k] > 0) out.b_means[k] /= out.b_counts[k];
  }
  return out;
}

// scipy's statistics of every case, computed once.
const json& Scipy() {
  static const json results = [] {
    json input = json::array();
    for (const Case& c : Cases()) {
      const Binned binned = Bin(c);
      input.push_back(
          {{"a", c.a}, {"b", c.b}, {"p", binned.profile.coarse_counts}, {"q", binned.b_coarse}});
    }
    const auto dir = testing::TempDir("drift_scipy");
    testing::WriteFile(dir / "cases.json", input.dump());
    const std::string script =
        "import json,sys\n"
        "import numpy as np\n"
        "from scipy import stats\n"
        "from scipy.spatial import distance\n"
        "out=[]\n"
        "for c in json.load(open(sys.argv[1])):\n"
        "  p=np.array(c['p'],float); q=np.array(c['q'],float)\n"
        "  ps=np.maximum(p/p.sum(),1e-4); qs=np.maximum(q/q.sum(),1e-4)\n"
        "  out.append({'ks':stats.ks_2samp(c['a'],c['b']).statistic,\n"
        "    'wasserstein':stats.wasserstein_distance(c['a'],c['b']),\n"
        "    'js':float(distance.jensenshannon(p,q,base=2)),\n"
        "    'psi':float(np.sum((qs-ps)*np.log(qs/ps)))})\n"
        "print(json.dumps(out))\n";
    testing::WriteFile(dir / "scipy_stats.py", script);
    const std::string command = "/usr/bin/python3 " + (dir / "scipy_stats.py").string() + " " +
                                (dir / "cases.json").string();
    FILE* pipe = ::popen(command.c_str(), "r");
    std::string text;
    char buffer[4096];
    size_t n;
    while (pipe != nullptr && (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
      text.append(buffer, n);
    if (pipe != nullptr) ::pclose(pipe);
    return json::parse(text, nullptr, false);
  }();
  return results;
}

TEST(DriftStatsTest, ExactStatisticsEqualScipy) {
  const json& scipy = Scipy();
  ASSERT_TRUE(scipy.is_array()) << "scipy did not answer: is python3-scipy installed?";
  const std::vector<Case> cases = Cases();
  ASSERT_EQ(scipy.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    EXPECT_NEAR(KsStatistic(c.a, c.b), scipy[i]["ks"].get<double>(), 1e-12) << c.name;
    const double w = scipy[i]["wasserstein"].get<double>();
    EXPECT_NEAR(WassersteinDistance(c.a, c.b), w, 1e-9 * std::max(1.0, w)) << c.name;
  }
}

TEST(DriftStatsTest, HistogramStatisticsEqualScipyOnTheSameBins) {
  const json& scipy = Scipy();
  ASSERT_TRUE(scipy.is_array());
  const std::vector<Case> cases = Cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Binned b = Bin(cases[i]);
    EXPECT_NEAR(JensenShannonDistance(b.profile.coarse_counts, b.b_coarse),
                scipy[i]["js"].get<double>(), 1e-12)
        << cases[i].name;
    EXPECT_NEAR(Psi(b.profile.coarse_counts, b.b_coarse), scipy[i]["psi"].get<double>(), 1e-10)
        << cases[i].name;
  }
}

TEST(DriftStatsTest, BinnedEstimatesStayWithinTheirStatedBounds) {
  for (const Case& c : Cases()) {
    const Binned b = Bin(c);
    const ColumnProfile& p = b.profile;
    const double na = static_cast<double>(c.a.size()), nb = static_cast<double>(c.b.size());
    double largest_share = 0, width_bound = 0;
    for (size_t k = 0; k < p.bins(); ++k) {
      largest_share = std::max({largest_share, p.counts[k] / na, b.b_counts[k] / nb});
      // Bins with two finite edges; the outer ones are bounded by the data's own spread.
      const double lo = k == 0 ? std::min(c.a.front(), c.b.front()) : p.edges[k - 1];
      const double hi = k == p.edges.size() ? std::max(c.a.back(), c.b.back()) : p.edges[k];
      width_bound += (p.counts[k] / na + b.b_counts[k] / nb) * (hi - lo);
    }
    const double exact_ks = KsStatistic(c.a, c.b);
    const double binned_ks = BinnedKs(p.counts, b.b_counts);
    EXPECT_LE(binned_ks, exact_ks + 1e-12) << c.name;
    EXPECT_GE(binned_ks, exact_ks - largest_share - 1e-12) << c.name;
    const double exact_w = WassersteinDistance(c.a, c.b);
    const double binned_w = BinnedWasserstein(p.counts, p.means, b.b_counts, b.b_means);
    EXPECT_NEAR(binned_w, exact_w, width_bound + 1e-12) << c.name;
    if (c.name == "categories") {
      EXPECT_NEAR(binned_w, exact_w, 1e-12);
    }
    if (c.name == "shifted") {
      // The practical size of the error on a continuous feature: well under 2% of a std.
      EXPECT_NEAR(binned_w, exact_w, 0.02 * 2) << c.name;
    }
  }
}

TEST(DriftStatsTest, IdenticalHistogramsHaveNoDistance) {
  using V = std::vector<double>;
  const V h = {5, 0, 3, 2}, means = {1, 0, 3, 4};
  EXPECT_DOUBLE_EQ(Psi(h, h), 0);
  EXPECT_DOUBLE_EQ(JensenShannonDistance(h, h), 0);
  EXPECT_DOUBLE_EQ(BinnedKs(h, h), 0);
  EXPECT_DOUBLE_EQ(BinnedWasserstein(h, means, h, means), 0);
  EXPECT_DOUBLE_EQ(Psi(h, V{0, 0, 0, 0}), 0);  // an empty window says nothing
  // Disjoint supports: the largest distances.
  EXPECT_NEAR(JensenShannonDistance(V{1, 0}, V{0, 1}), 1.0, 1e-12);
  EXPECT_NEAR(BinnedKs(V{1, 0}, V{0, 1}), 1.0, 1e-12);
  // All mass at 1 against all at 3: a distance of 2.
  EXPECT_NEAR(BinnedWasserstein(V{1, 0}, V{1, 3}, V{0, 1}, V{1, 3}), 2.0, 1e-12);
}

TEST(ProfileTest, FewDistinctValuesGetOneBinEachAndRoundTrip) {
  std::vector<double> flags(1000, 0.0);
  for (size_t i = 0; i < 100; ++i) flags[i] = 1;
  flags.push_back(std::nan(""));
  const ColumnProfile p = BuildColumnProfile("flag", flags);
  EXPECT_EQ(p.missing, 1);
  EXPECT_EQ(p.values, 1000);
  ASSERT_EQ(p.edges, (std::vector<double>{0, 1}));
  EXPECT_EQ(p.counts, (std::vector<double>{900, 100, 0}));
  // Coarse: the two values, and the open bin above the maximum on its own.
  EXPECT_EQ(p.coarse_counts, (std::vector<double>{900, 100, 0}));
  EXPECT_EQ(p.BinOf(-3), 0u);
  EXPECT_EQ(p.BinOf(0.5), 1u);
  EXPECT_EQ(p.BinOf(2), 2u);

  ReferenceProfile profile;
  profile.features = {p, BuildColumnProfile("constant", std::vector<double>(50, 4.0))};
  profile.score = BuildColumnProfile("score", {0.1, 0.2, 0.3});
  profile.rows = 1001;
  auto back = ProfileFromJson(ProfileToJson(profile), "reference.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->features[0].counts, p.counts);
  EXPECT_EQ(back->features[0].coarse_of, p.coarse_of);
  EXPECT_EQ(back->features[1].coarse_counts, (std::vector<double>{50, 0}));
  EXPECT_EQ(back->rows, 1001);

  nlohmann::json broken = ProfileToJson(profile);
  broken["features"][0]["edges"] = {1, 0};
  auto refused = ProfileFromJson(broken, "reference.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("reference.json: features[0] (flag)"),
            std::string::npos)
      << refused.status();
}

TEST(ProfileTest, BinOfIsTheLowerBoundOfTheEdges) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> size(1, 120);
  std::uniform_real_distribution<double> uniform(-2, 2);
  for (int round = 0; round < 200; ++round) {
    std::vector<double> values(static_cast<size_t>(size(rng)));
    for (double& v : values) v = std::round(uniform(rng) * 4) / 4;  // ties
    const ColumnProfile p = BuildColumnProfile("x", values);
    for (int k = 0; k < 50; ++k) {
      const double v = k % 5 == 0 ? p.edges[static_cast<size_t>(k) % p.edges.size()] : uniform(rng);
      const auto expected = static_cast<size_t>(
          std::lower_bound(p.edges.begin(), p.edges.end(), v) - p.edges.begin());
      ASSERT_EQ(p.BinOf(v), expected) << v;
    }
  }
}

TEST(ProfileTest, ContinuousValuesGetAboutTwentyCoarseBinsOfEqualMass) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> v(20000);
  for (double& x : v) x = normal(rng);
  const ColumnProfile p = BuildColumnProfile("x", v);
  EXPECT_EQ(p.bins(), static_cast<size_t>(kFineBins) + 1);
  ASSERT_EQ(p.coarse_bins(), static_cast<size_t>(kCoarseBins) + 1);
  for (size_t k = 0; k + 1 < p.coarse_bins(); ++k) {
    EXPECT_NEAR(p.coarse_counts[k] / 20000.0, 1.0 / kCoarseBins, 0.002) << k;
  }
  EXPECT_EQ(p.coarse_counts.back(), 0);
  EXPECT_NEAR(p.mean, 0, 0.03);
  EXPECT_NEAR(p.std, 1, 0.03);
}

TEST(ProfileTest, MedianShiftIsWhereTheSamplesMedianLiesInTheReference) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> skewed(1, 0.4);
  std::vector<double> reference(5000);
  for (double& x : reference) x = skewed(rng);
  const ColumnProfile p = BuildColumnProfile("vibration", reference);
  EXPECT_NEAR(p.MedianShift(p.counts), 0, 1e-12) << "the reference against itself";
  std::vector<double> sorted = reference;
  std::sort(sorted.begin(), sorted.end());
  auto histogram = [&](const std::vector<double>& sample) {
    std::vector<double> counts(p.bins(), 0);
    for (double x : sample) counts[p.BinOf(x)] += 1;
    return counts;
  };
  // The exact statistic: the reference's empirical CDF at the sample's median, minus 0.5.
  auto exact = [&](std::vector<double> sample) {
    std::sort(sample.begin(), sample.end());
    const double median = sample[sample.size() / 2];
    const auto below = std::upper_bound(sorted.begin(), sorted.end(), median) - sorted.begin();
    return static_cast<double>(below) / static_cast<double>(sorted.size()) - 0.5;
  };
  for (double factor : {1.0, 1.05, 1.2, 0.8}) {
    std::vector<double> window(400);
    for (double& x : window) x = factor * skewed(rng);
    const double shift = p.MedianShift(histogram(window));
    // Within one fine bin (a hundredth of the reference) of the exact statistic.
    EXPECT_NEAR(shift, exact(window), 1.0 / kFineBins + 1e-9) << factor;
    if (factor == 1.0) {
      EXPECT_LT(std::fabs(shift), 0.06);
    } else if (factor == 1.2) {
      EXPECT_GT(shift, 0.15) << "a 20% rise of level";
    } else if (factor == 0.8) {
      EXPECT_LT(shift, -0.15);
    }
  }
  // Robust: a twentieth of the sample running away (machines before a failure) moves it little.
  std::vector<double> window(400);
  for (double& x : window) x = skewed(rng);
  const double before = p.MedianShift(histogram(window));
  for (size_t i = 0; i < 20; ++i) window[i] = 1000;
  EXPECT_LT(p.MedianShift(histogram(window)) - before, 0.04);

  EXPECT_TRUE(std::isnan(p.MedianShift(std::vector<double>(p.bins(), 0))));
  EXPECT_TRUE(std::isnan(p.MedianShift(std::vector<double>(3, 1))));
}

}  // namespace
}  // namespace pdm::monitor
