#include "model/folds.h"

#include <set>

#include "gtest/gtest.h"

namespace pdm::model {
namespace {

FoldInputs Fleet(int entities, int rows_each) {
  FoldInputs in;
  for (int e = 0; e < entities; ++e) {
    for (int r = 0; r < rows_each + e % 7; ++r) {
      in.entity.push_back(e);
      in.time.push_back(r);
      in.label.push_back(r % 5 == 0);
    }
  }
  return in;
}

TEST(FoldsTest, GroupKeepsEveryEntityInOneFoldAndCoversEachRowOnce) {
  const FoldInputs in = Fleet(23, 40);
  CvMode resolved;
  auto folds = MakeFolds(CvMode::kAuto, 5, in, 1, &resolved);
  ASSERT_TRUE(folds.ok()) << folds.status();
  EXPECT_EQ(resolved, CvMode::kGroup);
  std::vector<int> tested(in.label.size(), 0);
  for (const Fold& f : *folds) {
    std::set<uint32_t> train_entities, test_entities;
    for (uint32_t r : f.train) train_entities.insert(in.entity[r]);
    for (uint32_t r : f.test) {
      test_entities.insert(in.entity[r]);
      ++tested[r];
    }
    for (uint32_t e : test_entities) EXPECT_FALSE(train_entities.count(e)) << "entity " << e;
    EXPECT_EQ(f.train.size() + f.test.size(), in.label.size());
  }
  for (int t : tested) EXPECT_EQ(t, 1);
  // The same seed gives the same folds; another seed other folds.
  auto again = MakeFolds(CvMode::kGroup, 5, in, 1);
  auto other = MakeFolds(CvMode::kGroup, 5, in, 2);
  EXPECT_EQ((*folds)[0].test, (*again)[0].test);
  EXPECT_NE((*folds)[0].test, (*other)[0].test);
}

TEST(FoldsTest, StratifiedBalancesTheRareClass) {
  FoldInputs in;
  for (int i = 0; i < 1000; ++i) {
    in.entity.push_back(0);
    in.label.push_back(i % 33 == 0);  // 31 positives
  }
  CvMode resolved;
  auto folds = MakeFolds(CvMode::kAuto, 5, in, 9, &resolved);
  ASSERT_TRUE(folds.ok()) << folds.status();
  EXPECT_EQ(resolved, CvMode::kStratified);
  for (const Fold& f : *folds) {
    int positives = 0;
    for (uint32_t r : f.test) positives += in.label[r] > 0;
    EXPECT_GE(positives, 6);
    EXPECT_LE(positives, 7);
  }
}

TEST(FoldsTest, TimeTrainsOnThePastWithAnEmbargo) {
  FoldInputs in;
  for (int i = 0; i < 600; ++i) {
    in.entity.push_back(0);
    in.time.push_back(i);
    in.label.push_back(i % 10 == 0);
  }
  in.embargo = 20;
  CvMode resolved;
  auto folds = MakeFolds(CvMode::kAuto, 3, in, 0, &resolved);
  ASSERT_TRUE(folds.ok()) << folds.status();
  EXPECT_EQ(resolved, CvMode::kTime);
  for (const Fold& f : *folds) {
    double first_test = 1e18, last_train = -1;
    for (uint32_t r : f.test) first_test = std::min(first_test, in.time[r]);
    for (uint32_t r : f.train) last_train = std::max(last_train, in.time[r]);
    EXPECT_LT(last_train, first_test - 20 + 1e-9);
  }
}

TEST(FoldsTest, RefusesWhatCannotWork) {
  const FoldInputs in = Fleet(3, 40);
  auto group = MakeFolds(CvMode::kGroup, 5, in, 0);
  ASSERT_FALSE(group.ok());
  EXPECT_NE(group.status().message().find("at least 5 entities"), std::string::npos);
  FoldInputs no_time = in;
  no_time.time.clear();
  EXPECT_FALSE(MakeFolds(CvMode::kTime, 3, no_time, 0).ok());
  EXPECT_FALSE(ParseCvMode("random").ok());
}

TEST(FoldsTest, InnerSplitStaysInsideTheRows) {
  const FoldInputs in = Fleet(30, 20);
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < in.label.size(); r += 2) rows.push_back(r);
  const Fold inner = InnerSplit(CvMode::kGroup, in, rows, 0.2, 5);
  std::set<uint32_t> allowed(rows.begin(), rows.end());
  for (uint32_t r : inner.train) EXPECT_TRUE(allowed.count(r));
  for (uint32_t r : inner.test) EXPECT_TRUE(allowed.count(r));
  EXPECT_EQ(inner.train.size() + inner.test.size(), rows.size());
  EXPECT_GT(inner.test.size(), rows.size() / 10);
}

}  // namespace
}  // namespace pdm::model
