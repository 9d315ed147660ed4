// Rouge-L F: worked examples of the package's definition (distinct words,
// '.'-split sentences, the union of LCS words), and the `rouge` 1.0.1 package
// itself as the oracle on random texts when the project venv has it.
#include "data/rouge.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "support/python_oracle.h"

namespace seedtune {
namespace {

const std::string kVenvPython = SEEDTUNE_VENV_PYTHON;

TEST(RougeTest, WorkedExamples) {
  // LCS "the cat on the mat": distinct words {the, cat, on, mat} of 5 on each side.
  RougeScore s = RougeL("the cat sat on the mat", "the cat is on the mat");
  EXPECT_DOUBLE_EQ(s.r, 0.8);
  EXPECT_DOUBLE_EQ(s.p, 0.8);
  EXPECT_NEAR(s.f, 0.8, 1e-7);
  // Sentences are matched across: each reference sentence against every hypothesis sentence.
  EXPECT_NEAR(RougeL("a b. c d", "c d. a b").f, 1.0, 1e-7);
  // Words are counted once: "a a a" against "a" is a perfect score.
  EXPECT_NEAR(RougeL("a a a", "a").f, 1.0, 1e-7);
  // Whitespace runs collapse; case and punctuation other than '.' count.
  EXPECT_NEAR(RougeL("  Hello   world ", "Hello world").f, 1.0, 1e-7);
  EXPECT_NEAR(RougeL("hello, world", "Hello world").f, 0.5, 1e-7);  // only "world" is shared: r = p = 1/2
  // Nothing to compare: zero, as FedKSeed scores a generation the package refuses.
  EXPECT_EQ(RougeL("", "a b").f, 0.0);
  EXPECT_EQ(RougeL("a b", "").f, 0.0);
  EXPECT_EQ(RougeL("...", "a").f, 0.0);
  EXPECT_EQ(RougeL("x y", "a b").f, 0.0);
}

TEST(RougeTest, AgreesWithTheRougePackage) {
  if (const auto why = testing::PythonUnavailableReason(kVenvPython); !why.empty()) GTEST_SKIP() << why;
  auto probe = testing::RunPython(kVenvPython, "import rouge\nprint(rouge.__version__ if hasattr(rouge, '__version__') else 'ok')\n");
  if (!probe.ok()) GTEST_SKIP() << "the venv has no `rouge` package (scripts/setup-venv.sh installs rouge==1.0.1)";
  // Random texts over a small vocabulary (repeats, dots, double spaces, case).
  std::mt19937 rng(7);
  const std::vector<std::string> vocab = {"the", "cat", "The", "sat", "on", "mat", "a", "dog", "ran", ".", ",", "  ",
                                          "it", "was", "good"};
  nlohmann::json pairs = nlohmann::json::array();
  std::vector<std::pair<std::string, std::string>> texts;
  auto text = [&]() {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 14);
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + vocab[rng() % vocab.size()];
    return s;
  };
  for (int i = 0; i < 300; ++i) texts.emplace_back(text(), text());
  for (const auto& [h, r] : texts) pairs.push_back({h, r});
  const std::string script = R"(
import json, sys
from rouge import Rouge
out = []
for h, r in json.load(sys.stdin):
    try:
        out.append(Rouge(metrics=["rouge-l"]).get_scores(h, r)[0]["rouge-l"]["f"])
    except Exception:
        out.append(None)
print(json.dumps(out))
)";
  auto got = testing::RunPython(kVenvPython, script, {}, pairs.dump());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const auto want = nlohmann::json::parse(*got);
  ASSERT_EQ(want.size(), texts.size());
  int compared = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const double ours = RougeL(texts[i].first, texts[i].second).f;
    if (want[i].is_null()) {
      EXPECT_EQ(ours, 0.0) << "the package refuses \"" << texts[i].first << "\" / \"" << texts[i].second << "\"";
      continue;
    }
    ++compared;
    EXPECT_NEAR(ours, want[i].get<double>(), 1e-12) << "\"" << texts[i].first << "\" vs \"" << texts[i].second << "\"";
  }
  EXPECT_GT(compared, 250);
}

}  // namespace
}  // namespace seedtune
