// Raw loaders: row counts of the real files (../shared/assets/README.md) and
// rejection of malformed rows with "path:line".
#include "data/dataset.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/assets.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

std::optional<std::string> Data(const std::string& rel) { return FindAsset("data/" + rel); }

#define REQUIRE_DATA(var, rel)                                  \
  auto var##_opt = Data(rel);                                   \
  if (!var##_opt) GTEST_SKIP() << "asset data/" << rel << " not found"; \
  const std::string var = *var##_opt

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string dir = testing::MakeTempDir("data");
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// The error names the file and the line.
void ExpectRowError(const Status& s, const std::string& path, int line, const std::string& fragment) {
  ASSERT_FALSE(s.ok()) << "expected an error for " << path;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(path + ":" + std::to_string(line) + ":"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.ToString();
}

TEST(DatasetTest, Sst2RowCounts) {
  REQUIRE_DATA(train, "sst2/train.tsv");
  REQUIRE_DATA(dev, "sst2/dev.tsv");
  auto t = LoadSst2Tsv(train);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->size(), 67349u);
  EXPECT_EQ((*t)[0].sentence, "hide new secretions from the parental units ");
  EXPECT_EQ((*t)[0].label, 0);
  EXPECT_EQ((*t)[0].line, 2);
  auto d = LoadSst2Tsv(dev);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->size(), 872u);
  int positives = 0;
  for (const auto& r : *d) positives += r.label;
  EXPECT_EQ(positives, 444);
}

TEST(DatasetTest, SuperGlueRowCounts) {
  REQUIRE_DATA(rte_val, "superglue/RTE/val.jsonl");
  auto rte = LoadRteJsonl(rte_val);
  ASSERT_TRUE(rte.ok()) << rte.status().ToString();
  EXPECT_EQ(rte->size(), 277u);
  EXPECT_EQ((*rte)[0].label, 1);  // not_entailment
  auto rte_train = LoadRteJsonl(*Data("superglue/RTE/train.jsonl"));
  ASSERT_TRUE(rte_train.ok()) << rte_train.status().ToString();
  EXPECT_EQ(rte_train->size(), 2490u);

  auto cb = LoadCbJsonl(*Data("superglue/CB/val.jsonl"));
  ASSERT_TRUE(cb.ok()) << cb.status().ToString();
  EXPECT_EQ(cb->size(), 56u);
  int counts[3] = {0, 0, 0};
  for (const auto& r : *cb) ++counts[r.label];
  EXPECT_EQ(counts[0], 23);  // entailment
  EXPECT_EQ(counts[1], 28);  // contradiction
  EXPECT_EQ(counts[2], 5);   // neutral

  auto copa = LoadCopaJsonl(*Data("superglue/COPA/val.jsonl"));
  ASSERT_TRUE(copa.ok()) << copa.status().ToString();
  EXPECT_EQ(copa->size(), 100u);
  EXPECT_EQ((*copa)[0].label, 1);
  EXPECT_EQ((*copa)[0].question, "effect");

  auto boolq = LoadBoolqJsonl(*Data("superglue/BoolQ/val.jsonl"));
  ASSERT_TRUE(boolq.ok()) << boolq.status().ToString();
  EXPECT_EQ(boolq->size(), 3270u);
  int yes = 0;
  for (const auto& r : *boolq) yes += r.label;
  EXPECT_EQ(yes, 2033);

  auto wsc = LoadWscJsonl(*Data("superglue/WSC/val.jsonl"));
  ASSERT_TRUE(wsc.ok()) << wsc.status().ToString();
  EXPECT_EQ(wsc->size(), 104u);
  EXPECT_EQ((*wsc)[0].span1_text, "anyone");
  EXPECT_EQ((*wsc)[0].span2_text, "him");
  auto wsc_train = LoadWscJsonl(*Data("superglue/WSC/train.jsonl"));
  ASSERT_TRUE(wsc_train.ok()) << wsc_train.status().ToString();
  EXPECT_EQ(wsc_train->size(), 554u);

  auto wic = LoadWicJsonl(*Data("superglue/WiC/val.jsonl"));
  ASSERT_TRUE(wic.ok()) << wic.status().ToString();
  EXPECT_EQ(wic->size(), 638u);

  auto multirc = LoadMultircJsonl(*Data("superglue/MultiRC/val.jsonl"));
  ASSERT_TRUE(multirc.ok()) << multirc.status().ToString();
  EXPECT_EQ(multirc->size(), 4848u);
  EXPECT_EQ(multirc->back().passage, 82);  // 83 passages
  EXPECT_EQ((*multirc)[0].question, "Would the mass of a baseball affect how much force you have to use to pick it up?");
  EXPECT_EQ((*multirc)[0].answer, "No");
  EXPECT_EQ((*multirc)[0].label, 0);
  EXPECT_EQ((*multirc)[1].label, 1);
}

TEST(DatasetTest, LmBffRowCounts) {
  REQUIRE_DATA(sst5_train, "lmbff/sst-5/train.tsv");
  auto train = LoadLmBffTsv(sst5_train, 5);
  ASSERT_TRUE(train.ok()) << train.status().ToString();
  EXPECT_EQ(train->size(), 8544u);
  auto dev = LoadLmBffTsv(*Data("lmbff/sst-5/dev.tsv"), 5);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  EXPECT_EQ(dev->size(), 1101u);
  auto test = LoadLmBffTsv(*Data("lmbff/sst-5/test.tsv"), 5);
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  EXPECT_EQ(test->size(), 2210u);
  EXPECT_EQ((*test)[0].label, 1);
  EXPECT_EQ((*test)[0].sentence, "no movement , no yuks , not much of anything .");

  auto trec = LoadLmBffCsv(*Data("lmbff/trec/train.csv"), 6);
  ASSERT_TRUE(trec.ok()) << trec.status().ToString();
  EXPECT_EQ(trec->size(), 5452u);
  // Line 80 is quoted and holds commas.
  EXPECT_EQ((*trec)[79].line, 80);
  EXPECT_EQ((*trec)[79].label, 4);
  EXPECT_EQ((*trec)[79].sentence, "What country did the Nazis occupy for 1 , CD NNS IN NNP NNP NNP .");
  auto trec_test = LoadLmBffCsv(*Data("lmbff/trec/test.csv"), 6);
  ASSERT_TRUE(trec_test.ok()) << trec_test.status().ToString();
  EXPECT_EQ(trec_test->size(), 500u);
  EXPECT_EQ((*trec_test)[0].label, 5);
  EXPECT_EQ((*trec_test)[0].sentence, "How far is it from Denver to Aspen ?");
}

TEST(DatasetTest, NaturalInstructionsFiles) {
  auto dir = Data("natural-instructions");
  if (!dir) GTEST_SKIP() << "asset data/natural-instructions not found";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(*dir)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    auto task = LoadNiTask(entry.path().string());
    ASSERT_TRUE(task.ok()) << task.status().ToString();
    EXPECT_FALSE(task->definition.empty()) << entry.path();
    EXPECT_GE(task->instances.size(), 228u) << entry.path();
  }
  // ../shared/assets/README.md says "25 tasks", but its SHA-256 list and the
  // folder hold 24 task files (126-131, 137-143, 151, 152, 156, 305-308, 318-321).
  EXPECT_EQ(files, 24);
  auto religion = LoadNiTask(*dir + "/task321_stereoset_classification_religion.json");
  ASSERT_TRUE(religion.ok()) << religion.status().ToString();
  EXPECT_EQ(religion->instances.size(), 228u);
  EXPECT_EQ(religion->instances[0].input, "Target: Brahmin \nBrahmins are highly respected in India. Poor people lack food.");
  EXPECT_EQ(religion->instances[0].output, "unrelated");
  EXPECT_EQ(religion->definition.substr(0, 40), "Given two sentences regarding the stereo");
}

TEST(DatasetTest, CsvQuotingAndEscapes) {
  const std::string path = WriteTemp("q.csv", "0,plain\r\n1,\"a, b \"\"c\"\"\"\n2,\"two\nlines\"\n3,x\n");
  auto rows = LoadLmBffCsv(path, 6);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[0].sentence, "plain");
  EXPECT_EQ((*rows)[1].sentence, "a, b \"c\"");
  EXPECT_EQ((*rows)[2].sentence, "two\nlines");
  EXPECT_EQ((*rows)[3].line, 5);  // the quoted newline counts
}

TEST(DatasetTest, MalformedTsvRows) {
  {
    const std::string p = WriteTemp("train.tsv", "sentence\tlabel\ngood film \t1\nbad film \t2\n");
    ExpectRowError(LoadSst2Tsv(p).status(), p, 3, "label");
  }
  {
    const std::string p = WriteTemp("train.tsv", "sentence\tlabel\ngood film \t1\nno label column\n");
    ExpectRowError(LoadSst2Tsv(p).status(), p, 3, "columns");
  }
  {
    const std::string p = WriteTemp("train.tsv", "text\tlabel\ngood film \t1\n");
    ExpectRowError(LoadSst2Tsv(p).status(), p, 1, "header");
  }
  {
    const std::string p = WriteTemp("s5.tsv", "4\tgreat\n5\tout of range\n");
    ExpectRowError(LoadLmBffTsv(p, 5).status(), p, 2, "label");
  }
  {
    const std::string p = WriteTemp("s5.tsv", "4\tgreat\n3 missing tab\n");
    ExpectRowError(LoadLmBffTsv(p, 5).status(), p, 2, "columns");
  }
  {
    const std::string p = WriteTemp("t.csv", "0,fine\nx,bad label\n");
    ExpectRowError(LoadLmBffCsv(p, 6).status(), p, 2, "label");
  }
  {
    const std::string p = WriteTemp("t.csv", "0,fine\n1,what , about this\n");
    ExpectRowError(LoadLmBffCsv(p, 6).status(), p, 2, "columns");
  }
  {
    const std::string p = WriteTemp("t.csv", "0,fine\n1,\"never closed\n2,x\n");
    ExpectRowError(LoadLmBffCsv(p, 6).status(), p, 2, "unterminated");
  }
}

TEST(DatasetTest, MalformedJsonlRows) {
  const std::string good_rte = R"({"premise": "p", "hypothesis": "h", "label": "entailment", "idx": 0})";
  {
    const std::string p = WriteTemp("val.jsonl", good_rte + "\n" + R"({"premise": "p", "hypothesis": "h", "label": "maybe"})" + "\n");
    ExpectRowError(LoadRteJsonl(p).status(), p, 2, "label");
  }
  {
    const std::string p = WriteTemp("val.jsonl", good_rte + "\n" + good_rte + "\n" + R"({"premise": "p", "label": "entailment"})" + "\n");
    ExpectRowError(LoadRteJsonl(p).status(), p, 3, "hypothesis");
  }
  {
    const std::string p = WriteTemp("val.jsonl", good_rte + "\n{\"premise\": \"p\", \n");
    ExpectRowError(LoadRteJsonl(p).status(), p, 2, "invalid JSON");
  }
  {
    // CB's labels are not RTE's.
    const std::string p = WriteTemp("val.jsonl", good_rte + "\n" + R"({"premise": "p", "hypothesis": "h", "label": "not_entailment"})" + "\n");
    ExpectRowError(LoadCbJsonl(p).status(), p, 2, "label");
  }
  {
    const std::string p = WriteTemp("val.jsonl", R"({"question": "q", "passage": "p", "label": "yes"})" "\n");
    ExpectRowError(LoadBoolqJsonl(p).status(), p, 1, "label");
  }
  {
    const std::string p = WriteTemp("val.jsonl", R"({"premise": "p.", "choice1": "a", "choice2": "b", "question": "effect", "label": 2})" "\n");
    ExpectRowError(LoadCopaJsonl(p).status(), p, 1, "label");
  }
  {
    const std::string p = WriteTemp("val.jsonl", R"({"premise": "p.", "choice1": "a", "choice2": "b", "question": "why", "label": 0})" "\n");
    ExpectRowError(LoadCopaJsonl(p).status(), p, 1, "question");
  }
  {
    const std::string p = WriteTemp("val.jsonl", R"({"text": "t", "target": {"span1_text": "a"}, "label": true})" "\n");
    ExpectRowError(LoadWscJsonl(p).status(), p, 1, "span2_text");
  }
  {
    const std::string p = WriteTemp("val.jsonl", R"({"word": "w", "sentence1": "a", "sentence2": 3, "label": true})" "\n");
    ExpectRowError(LoadWicJsonl(p).status(), p, 1, "sentence2");
  }
  {
    const std::string p = WriteTemp(
        "val.jsonl",
        R"({"passage": {"text": "t", "questions": [{"question": "q", "answers": [{"text": "a", "label": 1}, {"text": "b"}]}]}})"
        "\n");
    ExpectRowError(LoadMultircJsonl(p).status(), p, 1, "answers[1]");
  }
}

TEST(DatasetTest, MalformedNiTask) {
  {
    const std::string p = WriteTemp("task.json", "{\n  \"Definition\": \"d\",\n  \"Instances\": [\n    {\"input\": \"x\" \"output\": [\"y\"]}\n  ]\n}\n");
    ExpectRowError(LoadNiTask(p).status(), p, 4, "invalid JSON");
  }
  {
    const std::string p = WriteTemp("task.json", R"({"Definition": ["d"], "Instances": [{"input": "x", "output": ["y"]}, {"input": "x", "output": []}]})");
    auto s = LoadNiTask(p).status();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find(p), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("Instances[1]"), std::string::npos) << s.ToString();
  }
  {
    // v2.8 layout: Definition is a list, outputs a list: first of each.
    const std::string p = WriteTemp("task.json", R"({"Definition": ["first", "second"], "Instances": [{"id": "a", "input": "x", "output": ["y", "z"]}]})");
    auto t = LoadNiTask(p);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->definition, "first");
    ASSERT_EQ(t->instances.size(), 1u);
    EXPECT_EQ(t->instances[0].output, "y");
  }
}

TEST(DatasetTest, MissingFileIsNotFound) {
  auto s = LoadSst2Tsv("/nonexistent/seedtune/train.tsv").status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/seedtune/train.tsv"), std::string::npos);
}

}  // namespace
}  // namespace seedtune
