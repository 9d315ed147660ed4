// Every numeric option is checked for range, NaN and infinity before anything
// runs, and the error names the option (exit 2, CLI11's usage error); the
// checks that need the data (batch <= shard, --resume needs a ledger) fail
// before a ledger is written (exit 1). The cases the hardening probe found,
// and at least one more of each kind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/assets.h"
#include "support/fixtures.h"
#include "support/run_cli.h"

namespace seedtune {
namespace {

using testing::RunCli;

using testing::Stories;

struct RangeCase {
  const char* args;
  const char* error;  // must appear in the output
};

TEST(CliOptionsTest, OutOfRangeNumbersAreRefusedNamingTheOption) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-options");
  const std::string text = dir + "/t.txt";
  std::ofstream(text) << "one two three\nfour five six\n";
  const std::string train = "train -m " + m + " --task text:" + text + " --ledger " + dir + "/run.ledger ";
  const std::string sim = "simulate -m " + m + " --task text:" + text + " ";
  const RangeCase cases[] = {
      // The probe's cases.
      {"--fingerprint-every 0", "--fingerprint-every: 0 is out of range; want a number >= 1"},
      {"--max-length 0", "--max-length: 0 is out of range"},
      {"--weight-decay -5", "--weight-decay: -5 is out of range; want a number >= 0"},
      // More of the kind.
      {"--lr nan", "--lr: nan is not finite"},
      {"--eps 0", "--eps: 0 is out of range; want a number > 0"},
      {"--steps 0", "--steps: 0 is out of range"},
      {"--q 100000", "--q: 100000 is out of range; want a number in [1, 1024]"},
      {"--threads 10000", "--threads: 10000 is out of range"},
      {"--batch abc", "--batch: 'abc' is not a number"},
  };
  for (const RangeCase& c : cases) {
    auto r = RunCli(train + c.args, true);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.error), std::string::npos) << c.args << "\n" << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/run.ledger")) << "a refused option left a ledger behind";

  const RangeCase sim_cases[] = {
      {"--threads 10000", "--threads: 10000 is out of range"},
      {"--byzantine 2", "--byzantine: 2 is out of range; want a number in [0, 1]"},
      {"--samples -1", "--samples: -1 is out of range"},
      {"--rounds 0", "--rounds: 0 is out of range; want a number >= 1"},
      {"--client-fraction 0", "--client-fraction: 0 is out of range; want a number in (0, 1]"},
      {"--K 70000", "--K: 70000 is out of range; want an integer in [1, 65536]"},
      {"--K 2.5", "--K: 2.5 is out of range; want an integer in [1, 65536]"},
      {"--dp-epsilon inf", "--dp-epsilon: inf is not finite"},
      {"--max-scalar -1", "--max-scalar: -1 is out of range"},
  };
  for (const RangeCase& c : sim_cases) {
    auto r = RunCli(sim + c.args, true);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.error), std::string::npos) << c.args << "\n" << r.out;
  }

  const RangeCase other[] = {
      {"ledger export x.ledger -m x -o y --upto -1", "--upto: -1 is out of range"},
      {"client --server 127.0.0.1:1 --client-id 0 --connect-timeout nan", "--connect-timeout: nan is not finite"},
      {"client --server 127.0.0.1:1 --client-id -3", "--client-id: -3 is out of range"},
      {"server --ledger x.ledger --round-timeout inf", "--round-timeout: inf is not finite"},
      {"server --ledger x.ledger --round-timeout 1e300", "--round-timeout: 1e300 is out of range; want seconds in (0, 1e+06]"},
      {"server --ledger x.ledger --heartbeat-timeout inf", "--heartbeat-timeout: inf is not finite"},
      {"server --ledger x.ledger --finish-timeout -1", "--finish-timeout: -1 is out of range"},
      {"peer --id 0 --peer-timeout 0", "--peer-timeout: 0 is out of range"},
      {"generate -m x -p hi --top-p 2", "--top-p: 2 is out of range"},
  };
  for (const RangeCase& c : other) {
    auto r = RunCli(c.args, true);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.error), std::string::npos) << c.args << "\n" << r.out;
  }
}

TEST(CliOptionsTest, ChecksThatNeedTheDataFailBeforeAnyLedgerIsWritten) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-options-data");
  const std::string text = dir + "/t.txt";
  {
    std::ofstream f(text);
    for (int i = 0; i < 40; ++i) f << "line number " << i << " of the test text\n";
  }
  const std::string train = "train -m " + m + " --task text:" + text + " --train-n 16 --dev-n 0 --eval-n 0 --steps 2 ";

  // --resume on a ledger that does not exist is an error, not a fresh run.
  auto r = RunCli(train + "--ledger " + dir + "/missing.ledger --resume", true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--resume: " + dir + "/missing.ledger does not exist"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/missing.ledger"));

  // A batch larger than the training set is refused (it would size every
  // buffer by the batch: 3 GB for --batch 100000).
  r = RunCli(train + "--batch 100000 --ledger " + dir + "/big.ledger", true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--batch 100000 exceeds the 16 training examples"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/big.ledger"));
  EXPECT_EQ(RunCli(train + "--batch 16", true).code, 0) << "the whole set is a valid batch";

  // Federated: the batch must fit every client's shard, and a refused run
  // leaves no ledger (or metrics file) behind to block the next one.
  r = RunCli("simulate -m " + m + " --task text:" + text +
                 " --train-n 16 --dev-n 0 --eval-n 0 --clients 4 --partition iid --rounds 1 --batch 5 --ledger " +
                 dir + "/sim.ledger --metrics " + dir + "/sim.jsonl",
             true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("batch 5 exceeds client 0's 4 training examples"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/sim.ledger"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/sim.jsonl"));
  r = RunCli("simulate --algo onebyte -m " + m + " --task text:" + text +
                 " --train-n 16 --dev-n 0 --eval-n 0 --clients 4 --partition iid --rounds 1 --batch 5",
             true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("batch 5 exceeds machine 0's 4 training examples"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace seedtune
