// A user's own files through the commands users run: a JSONL instruction file
// and a CSV classification file (written here, not from the assets), trained
// with `train` and with `simulate`, their splits stated, their template and
// label words part of the run's identity.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "core/assets.h"
#include "ledger/ledger.h"
#include "support/fixtures.h"
#include "support/run_cli.h"

namespace seedtune {
namespace {

using testing::RunCli;

using testing::Stories;

std::string WriteInstructions(const std::string& dir) {
  const std::string path = dir + "/chat.jsonl";
  std::ofstream f(path);
  const char* words[] = {"cat", "dog", "sun", "tree", "ball", "bird"};
  for (int i = 0; i < 24; ++i) {
    const std::string w = words[i % 6];
    if (i % 3 == 0) f << "{\"instruction\": \"Say the word " << w << ".\", \"response\": \"" << w << "\"}\n";
    else f << "{\"instruction\": \"Repeat the input.\", \"input\": \"" << w << " " << i << "\", \"output\": \"" << w << "\"}\n";
  }
  return path;
}

std::string WriteReviews(const std::string& dir) {
  const std::string path = dir + "/reviews.csv";
  std::ofstream f(path);
  f << "text,label\n";
  for (int i = 0; i < 32; ++i)
    f << (i % 2 ? "\"The park was sunny, and Lily was happy " : "\"The day was dark, and Tim was sad ") << i
      << ".\"," << (i % 2 ? "positive" : "negative") << "\n";
  return path;
}

TEST(UserDataCliTest, TrainAndSimulateOnAUsersJsonlAndCsv) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-user-data");
  const std::string jsonl = WriteInstructions(dir), csv = WriteReviews(dir);
  const std::string words = " --label-words negative=sad,positive=happy --template '{text}\\nThe mood was'";

  // train, instruction file: every row trains (--eval-n 0), the loss only.
  auto r = RunCli("train -m " + m + " --task instruct:" + jsonl + " --train-n 100 --dev-n 0 --eval-n 0 --steps 3 " +
                      "--batch 4 --lr 1e-4 --ledger " + dir + "/instruct.ledger",
                  true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("chat.jsonl: 24 rows; train 24, dev 0, no eval (--eval-n 0)"), std::string::npos) << r.out;
  auto ledger = ReadLedger(dir + "/instruct.ledger");
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  EXPECT_EQ(ledger->records.size(), 3u);

  // train, CSV: half held out for eval, accuracy reported; the template and words are in the header.
  r = RunCli("train -m " + m + " --task classify:" + csv + words + " --train-n 100 --dev-n 4 --steps 3 --batch 4 " +
                 "--lr 1e-4 --ledger " + dir + "/classify.ledger",
             true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("reviews.csv: 32 rows (16 of its rows held out for eval"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train 12, dev 4, eval 16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accuracy"), std::string::npos) << r.out;
  ledger = ReadLedger(dir + "/classify.ledger");
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  EXPECT_NE(ledger->header.hyperparameters.find("\"label_words\":\"negative=sad,positive=happy\""), std::string::npos)
      << ledger->header.hyperparameters;

  // A resume with other label words is another run: refused, naming the field.
  r = RunCli("train -m " + m + " --task classify:" + csv +
                 " --label-words negative=bad,positive=good --template '{text}\\nThe mood was' --train-n 100 --dev-n 4 "
                 "--steps 3 --batch 4 --lr 1e-4 --resume --ledger " + dir + "/classify.ledger",
             true);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("label_words"), std::string::npos) << r.out;

  // simulate, both files, 2 FeedSign clients.
  r = RunCli("simulate --algo feedsign -m " + m + " --task instruct --train-file " + jsonl +
                 " --eval-file " + jsonl + " --train-n 100 --dev-n 0 --eval-n 6 --clients 2 --rounds 2 --batch 2 "
                 "--ledger " + dir + "/sim-instruct.ledger",
             true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("data: chat.jsonl: 24 rows; train 24, dev 0, eval 6 of the 24 rows of chat.jsonl"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("2 clients (iid), 24 train"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("acc "), std::string::npos) << "an instruction task has no accuracy: " << r.out;
  r = RunCli("simulate --algo feedsign -m " + m + " --task classify:" + csv + words +
                 " --train-n 100 --dev-n 0 --eval-n 8 --clients 2 --min-per-client 4 --rounds 2 --batch 2 --ledger " + dir +
                 "/sim-classify.ledger",
             true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 clients (dirichlet:0.5), 16 train"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("acc "), std::string::npos) << r.out;
  ledger = ReadLedger(dir + "/sim-classify.ledger");
  ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
  EXPECT_EQ(ledger->records.size(), 2u);
  EXPECT_NE(ledger->header.hyperparameters.find("\"template\":"), std::string::npos) << ledger->header.hyperparameters;

  // Bad input names the problem.
  r = RunCli("train -m " + m + " --task classify:" + csv + " --label-words bad,good --steps 1", true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("label \"negative\" in the data has no word"), std::string::npos) << r.out;
  r = RunCli("train -m " + m + " --task sst2 --train-file " + csv + " --steps 1", true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("are for a user's own task"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace seedtune
