#include "model/folds.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "core/strings.h"

namespace pdm::model {
namespace {

// Entities that occur in `rows`, with their row counts, in first-seen order.
std::vector<std::pair<uint32_t, size_t>> EntitySizes(const FoldInputs& in,
                                                     const std::vector<uint32_t>& rows) {
  std::map<uint32_t, size_t> counts;
  for (uint32_t r : rows) ++counts[in.entity[r]];
  return {counts.begin(), counts.end()};
}

// Entities shuffled, then each given to the fold with the fewest rows so far (largest first),
// so that folds are balanced even when entities differ in length.
std::vector<int> GroupAssignment(const FoldInputs& in, const std::vector<uint32_t>& rows, int k,
                                 std::mt19937_64& rng, std::map<uint32_t, int>* fold_of) {
  auto sizes = EntitySizes(in, rows);
  std::shuffle(sizes.begin(), sizes.end(), rng);
  std::stable_sort(sizes.begin(), sizes.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<size_t> load(k, 0);
  for (const auto& [entity, size] : sizes) {
    const int f = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    (*fold_of)[entity] = f;
    load[f] += size;
  }
  std::vector<int> fold(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) fold[i] = (*fold_of)[in.entity[rows[i]]];
  return fold;
}

std::vector<int> StratifiedAssignment(const FoldInputs& in, const std::vector<uint32_t>& rows,
                                      int k, std::mt19937_64& rng) {
  std::map<double, std::vector<size_t>> by_class;
  for (size_t i = 0; i < rows.size(); ++i) by_class[in.label[rows[i]]].push_back(i);
  std::vector<int> fold(rows.size());
  int next = 0;
  for (auto& [label, members] : by_class) {
    std::shuffle(members.begin(), members.end(), rng);
    for (size_t i : members) {
      fold[i] = next;
      next = (next + 1) % k;
    }
  }
  return fold;
}

std::vector<int> ShuffledAssignment(size_t n, int k, std::mt19937_64& rng) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int> fold(n);
  for (size_t i = 0; i < n; ++i) fold[order[i]] = static_cast<int>(i % static_cast<size_t>(k));
  return fold;
}

size_t DistinctEntities(const FoldInputs& in) {
  std::vector<uint32_t> e = in.entity;
  std::sort(e.begin(), e.end());
  return static_cast<size_t>(std::unique(e.begin(), e.end()) - e.begin());
}

}  // namespace

absl::StatusOr<CvMode> ParseCvMode(const std::string& name) {
  if (name == "auto" || name.empty()) return CvMode::kAuto;
  if (name == "group") return CvMode::kGroup;
  if (name == "time") return CvMode::kTime;
  if (name == "stratified") return CvMode::kStratified;
  if (name == "kfold") return CvMode::kKFold;
  return absl::InvalidArgumentError(
      core::StrCat("cv: expected auto, group, time, stratified or kfold, got '", name, "'"));
}

const char* CvModeName(CvMode mode) {
  switch (mode) {
    case CvMode::kGroup:
      return "group";
    case CvMode::kTime:
      return "time";
    case CvMode::kStratified:
      return "stratified";
    case CvMode::kKFold:
      return "kfold";
    case CvMode::kAuto:
      break;
  }
  return "auto";
}

absl::StatusOr<std::vector<Fold>> MakeFolds(CvMode mode, int k, const FoldInputs& in, uint64_t seed,
                                            CvMode* resolved) {
  const size_t n = in.label.size();
  if (k < 2) return absl::InvalidArgumentError("cross-validation needs at least 2 folds");
  const size_t entities = DistinctEntities(in);
  if (mode == CvMode::kAuto) {
    if (entities > 1) {
      mode = CvMode::kGroup;
    } else if (!in.time.empty()) {
      mode = CvMode::kTime;
    } else {
      mode = in.classification ? CvMode::kStratified : CvMode::kKFold;
    }
  }
  if (resolved != nullptr) *resolved = mode;
  if (n < 2 * static_cast<size_t>(k)) {
    return absl::InvalidArgumentError(
        core::StrCat(n, " labelled rows are too few for ", k, "-fold cross-validation"));
  }
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::vector<Fold> folds(k);

  if (mode == CvMode::kTime) {
    if (in.time.empty()) {
      return absl::InvalidArgumentError("cv: time needs a time column in the data");
    }
    // k + 1 blocks of equal row counts in time order; fold i tests block i + 1 and trains on the
    // rows before it, less the embargo.
    std::vector<uint32_t> order = all;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return in.time[a] < in.time[b]; });
    for (int f = 0; f < k; ++f) {
      const size_t lo = n * static_cast<size_t>(f + 1) / static_cast<size_t>(k + 1);
      const size_t hi = n * static_cast<size_t>(f + 2) / static_cast<size_t>(k + 1);
      const double start = in.time[order[lo]];
      for (size_t i = lo; i < hi; ++i) folds[f].test.push_back(order[i]);
      for (size_t i = 0; i < lo; ++i) {
        if (in.time[order[i]] < start - in.embargo) folds[f].train.push_back(order[i]);
      }
      if (folds[f].train.empty()) {
        return absl::InvalidArgumentError(
            core::StrCat("cv: time: fold ", f + 1,
                         " has no training rows before its test block "
                         "(the embargo of the label horizon is longer than the history)"));
      }
    }
  } else {
    std::vector<int> fold;
    if (mode == CvMode::kGroup) {
      if (entities < static_cast<size_t>(k)) {
        return absl::InvalidArgumentError(
            core::StrCat("cv: group needs at least ", k, " entities, the data has ", entities));
      }
      std::map<uint32_t, int> fold_of;
      fold = GroupAssignment(in, all, k, rng, &fold_of);
    } else if (mode == CvMode::kStratified) {
      if (!in.classification) {
        return absl::InvalidArgumentError("cv: stratified needs a classification task");
      }
      fold = StratifiedAssignment(in, all, k, rng);
    } else {
      fold = ShuffledAssignment(n, k, rng);
    }
    for (size_t i = 0; i < n; ++i) {
      for (int f = 0; f < k; ++f) {
        (f == fold[i] ? folds[f].test : folds[f].train).push_back(static_cast<uint32_t>(i));
      }
    }
  }
  if (in.classification) {
    for (int f = 0; f < k; ++f) {
      double positives = 0;
      for (uint32_t r : folds[f].train) positives += in.label[r] > 0.5;
      if (positives == 0 || positives == static_cast<double>(folds[f].train.size())) {
        return absl::InvalidArgumentError(core::StrCat(
            "cv: fold ", f + 1, " trains on one class only; use fewer folds or another cv mode"));
      }
    }
  }
  for (Fold& f : folds) {
    std::sort(f.train.begin(), f.train.end());
    std::sort(f.test.begin(), f.test.end());
  }
  return folds;
}

Fold InnerSplit(CvMode mode, const FoldInputs& in, const std::vector<uint32_t>& rows,
                double fraction, uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  const int k = std::max(2, static_cast<int>(std::lround(1 / fraction)));
  Fold split;
  if (mode == CvMode::kTime && !in.time.empty()) {
    std::vector<uint32_t> order = rows;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return in.time[a] < in.time[b]; });
    const size_t cut = order.size() - order.size() / static_cast<size_t>(k);
    const double start = in.time[order[cut]];
    for (size_t i = 0; i < order.size(); ++i) {
      if (i >= cut) {
        split.test.push_back(order[i]);
      } else if (in.time[order[i]] < start - in.embargo) {
        split.train.push_back(order[i]);
      }
    }
  } else {
    std::vector<int> fold;
    std::map<uint32_t, int> fold_of;
    if (mode == CvMode::kGroup && EntitySizes(in, rows).size() >= static_cast<size_t>(k)) {
      fold = GroupAssignment(in, rows, k, rng, &fold_of);
    } else if (in.classification) {
      fold = StratifiedAssignment(in, rows, k, rng);
    } else {
      fold = ShuffledAssignment(rows.size(), k, rng);
    }
    for (size_t i = 0; i < rows.size(); ++i)
      (fold[i] == 0 ? split.test : split.train).push_back(rows[i]);
  }
  if (split.train.empty() || split.test.empty()) {
    split.train = rows;  // too small to split: validate on the training rows
    split.test = rows;
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

}  // namespace pdm::model
