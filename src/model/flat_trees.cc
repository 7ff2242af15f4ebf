#include "model/flat_trees.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace pdm::model {
namespace {

using json = nlohmann::json;

// XGBoost writes numbers in its JSON either as numbers or as strings ("5E-1").
absl::StatusOr<double> Number(const json& value, std::string_view what) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() && *end == '\0') return v;
  }
  return absl::InvalidArgumentError(core::StrCat("XGBoost model: ", what, " is not a number"));
}

bool Truthy(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  return value.is_number() && value.get<double>() != 0;
}

}  // namespace

absl::StatusOr<FlatTrees> FlatTrees::FromXgboostJson(std::string_view text) {
  const json model = json::parse(text, nullptr, false);
  if (model.is_discarded() || !model.contains("learner")) {
    return absl::InvalidArgumentError("XGBoost model: not XGBoost's JSON model format");
  }
  try {
    const json& learner = model.at("learner");
    const std::string objective = learner.at("objective").at("name").get<std::string>();
    const json& params = learner.at("learner_model_param");
    auto base_score = Number(params.at("base_score"), "base_score");
    if (!base_score.ok()) return base_score.status();
    FlatTrees flat;
    if (objective == "binary:logistic") {
      const float p = static_cast<float>(*base_score);
      flat.base_margin_ = -std::log(1.0f / p - 1.0f);
    } else if (objective == "reg:squarederror") {
      flat.base_margin_ = static_cast<float>(*base_score);
    } else {
      return absl::UnimplementedError(
          core::StrCat("flat trees: objective ", objective, " is not supported"));
    }
    auto num_class = Number(params.value("num_class", json("0")), "num_class");
    auto num_target = Number(params.value("num_target", json("1")), "num_target");
    if (!num_class.ok() || !num_target.ok() || *num_class > 1 || *num_target > 1) {
      return absl::UnimplementedError("flat trees: multi-class or multi-target models");
    }
    auto features = Number(params.at("num_feature"), "num_feature");
    if (!features.ok()) return features.status();
    flat.features_ = static_cast<size_t>(*features);
    const json& booster = learner.at("gradient_booster");
    if (booster.at("name") != "gbtree") {
      return absl::UnimplementedError("flat trees: only the gbtree booster");
    }
    for (const json& tree : booster.at("model").at("trees")) {
      const auto& left = tree.at("left_children");
      const auto& right = tree.at("right_children");
      const auto& split_index = tree.at("split_indices");
      const auto& condition = tree.at("split_conditions");
      const auto& default_left = tree.at("default_left");
      const size_t n = left.size();
      if (n == 0 || right.size() != n || split_index.size() != n || condition.size() != n ||
          default_left.size() != n) {
        return absl::InvalidArgumentError("XGBoost model: tree arrays of different lengths");
      }
      if (tree.contains("split_type")) {
        for (const json& t : tree.at("split_type")) {
          if (Truthy(t)) return absl::UnimplementedError("flat trees: categorical splits");
        }
      }
      // Breadth-first renumbering so that the two children of a split are adjacent.
      const uint32_t root = static_cast<uint32_t>(flat.nodes_.size());
      flat.roots_.push_back(root);
      std::vector<int32_t> order = {0};
      flat.nodes_.push_back({});
      for (size_t i = 0; i < order.size(); ++i) {
        const auto id = static_cast<size_t>(order[i]);
        Node& node = flat.nodes_[root + i];
        const int32_t l = left[id].get<int32_t>();
        const int32_t r = right[id].get<int32_t>();
        node.value = condition[id].get<float>();
        if (l < 0) {
          node.left = -1;
          node.feature = 0;
          continue;
        }
        if (l >= static_cast<int32_t>(n) || r < 0 || r >= static_cast<int32_t>(n) ||
            order.size() + 2 > n) {
          return absl::InvalidArgumentError("XGBoost model: a child index out of range");
        }
        const uint32_t feature = split_index[id].get<uint32_t>();
        if (feature >= flat.features_) {
          return absl::InvalidArgumentError("XGBoost model: a split on an unknown feature");
        }
        node.left = static_cast<int32_t>(order.size());  // relative to the root
        node.feature = feature | (Truthy(default_left[id]) ? kDefaultLeft : 0u);
        order.push_back(l);
        order.push_back(r);
        flat.nodes_.resize(root + order.size());
      }
      // Relative child positions become absolute.
      for (size_t i = root; i < flat.nodes_.size(); ++i) {
        if (flat.nodes_[i].left >= 0) flat.nodes_[i].left += static_cast<int32_t>(root);
      }
    }
    return flat;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(core::StrCat("XGBoost model: ", e.what()));
  }
}

namespace {

// Walks one tree from `node` to its leaf for `row`.
template <typename Node, uint32_t kDefaultLeft>
inline const Node* Leaf(const Node* nodes, const Node* node, const float* row) {
  while (node->left >= 0) {
    const float v = row[node->feature & ~kDefaultLeft];
    const bool go_left = std::isnan(v) ? (node->feature & kDefaultLeft) != 0 : v < node->value;
    node = nodes + node->left + (go_left ? 0 : 1);
  }
  return node;
}

}  // namespace

float FlatTrees::Margin(const float* row) const {
  // Four trees walked side by side (independent loads overlap), their leaves added in model
  // order so that the float sum is XGBoost's.
  const Node* nodes = nodes_.data();
  float sum = base_margin_;
  size_t t = 0;
  for (; t + 4 <= roots_.size(); t += 4) {
    const Node* a = nodes + roots_[t];
    const Node* b = nodes + roots_[t + 1];
    const Node* c = nodes + roots_[t + 2];
    const Node* d = nodes + roots_[t + 3];
    // Until all four are at leaves (a leaf's left is -1: the AND keeps the sign bit only then).
    while ((a->left & b->left & c->left & d->left) >= 0) {
      auto step = [&](const Node*& n) {
        if (n->left < 0) return;
        const float v = row[n->feature & ~kDefaultLeft];
        const bool go_left = std::isnan(v) ? (n->feature & kDefaultLeft) != 0 : v < n->value;
        n = nodes + n->left + (go_left ? 0 : 1);
      };
      step(a);
      step(b);
      step(c);
      step(d);
    }
    sum += a->value;
    sum += b->value;
    sum += c->value;
    sum += d->value;
  }
  for (; t < roots_.size(); ++t)
    sum += Leaf<Node, kDefaultLeft>(nodes, nodes + roots_[t], row)->value;
  return sum;
}

void FlatTrees::Margins(const float* rows, size_t count, float* out) const {
  // Blocks of rows tree by tree, as XGBoost's CPU predictor does: a tree's nodes stay in cache
  // while it serves the whole block, and four rows walk it side by side. Each row still sums its
  // trees in model order.
  constexpr size_t kBlock = 64;
  const Node* nodes = nodes_.data();
  const size_t width = features_;
  for (size_t start = 0; start < count; start += kBlock) {
    const size_t end = std::min(count, start + kBlock);
    for (size_t r = start; r < end; ++r) out[r] = base_margin_;
    for (const uint32_t root : roots_) {
      const Node* tree = nodes + root;
      size_t r = start;
      for (; r + 4 <= end; r += 4) {
        const float* x[4] = {rows + r * width, rows + (r + 1) * width, rows + (r + 2) * width,
                             rows + (r + 3) * width};
        const Node* n[4] = {tree, tree, tree, tree};
        while ((n[0]->left & n[1]->left & n[2]->left & n[3]->left) >= 0) {
          for (int k = 0; k < 4; ++k) {
            if (n[k]->left < 0) continue;
            const float v = x[k][n[k]->feature & ~kDefaultLeft];
            const bool go_left =
                std::isnan(v) ? (n[k]->feature & kDefaultLeft) != 0 : v < n[k]->value;
            n[k] = nodes + n[k]->left + (go_left ? 0 : 1);
          }
        }
        for (int k = 0; k < 4; ++k) out[r + k] += n[k]->value;
      }
      for (; r < end; ++r) {
        out[r] += Leaf<Node, kDefaultLeft>(nodes, tree, rows + r * width)->value;
      }
    }
  }
}

}  // namespace pdm::model
