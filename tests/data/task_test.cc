// Templates (MeZO's exact strings), portable seeded sampling, LoadTask.
#include "data/task.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/assets.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

std::optional<std::string> Data(const std::string& rel) { return FindAsset("data/" + rel); }

#define REQUIRE_DATA(var, rel)                                           \
  auto var##_opt = Data(rel);                                            \
  if (!var##_opt) GTEST_SKIP() << "asset data/" << rel << " not found"; \
  const std::string var = *var##_opt

void ExpectExample(const Example& ex, const std::string& prompt, const std::vector<std::string>& candidates,
                   int label) {
  EXPECT_EQ(ex.prompt, prompt);
  EXPECT_EQ(ex.candidates, candidates);
  EXPECT_EQ(ex.label, label);
  EXPECT_FALSE(ex.append_eos);
}

// ------------------------------------------------------------ templates

TEST(TemplateTest, Sst2FirstTrainRow) {
  REQUIRE_DATA(path, "sst2/train.tsv");
  auto rows = LoadSst2Tsv(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ExpectExample(Sst2Example((*rows)[0]), "hide new secretions from the parental units It was", {" terrible", " great"},
                0);
}

TEST(TemplateTest, RteFirstValRow) {
  REQUIRE_DATA(path, "superglue/RTE/val.jsonl");
  auto rows = LoadRteJsonl(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ExpectExample(RteExample((*rows)[0]),
                "Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to "
                "the Christopher Reeve Foundation.\nDoes this mean that \"Christopher Reeve had an accident.\" is "
                "true? Yes or No?\n",
                {"Yes", "No"}, 1);
}

TEST(TemplateTest, CbFirstValRow) {
  REQUIRE_DATA(path, "superglue/CB/val.jsonl");
  auto rows = LoadCbJsonl(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ExpectExample(CbExample((*rows)[0]),
                "Suppose Valence the void-brain, Valence the virtuous valet. Why couldn't the figger choose his own "
                "portion of titanic anatomy to shaft? Did he think he was helping? Can we infer that \"Valence was "
                "helping\"? Yes, No, or Maybe?\n",
                {"Yes", "No", "Maybe"}, 1);  // contradiction -> "No"
}

TEST(TemplateTest, WicFirstValRow) {
  REQUIRE_DATA(path, "superglue/WiC/val.jsonl");
  auto rows = LoadWicJsonl(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ExpectExample(WicExample((*rows)[0]),
                "Does the word \"class\" have the same meaning in these two sentences? Yes, No?\nAn emerging "
                "professional class.\nApologizing for losing your temper, even though you were badly provoked, "
                "showed real class.\n",
                {"No", "Yes"}, 0);
}

TEST(TemplateTest, WscFirstValRow) {
  REQUIRE_DATA(path, "superglue/WSC/val.jsonl");
  auto rows = LoadWscJsonl(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ExpectExample(WscExample((*rows)[0]),
                "Bernard , who had not told the government official that he was less than 21 when he filed for a "
                "homestead claim, did not consider that he had done anything dishonest. Still, anyone who knew that "
                "he was 19 years old could take his claim away from him .\nIn the previous sentence, does the "
                "pronoun \"him\" refer to anyone? Yes or No?\n",
                {"No", "Yes"}, 0);
  WscRecord upper{"He said so.", "John", "He", 1, 1};
  ExpectExample(WscExample(upper),
                "He said so.\nIn the previous sentence, does the pronoun \"he\" refer to John? Yes or No?\n",
                {"No", "Yes"}, 1);
}

TEST(TemplateTest, MultircFirstValAnswer) {
  REQUIRE_DATA(path, "superglue/MultiRC/val.jsonl");
  auto rows = LoadMultircJsonl(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  const Example ex = MultircExample((*rows)[0]);
  const std::string tail =
      "\nQuestion: Would the mass of a baseball affect how much force you have to use to pick it up?\nI found this "
      "answer \"No\". Is that correct? Yes or No?\n";
  EXPECT_EQ(ex.prompt, (*rows)[0].paragraph + tail);
  EXPECT_EQ(ex.prompt.substr(0, 31), "What causes a change in motion?");
  EXPECT_EQ(ex.candidates, (std::vector<std::string>{"No", "Yes"}));
  EXPECT_EQ(ex.label, 0);
  EXPECT_EQ(MultircExample((*rows)[1]).label, 1);
}

TEST(TemplateTest, BoolqV3) {
  BoolqRecord r{"Ethanol fuel -- Some text.", "does ethanol take more energy make that produces", 0, 1};
  ExpectExample(BoolqExample(r), "Ethanol fuel -- Some text. Does ethanol take more energy make that produces?\n",
                {"Yes", "No"}, 1);  // false -> "No"
  BoolqRecord q{"P.", "is it true?", 1, 1};
  ExpectExample(BoolqExample(q), "P. Is it true?\n", {"Yes", "No"}, 0);

  REQUIRE_DATA(path, "superglue/BoolQ/val.jsonl");
  auto rows = LoadBoolqJsonl(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  const Example ex = BoolqExample((*rows)[0]);
  EXPECT_EQ(ex.prompt, (*rows)[0].passage + " Does ethanol take more energy make that produces?\n");
  EXPECT_EQ(ex.label, 1);
}

TEST(TemplateTest, CopaFirstValRowAndCapitalization) {
  REQUIRE_DATA(path, "superglue/COPA/val.jsonl");
  auto rows = LoadCopaJsonl(path);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  // Prompt "The man turned on the faucet so " loses its trailing space
  // (MeZO's .strip(' ')), so the candidates start with one.
  ExpectExample(CopaExample((*rows)[0]), "The man turned on the faucet so",
                {" the toilet filled with water.", " water flowed from the spout."}, 1);
  CopaRecord cause{"I hurt my back. ", "I lifted a heavy box.", "TV was on.", "cause", 0, 1};
  ExpectExample(CopaExample(cause), "I hurt my back because", {" I lifted a heavy box.", " tv was on."}, 0);
  CopaRecord no_period{"It rained", "We stayed in.", "Idle hands.", "effect", 1, 1};
  ExpectExample(CopaExample(no_period), "It rained so", {" we stayed in.", " idle hands."}, 1);
}

TEST(TemplateTest, Sst5AndTrec) {
  LabeledSentence s5{1, "no movement , no yuks , not much of anything .", 1};
  ExpectExample(Sst5Example(s5), "no movement , no yuks , not much of anything . It was",
                {" terrible", " bad", " okay", " good", " great"}, 1);
  LabeledSentence trec{5, "How far is it from Denver to Aspen ?", 1};
  ExpectExample(TrecExample(trec), "How far is it from Denver to Aspen ? Answer type:",
                {" Description", " Entity", " Expression", " Human", " Location", " Number"}, 5);
}

TEST(TemplateTest, NaturalInstructionsAlpaca) {
  NiInstance inst{"Target: Brahmin \nBrahmins are respected.", "unrelated", 0};
  const Example ex = NiExample("Classify it.", inst);
  EXPECT_EQ(ex.prompt,
            "Below is an instruction that describes a task, paired with an input that provides further context. "
            "Write a response that appropriately completes the request.\n\n### Instruction:\nClassify it.\n\n### "
            "Input:\nTarget: Brahmin \nBrahmins are respected.\n\n### Response:");
  EXPECT_EQ(ex.candidates, std::vector<std::string>{"unrelated"});
  EXPECT_EQ(ex.label, 0);
  EXPECT_TRUE(ex.append_eos);
}

// ------------------------------------------------------------ sampling

TEST(SamplingTest, RngMatchesReferenceValues) {
  // splitmix64(0) -> xoshiro256** state; values from an independent Python
  // transcription of the reference algorithms (splitmix64's first output for
  // seed 0 is the published 0xe220a8397b1dcdaf).
  PortableRng rng(0);
  EXPECT_EQ(rng.Next(), 0x99ec5f36cb75f2b4ull);
  EXPECT_EQ(rng.Next(), 0xbf6e1f784956452aull);
  EXPECT_EQ(rng.Next(), 0x1a5f849d4933e6e0ull);
  EXPECT_EQ(SeededPermutation(10, 0), (std::vector<int64_t>{4, 2, 1, 7, 5, 6, 3, 9, 8, 0}));
}

TEST(SamplingTest, PermutationIsSeededAndComplete) {
  for (int64_t n : {0, 1, 2, 7, 1000}) {
    auto p = SeededPermutation(n, 42);
    std::vector<int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i);
    EXPECT_EQ(p, SeededPermutation(n, 42));
  }
  EXPECT_NE(SeededPermutation(1000, 1), SeededPermutation(1000, 2));
}

TEST(SamplingTest, BoundedDrawsAreUniform) {
  PortableRng rng(7);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 30000; ++i) ++counts[rng.Below(3)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

TEST(SamplingTest, TrainDevDisjointAndMezoSizes) {
  auto check = [](int64_t pool, int64_t train_n, int64_t dev_n, size_t want_train, size_t want_dev) {
    const TrainDevIndices s = SampleTrainDev(pool, train_n, dev_n, 3);
    EXPECT_EQ(s.train.size(), want_train) << pool << " " << train_n << " " << dev_n;
    EXPECT_EQ(s.dev.size(), want_dev) << pool << " " << train_n << " " << dev_n;
    std::set<int64_t> all(s.train.begin(), s.train.end());
    all.insert(s.dev.begin(), s.dev.end());
    EXPECT_EQ(all.size(), s.train.size() + s.dev.size()) << "train and dev overlap";
    // MeZO: train and dev are the head of one permutation, dev last.
    const auto perm = SeededPermutation(pool, 3);
    std::vector<int64_t> joined = s.train;
    joined.insert(joined.end(), s.dev.begin(), s.dev.end());
    EXPECT_TRUE(std::equal(joined.begin(), joined.end(), perm.begin()));
  };
  check(67349, 1000, 500, 1000, 500);  // SST-2
  check(250, 1000, 100, 150, 100);     // MeZO's CB: dev = last 100 of 250
  check(2490, 1000, 500, 1000, 500);   // RTE
  check(28, 1000, 500, 14, 14);        // a small pool: dev at most half
  check(400, 10, 500, 10, 390);        // train never exceeds train_n
  check(100, 0, 20, 0, 20);
  check(100, 20, 0, 20, 0);
  EXPECT_EQ(SampleEval(872, 1000, 0).size(), 872u);
  EXPECT_EQ(SampleEval(872, 100, 0).size(), 100u);
}

TEST(SamplingTest, HoldoutKeepsGroupsTogether) {
  // 10 groups of 3 items.
  std::vector<int64_t> group_of;
  for (int64_t g = 0; g < 10; ++g)
    for (int k = 0; k < 3; ++k) group_of.push_back(g);
  const HoldoutSplit split = SplitHoldout(group_of, 10);
  EXPECT_EQ(split.eval_pool.size(), 15u);
  EXPECT_EQ(split.train_pool.size(), 15u);
  std::set<int64_t> eval_groups, train_groups;
  for (int64_t i : split.eval_pool) eval_groups.insert(group_of[i]);
  for (int64_t i : split.train_pool) train_groups.insert(group_of[i]);
  for (int64_t g : eval_groups) EXPECT_EQ(train_groups.count(g), 0u);
  EXPECT_TRUE(std::is_sorted(split.eval_pool.begin(), split.eval_pool.end()));
}

// ------------------------------------------------------------ LoadTask

TEST(LoadTaskTest, Sst2SeedZeroIsPinned) {
  REQUIRE_DATA(dir, "");
  if (!Data("sst2/train.tsv")) GTEST_SKIP() << "asset data/sst2 not found";
  TaskOptions opts;  // 1000 / 500 / 1000, seed 0
  auto task = LoadTask("sst2", dir, opts);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ(task->train_objective, Objective::kCandidateClassification);
  EXPECT_EQ(task->train.size(), 1000u);
  EXPECT_EQ(task->dev.size(), 500u);
  EXPECT_EQ(task->eval.size(), 872u);
  // Portability pin: the first sampled train index for seed 0 is 45121
  // (file line 45123: "its emotional power \t1"); the first dev index 54256.
  auto rows = LoadSst2Tsv(*Data("sst2/train.tsv"));
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(SampleTrainDev(67349, 1000, 500, 0).train[0], 45121);
  EXPECT_EQ(task->train[0].prompt, "its emotional power It was");
  EXPECT_EQ(task->train[0].label, 1);
  EXPECT_EQ(task->dev[0].prompt, Sst2Example((*rows)[54256]).prompt);
  auto dev_rows = LoadSst2Tsv(*Data("sst2/dev.tsv"));
  ASSERT_TRUE(dev_rows.ok());
  EXPECT_EQ(task->eval[0].prompt, Sst2Example((*dev_rows)[582]).prompt);

  // Deterministic, and another seed gives another sample.
  auto again = LoadTask("sst2", dir, opts);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < task->train.size(); ++i) ASSERT_EQ(task->train[i].prompt, again->train[i].prompt);
  opts.seed = 1;
  auto other = LoadTask("sst2", dir, opts);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->train[0].prompt, task->train[0].prompt);
}

TEST(LoadTaskTest, EveryTaskLoads) {
  REQUIRE_DATA(dir, "");
  if (!Data("superglue") || !Data("lmbff") || !Data("natural-instructions"))
    GTEST_SKIP() << "asset data folders not found";
  struct Want {
    const char* name;
    Objective objective;
    size_t candidates;
    size_t train, dev, eval;
  };
  TaskOptions opts;
  opts.dev_n = 100;
  const Want wants[] = {
      {"rte", Objective::kCandidateClassification, 2, 1000, 100, 277},
      {"wsc", Objective::kCandidateClassification, 2, 454, 100, 104},
      {"cb", Objective::kCandidateClassification, 3, 14, 14, 28},
      {"copa", Objective::kLanguageModel, 2, 25, 25, 50},
      {"boolq", Objective::kCandidateClassification, 2, 1000, 100, 1000},
      {"wic", Objective::kCandidateClassification, 2, 219, 100, 319},
      {"sst5", Objective::kCandidateClassification, 5, 1000, 100, 1000},
      {"trec", Objective::kCandidateClassification, 6, 1000, 100, 500},
      {"ni:task321_stereoset_classification_religion", Objective::kLanguageModel, 1, 57, 57, 114},
  };
  for (const Want& w : wants) {
    auto task = LoadTask(w.name, dir, opts);
    ASSERT_TRUE(task.ok()) << w.name << ": " << task.status().ToString();
    EXPECT_EQ(task->train_objective, w.objective) << w.name;
    EXPECT_EQ(task->train.size(), w.train) << w.name;
    EXPECT_EQ(task->dev.size(), w.dev) << w.name;
    EXPECT_EQ(task->eval.size(), w.eval) << w.name;
    for (const auto* split : {&task->train, &task->dev, &task->eval}) {
      for (const Example& ex : *split) {
        ASSERT_EQ(ex.candidates.size(), w.candidates) << w.name;
        ASSERT_GE(ex.label, 0);
        ASSERT_LT(ex.label, static_cast<int>(ex.candidates.size()));
      }
    }
  }
}

TEST(LoadTaskTest, HoldoutEvalIsFixedAcrossSeedsAndDisjoint) {
  REQUIRE_DATA(dir, "");
  if (!Data("superglue/MultiRC/val.jsonl")) GTEST_SKIP() << "asset data/superglue not found";
  TaskOptions opts;
  opts.eval_n = 100000;
  auto a = LoadTask("multirc", dir, opts);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  opts.seed = 5;
  auto b = LoadTask("multirc", dir, opts);
  ASSERT_TRUE(b.ok());
  auto prompts = [](const std::vector<Example>& v) {
    std::multiset<std::string> s;
    for (const auto& e : v) s.insert(e.prompt);
    return s;
  };
  EXPECT_EQ(prompts(a->eval), prompts(b->eval));
  EXPECT_NE(a->train[0].prompt, b->train[0].prompt);
  // No passage on both sides: the paragraph (prompt head) never crosses.
  auto paragraph = [](const Example& e) { return e.prompt.substr(0, e.prompt.find("\nQuestion: ")); };
  std::set<std::string> eval_paragraphs;
  for (const auto& e : a->eval) eval_paragraphs.insert(paragraph(e));
  for (const auto* split : {&a->train, &a->dev})
    for (const auto& e : *split) ASSERT_EQ(eval_paragraphs.count(paragraph(e)), 0u);
  EXPECT_EQ(a->train.size(), 1000u);
  EXPECT_EQ(a->dev.size(), 500u);
  EXPECT_GT(a->eval.size(), 1500u);  // about half of the 4,848 answers
  EXPECT_LT(a->eval.size(), 3400u);
}

TEST(LoadTaskTest, TextLinesAndErrors) {
  const std::string dir = testing::MakeTempDir("data-task");
  std::ofstream(dir + "/stories.txt") << "Once upon a time.\n\nThe end.\nA cat.\nA dog.\n";
  TaskOptions opts;
  auto task = LoadTask("text:" + dir + "/stories.txt", dir, opts);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ(task->train_objective, Objective::kLanguageModel);
  EXPECT_EQ(task->train.size() + task->dev.size() + task->eval.size(), 4u);
  EXPECT_EQ(task->eval.size(), 2u);
  for (const auto& ex : task->eval) {
    EXPECT_EQ(ex.prompt, "");
    ASSERT_EQ(ex.candidates.size(), 1u);
  }

  EXPECT_FALSE(LoadTask("nosuchtask", dir, opts).ok());
  EXPECT_FALSE(LoadTask("text:" + dir + "/missing.txt", dir, opts).ok());
  auto missing = LoadTask("sst2", dir, opts);  // dir has no sst2/
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("sst2/train.tsv"), std::string::npos) << missing.status().ToString();
  opts.train_n = -1;
  EXPECT_FALSE(LoadTask("text:" + dir + "/stories.txt", dir, opts).ok());
}

// A task named by another participant reads only files under this one's
// data root: absolute paths, '..' and links that leave the root are refused,
// whatever exists there.
TEST(TaskTest, ATaskNamedByAnotherParticipantStaysInsideTheDataRoot) {
  namespace fs = std::filesystem;
  const std::string dir = testing::MakeTempDir("task-confine");
  const std::string root = dir + "/root";
  fs::create_directories(root + "/natural-instructions");
  fs::create_directories(root + "/texts");
  std::ofstream(root + "/texts/ok.txt") << "a b c\n";
  std::ofstream(root + "/natural-instructions/task1.json") << "{}";
  std::ofstream(dir + "/secret.txt") << "not for the server\n";
  fs::create_symlink(dir + "/secret.txt", root + "/texts/link.txt");

  auto ok = ConfineTaskToDataRoot("text:texts/ok.txt", root);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "text:" + fs::weakly_canonical(root + "/texts/ok.txt").string());
  auto ni = ConfineTaskToDataRoot("ni:task1", root);
  ASSERT_TRUE(ni.ok()) << ni.status().ToString();
  EXPECT_EQ(*ni, "ni:" + fs::weakly_canonical(root + "/natural-instructions/task1.json").string());
  EXPECT_EQ(*ConfineTaskToDataRoot("sst2", root), "sst2") << "benchmarks live at fixed places under the root";

  struct Case {
    std::string task, error;
  };
  const Case refused[] = {
      {"text:" + dir + "/secret.txt", "not absolute"},
      {"text:../secret.txt", "'..' would leave this participant's data root"},
      {"ni:../../secret", "'..' would leave"},
      {"ni:/etc/passwd", "not absolute"},
      {"text:texts/link.txt", "outside this participant's data root"},
      {"text:", "not empty"},
  };
  for (const Case& c : refused) {
    auto r = ConfineTaskToDataRoot(c.task, root);
    ASSERT_FALSE(r.ok()) << c.task;
    const std::string want = c.error.rfind("not ", 0) == 0 ? c.error.substr(4) : c.error;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << c.task << ": " << r.status().ToString();
  }
}

}  // namespace
}  // namespace seedtune

namespace seedtune {
namespace {

// "sst2:reviews.tsv" was accepted and trained on the real SST-2.
TEST(TaskTest, ABenchmarkTaskTakesNoFileArgument) {
  TaskOptions opts;
  for (const char* name : {"sst2:reviews60.tsv", "rte:x", "trec:"}) {
    auto t = LoadTask(name, "/nonexistent", opts);
    ASSERT_FALSE(t.ok()) << name;
    EXPECT_NE(t.status().message().find("takes no argument"), std::string::npos) << t.status().ToString();
    EXPECT_NE(t.status().message().find("classify:FILE, instruct:FILE or text:FILE"), std::string::npos) << t.status().ToString();
  }
}

}  // namespace
}  // namespace seedtune

namespace seedtune {
namespace {

// FedKSeed's Dolly protocol: the summarization category is the eval set, the
// others train with their category as the partition group; FedKSeed's prompt.
TEST(LoadTaskTest, DollyHoldsOutSummarization) {
  auto dir = FindAsset("data");
  if (!dir || !FindAsset("data/dolly/databricks-dolly-15k.head.jsonl")) GTEST_SKIP() << "no Dolly asset";
  TaskOptions opts;
  opts.train_n = 100000;
  opts.dev_n = 0;
  opts.eval_n = 100000;
  auto t = LoadTask("dolly", *dir, opts);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->train_objective, Objective::kLanguageModel);
  EXPECT_TRUE(t->loss_only);
  ASSERT_GT(t->eval.size(), 50u);
  ASSERT_GT(t->train.size(), 1000u);
  EXPECT_EQ(t->train.size() + t->eval.size(), 1611u) << "every record of the head is in one pool";
  for (const Example& e : t->eval) EXPECT_EQ(e.group, 7) << "summarization is the 8th category alphabetically";
  std::set<int> groups;
  bool with_input = false, without_input = false;
  for (const Example& e : t->train) {
    ASSERT_NE(e.group, 7);
    groups.insert(e.group);
    EXPECT_TRUE(e.append_eos);
    EXPECT_NE(e.prompt.find("Write a response for the task request.\n\n### Instruction:\n"), std::string::npos);
    (e.prompt.find("\n\n### Input:\n") != std::string::npos ? with_input : without_input) = true;
  }
  EXPECT_EQ(groups.size(), 7u);
  EXPECT_TRUE(with_input && without_input);
}

}  // namespace
}  // namespace seedtune
