// A user's own files: the formats, the templates and label words, the splits
// (nothing dropped silently) and the errors that name the file and line.
#include "data/user_data.h"

#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "data/task.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

std::string Write(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

void ExpectError(const StatusOr<Task>& t, const std::string& want) {
  ASSERT_FALSE(t.ok()) << "expected an error containing: " << want;
  EXPECT_NE(t.status().message().find(want), std::string::npos) << t.status().ToString();
}

TEST(UserDataTest, TheFourFormatsGiveTheSameRecords) {
  const std::string dir = testing::MakeTempDir("user-formats");
  const std::string jsonl = Write(dir, "a.jsonl", "{\"text\": \"good, \\\"very\\\"\", \"label\": 1}\n\n{\"text\": \"bad\", \"label\": 0}\n");
  const std::string json = Write(dir, "a.json", "[{\"text\": \"good, \\\"very\\\"\", \"label\": 1}, {\"text\": \"bad\", \"label\": 0}]");
  const std::string csv = Write(dir, "a.csv", "text,label\r\n\"good, \"\"very\"\"\",1\r\nbad,0\r\n");
  const std::string tsv = Write(dir, "a.tsv", "label\ttext\n1\tgood, \"very\"\n0\tbad\n");
  for (const std::string& path : {jsonl, json, csv, tsv}) {
    auto f = LoadUserFile(path, false);
    ASSERT_TRUE(f.ok()) << path << ": " << f.status().ToString();
    ASSERT_EQ(f->records.size(), 2u) << path;
    ASSERT_NE(f->records[0].Find("text"), nullptr) << path;
    EXPECT_EQ(*f->records[0].Find("text"), "good, \"very\"") << path;
    EXPECT_EQ(*f->records[0].Find("label"), "1") << path;
    EXPECT_EQ(*f->records[1].Find("label"), "0") << path;
  }
  // Lines are 1-based and name where a row starts (the blank JSONL line is skipped, not renumbered).
  EXPECT_EQ(LoadUserFile(jsonl, false)->records[1].line, 3);
  EXPECT_EQ(LoadUserFile(csv, false)->records[1].line, 3);
}

TEST(UserDataTest, MalformedFilesNameTheFileAndLine) {
  const std::string dir = testing::MakeTempDir("user-bad");
  struct Case {
    std::string name, text, error;
  };
  const Case cases[] = {
      {"a.jsonl", "{\"text\": \"x\"}\n{\"text\": \n", "a.jsonl:2: invalid JSON"},
      {"b.jsonl", "[1, 2]\n", "b.jsonl:1: expected a JSON object"},
      {"c.jsonl", "{\"text\": [1]}\n", "field \"text\" is a JSON array"},
      {"d.csv", "text,label\nx,1,extra\n", "d.csv:2: 3 fields, but the header names 2 columns"},
      {"e.csv", "text,text\nx,y\n", "column \"text\" appears twice"},
      {"f.csv", "", "empty file"},
      {"g.tsv", "text\tlabel\nonly\n", "g.tsv:2: 1 fields"},
      {"h.xml", "<a/>", "unknown format '.xml'"},
  };
  for (const Case& c : cases) {
    auto f = LoadUserFile(Write(dir, c.name, c.text), false);
    ASSERT_FALSE(f.ok()) << c.name;
    EXPECT_NE(f.status().message().find(c.error), std::string::npos) << c.name << ": " << f.status().ToString();
  }
  // A text task reads any other extension as lines.
  auto lines = LoadUserFile(Write(dir, "notes.md", "one\n\ntwo\n"), true);
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  ASSERT_EQ(lines->records.size(), 2u);
  EXPECT_EQ(*lines->records[1].Find("text"), "two");
}

TEST(UserDataTest, TemplatesFillFieldsAndEscapes) {
  UserRecord r{{{"text", "a {b}"}, {"n", "3"}}, 7};
  EXPECT_EQ(*RenderTemplate("{text} / {n} {{x}}", r), "a {b} / 3 {x}");
  auto missing = RenderTemplate("{txt}", r);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("field \"txt\", which the row does not have (it has: text, n)"),
            std::string::npos)
      << missing.status().ToString();
  EXPECT_FALSE(RenderTemplate("{text", r).ok());
  EXPECT_FALSE(RenderTemplate("text}", r).ok());
  EXPECT_EQ(UnescapeCommandLine("a\\nb\\tc\\\\n"), "a\nb\tc\\n");
}

TEST(UserDataTest, ClassifyBuildsOneCandidatePerLabelWord) {
  const std::string dir = testing::MakeTempDir("user-classify");
  const std::string csv = Write(dir, "reviews.csv", "sentence,label\nI loved it,positive\nDull.,negative\nFine,positive\n");
  TaskOptions opts;
  opts.eval_n = 0;  // every row trains
  opts.dev_n = 0;
  opts.user.prompt_template = "Review: {text}\\nSentiment:";
  opts.user.label_words = "negative=bad,positive=good";
  auto t = LoadTask("classify:" + csv, "", opts);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->train_objective, Objective::kCandidateClassification);
  EXPECT_FALSE(t->loss_only);
  ASSERT_EQ(t->train.size(), 3u);
  std::set<std::string> prompts;
  for (const Example& e : t->train) {
    prompts.insert(e.prompt);
    EXPECT_EQ(e.candidates, (std::vector<std::string>{" bad", " good"}));
    EXPECT_EQ(e.label, e.prompt == "Review: Dull.\nSentiment:" ? 0 : 1) << e.prompt;
  }
  EXPECT_TRUE(prompts.count("Review: I loved it\nSentiment:")) << "the sentence alias fills {text}";

  // No label words: the label values, sorted; the default template.
  opts.user.prompt_template.clear();
  opts.user.label_words.clear();
  t = LoadTask("classify:" + csv, "", opts);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->train[0].candidates, (std::vector<std::string>{" negative", " positive"}));
  EXPECT_EQ(t->train[0].prompt.substr(t->train[0].prompt.size() - 8), "\nAnswer:");

  // Plain words are for labels 0, 1, ...: string labels then need pairs.
  opts.user.label_words = "bad,good";
  ExpectError(LoadTask("classify:" + csv, "", opts), "label \"negative\" in the data has no word");
  opts.user.label_words = "negative=bad";
  ExpectError(LoadTask("classify:" + csv, "", opts), "label \"positive\" in the data has no word");
  opts.user.label_words = "negative=bad,good";
  ExpectError(LoadTask("classify:" + csv, "", opts), "mix of LABEL=WORD and plain WORD");
  opts.user.label_words.clear();
  const std::string one = Write(dir, "one.csv", "text,label\na,x\nb,x\n");
  ExpectError(LoadTask("classify:" + one, "", opts), "at least two labels");
  const std::string nolabel = Write(dir, "nolabel.csv", "text,stars\na,1\n");
  ExpectError(LoadTask("classify:" + nolabel, "", opts), "nolabel.csv:2: no \"label\" field (the row has: text, stars)");
  opts.user.prompt_template = "{title}";
  ExpectError(LoadTask("classify:" + csv, "", opts), "reviews.csv:2: the template names field \"title\"");
}

TEST(UserDataTest, InstructPutsTheLossOnTheResponse) {
  const std::string dir = testing::MakeTempDir("user-instruct");
  const std::string jsonl =
      Write(dir, "chat.jsonl",
            "{\"instruction\": \"Add.\", \"input\": \"2+2\", \"output\": \"4\"}\n"
            "{\"prompt\": \"Say hi.\", \"response\": \"hi\"}\n");
  TaskOptions opts;
  opts.eval_n = 0;
  opts.dev_n = 0;
  auto t = LoadTask("instruct:" + jsonl, "", opts);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->train_objective, Objective::kLanguageModel);
  EXPECT_TRUE(t->loss_only);
  ASSERT_EQ(t->train.size(), 2u);
  for (const Example& e : t->train) {
    EXPECT_TRUE(e.append_eos);
    ASSERT_EQ(e.candidates.size(), 1u);
    if (e.candidates[0] == "4") {
      EXPECT_NE(e.prompt.find("### Instruction:\nAdd.\n\n### Input:\n2+2\n\n### Response:"), std::string::npos) << e.prompt;
    } else {
      EXPECT_EQ(e.candidates[0], "hi");
      EXPECT_EQ(e.prompt.find("### Input:"), std::string::npos) << "no input: the no-input prompt";
      EXPECT_NE(e.prompt.find("### Instruction:\nSay hi.\n\n### Response:"), std::string::npos) << e.prompt;
    }
  }
  opts.user.prompt_template = "Q: {instruction}\\nA:";
  t = LoadTask("instruct:" + jsonl, "", opts);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  for (const Example& e : t->train) EXPECT_TRUE(e.prompt == "Q: Add.\nA:" || e.prompt == "Q: Say hi.\nA:") << e.prompt;
  opts.user.prompt_template.clear();
  const std::string bad = Write(dir, "bad.jsonl", "{\"instruction\": \"x\"}\n");
  ExpectError(LoadTask("instruct:" + bad, "", opts), "bad.jsonl:1: no response field");
  opts.user.label_words = "a,b";
  ExpectError(LoadTask("instruct:" + jsonl, "", opts), "--label-words is for classify tasks");
}

TEST(UserDataTest, SplitsSayWhatTheyUsedAndSeparateFilesTrainOnEveryRow) {
  const std::string dir = testing::MakeTempDir("user-splits");
  std::string rows = "text,label\n", eval_rows = "text,label\n", dev_rows = "text,label\n";
  for (int i = 0; i < 40; ++i) rows += "train row " + std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  for (int i = 0; i < 10; ++i) eval_rows += "eval row " + std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  for (int i = 0; i < 6; ++i) dev_rows += "dev row " + std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  const std::string train = Write(dir, "train.csv", rows), eval = Write(dir, "eval.csv", eval_rows),
                    dev = Write(dir, "dev.csv", dev_rows);
  TaskOptions opts;
  opts.user.label_words = "no,yes";

  // One file: half held out, and the note says so.
  auto one = LoadTask("classify:" + train, "", opts);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->eval.size(), 20u);
  EXPECT_EQ(one->train.size() + one->dev.size(), 20u);
  EXPECT_NE(one->data_note.find("40 rows (20 of its rows held out for eval"), std::string::npos) << one->data_note;

  // An eval file: every train row is in the train pool.
  opts.dev_n = 0;
  opts.user.train_file = train;
  opts.user.eval_file = eval;
  auto sep = LoadTask("classify", "", opts);
  ASSERT_TRUE(sep.ok()) << sep.status().ToString();
  EXPECT_EQ(sep->train.size(), 40u);
  EXPECT_EQ(sep->eval.size(), 10u);
  for (const Example& e : sep->eval) EXPECT_EQ(e.prompt.rfind("eval row", 0), 0u) << e.prompt;
  EXPECT_NE(sep->data_note.find("train 40, dev 0, eval 10 of the 10 rows of eval.csv"), std::string::npos)
      << sep->data_note;

  // A dev file replaces the sampled dev; --train-n below the rows says how many stay unused.
  opts.user.dev_file = dev;
  opts.dev_n = 4;
  opts.train_n = 30;
  auto with_dev = LoadTask("classify", "", opts);
  ASSERT_TRUE(with_dev.ok()) << with_dev.status().ToString();
  EXPECT_EQ(with_dev->train.size(), 30u);
  EXPECT_EQ(with_dev->dev.size(), 4u);
  for (const Example& e : with_dev->dev) EXPECT_EQ(e.prompt.rfind("dev row", 0), 0u) << e.prompt;
  EXPECT_NE(with_dev->data_note.find("train 30 (10 rows unused: --train-n 30), dev 4 of the 6 rows of dev.csv"),
            std::string::npos)
      << with_dev->data_note;

  // Contradictions are errors.
  ExpectError(LoadTask("classify:" + train, "", opts), "the file is given twice");
  TaskOptions none;
  ExpectError(LoadTask("classify", "", none), "no data: give classify:FILE or --train-file FILE");
  none.user.train_file = train;
  ExpectError(LoadTask("sst2", "", none), "are for a user's own task");
  TaskOptions tmpl;
  tmpl.user.prompt_template = "{text}";
  ExpectError(LoadTask("sst2", "", tmpl), "--template / --label-words are for a user's own task");
  ExpectError(LoadTask("text:" + train, "", tmpl), "--template is for classify and instruct tasks");
}

}  // namespace
}  // namespace seedtune

namespace seedtune {
namespace {

// A text task reads "text" or "content" (docs/data.md), not the classify aliases.
TEST(UserDataTest, TextTakesItsDocumentedFieldNames) {
  const std::string dir = testing::MakeTempDir("user-text");
  TaskOptions opts;
  opts.eval_n = 0;
  opts.dev_n = 0;
  auto t = LoadTask("text:" + Write(dir, "c.jsonl", "{\"content\": \"a story\"}\n{\"text\": \"another\"}\n"), "", opts);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->train.size(), 2u);
  EXPECT_TRUE(t->loss_only);
  ExpectError(LoadTask("text:" + Write(dir, "s.jsonl", "{\"sentence\": \"x\"}\n"), "", opts),
              "no text field (\"text\" or \"content\"; the row has: sentence)");
}

}  // namespace
}  // namespace seedtune
