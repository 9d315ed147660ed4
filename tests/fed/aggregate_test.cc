// Aggregation rules: their names parse exactly (no prefix matches, no
// unguarded number parsing), and the weights they give.
#include "fed/aggregate.h"

#include <gtest/gtest.h>

#include <string>

namespace seedtune {
namespace {

TEST(AggregateTest, ScalarRuleNamesParseExactly) {
  auto mean = ParseScalarRule("mean");
  ASSERT_TRUE(mean.ok());
  EXPECT_EQ(mean->rule, ScalarRule::kMean);
  EXPECT_EQ(ParseScalarRule("median")->rule, ScalarRule::kMedian);
  auto quarter = ParseScalarRule("trimmed:0.25");
  ASSERT_TRUE(quarter.ok());
  EXPECT_EQ(quarter->rule, ScalarRule::kTrimmedMean);
  EXPECT_DOUBLE_EQ(quarter->trim_fraction, 0.25);
  EXPECT_DOUBLE_EQ(ParseScalarRule("trimmed:0")->trim_fraction, 0.0);
  // The probe's cases (an abort on std::stod, a prefix match), and more.
  for (const char* bad : {"trimmed:abc", "trimmedx", "trimmed", "trimmed:", "trimmed:0.5", "trimmed:-0.1",
                          "trimmed:nan", "trimmed: 0.1", "trimmed:+0.1", "trimmed:0.2x", "trimmed:1e400", "Mean", "",
                          "median "}) {
    auto r = ParseScalarRule(bad);
    EXPECT_FALSE(r.ok()) << "'" << bad << "' was accepted";
    if (!r.ok()) EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos) << r.status().ToString();
  }
}

TEST(AggregateTest, TrimmedWeightsDropTheExtremes) {
  const auto w = ScalarWeights({5.0, -100.0, 1.0, 2.0, 100.0}, ScalarRule::kTrimmedMean, 0.2);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_DOUBLE_EQ(w[1], 0.0);
  EXPECT_DOUBLE_EQ(w[4], 0.0);
  EXPECT_DOUBLE_EQ(w[0] + w[2] + w[3], 1.0);
}

}  // namespace
}  // namespace seedtune
