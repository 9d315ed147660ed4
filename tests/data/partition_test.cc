#include "data/partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/task.h"

namespace seedtune {
namespace {

void ExpectExactCover(const ClientShards& shards, int64_t n) {
  std::vector<int> seen(static_cast<size_t>(n), 0);
  for (const auto& s : shards)
    for (int64_t i : s) {
      ASSERT_GE(i, 0);
      ASSERT_LT(i, n);
      seen[i]++;
    }
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "example " << i;
}

std::vector<int> Labels(int64_t n, int classes) {
  std::vector<int> l(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) l[i] = static_cast<int>((i * 7919) % classes);
  return l;
}

// Mean over clients of the largest class share: 1/classes for a perfectly
// mixed split, 1 when every client holds a single class.
double MeanMaxShare(const ClientShards& shards, const std::vector<int>& labels, int classes) {
  double total = 0.0;
  for (const auto& s : shards) {
    std::vector<int> count(static_cast<size_t>(classes), 0);
    for (int64_t i : s) count[labels[i]]++;
    total += static_cast<double>(*std::max_element(count.begin(), count.end())) / s.size();
  }
  return total / shards.size();
}

TEST(PartitionTest, IidIsBalancedCoverAndSeeded) {
  auto a = PartitionIid(1003, 10, 5), b = PartitionIid(1003, 10, 5), c = PartitionIid(1003, 10, 6);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ExpectExactCover(*a, 1003);
  for (const auto& s : *a) EXPECT_TRUE(s.size() == 100 || s.size() == 101);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_FALSE(PartitionIid(3, 5, 0).ok());
}

TEST(PartitionTest, DirichletCoversRespectsMinimumAndSkewsWithSmallAlpha) {
  const int64_t n = 2000;
  const int classes = 2;
  const auto labels = Labels(n, classes);
  auto skewed = PartitionDirichlet(labels, classes, 5, 0.1, 10, 1);
  auto mixed = PartitionDirichlet(labels, classes, 5, 100.0, 10, 1);
  ASSERT_TRUE(skewed.ok()) << skewed.status().ToString();
  ASSERT_TRUE(mixed.ok());
  ExpectExactCover(*skewed, n);
  ExpectExactCover(*mixed, n);
  for (const auto& s : *skewed) EXPECT_GE(s.size(), 10u);
  EXPECT_GT(MeanMaxShare(*skewed, labels, classes), 0.8);
  EXPECT_LT(MeanMaxShare(*mixed, labels, classes), 0.6);
  auto again = PartitionDirichlet(labels, classes, 5, 0.1, 10, 1);
  EXPECT_EQ(*skewed, *again);
  EXPECT_FALSE(PartitionDirichlet(labels, classes, 5, 0.0, 10, 1).ok());
  EXPECT_FALSE(PartitionDirichlet(labels, classes, 300, 0.5, 10, 1).ok()) << "300 x 10 > 2000";
}

TEST(PartitionTest, GammaVariatesHaveTheRightMean) {
  PortableRng rng(3);
  for (double shape : {0.3, 1.0, 4.5}) {
    double sum = 0.0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) sum += SampleGamma(rng, shape);
    EXPECT_NEAR(sum / n, shape, 5.0 * std::sqrt(shape / n)) << shape;  // mean = variance = shape
  }
}

TEST(PartitionTest, ByGroupGivesEachClientItsGroup) {
  std::vector<int64_t> groups = {2, 0, 1, 2, 0};
  auto s = PartitionByGroup(groups, 3);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)[0], (std::vector<int64_t>{1, 4}));
  EXPECT_EQ((*s)[2], (std::vector<int64_t>{0, 3}));
  EXPECT_FALSE(PartitionByGroup({0, 0}, 2).ok()) << "group 1 empty";
}

}  // namespace
}  // namespace seedtune
