// The seedtune binary as users and scripts call it: stable commands, JSON
// output, exit codes and error messages.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "core/assets.h"
#include "core/mapped_file.h"
#include "ledger/ledger.h"
#include "support/child_process.h"
#include "support/fixtures.h"
#include "support/run_cli.h"

namespace seedtune {
namespace {

using Result = testing::CliResult;
using testing::RunCli;

using testing::Stories;

TEST(CliTest, HelpListsCommands) {
  Result r = RunCli("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* cmd : {"info", "generate", "tokenize", "logits", "ppl", "convert", "demo"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  EXPECT_NE(RunCli("no-such-command").code, 0);
}

TEST(CliTest, LogitsJsonOnStories260k) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  Result r = RunCli("logits --model " + m + " --ids 1,403,1009 --json");
  EXPECT_NE(r.code, 0) << "id 1009 is outside the 512-token vocabulary";
  r = RunCli("logits --model " + m + " --ids 1,403,2003 --positions 0,-1 --json");
  ASSERT_NE(r.code, 0);
  r = RunCli("logits --model " + m + " --ids 1,403,385 --positions 0,-1 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["positions"].contains("0"));
  ASSERT_TRUE(j["positions"].contains("-1"));
  const auto& p0 = j["positions"]["0"];
  ASSERT_EQ(p0.size(), 512u);
  EXPECT_NEAR(p0[403].get<double>(), 17.0235, 5e-4);
  EXPECT_NEAR(p0[385].get<double>(), 15.4062, 5e-4);
  ASSERT_TRUE(j["loss"].is_number());
  EXPECT_GT(j["loss"].get<double>(), 0.0);
  // A single token has no next-token target: loss is null.
  r = RunCli("logits --model " + m + " --ids 1 --json");
  ASSERT_EQ(r.code, 0);
  EXPECT_TRUE(nlohmann::json::parse(r.out)["loss"].is_null());
}

TEST(CliTest, TokenizeJsonAndGenerate) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string tok = *FindAsset("models/stories260K/tok512.bin");
  Result r = RunCli("tokenize --tokenizer " + tok + " --text 'Once upon a time' --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto ids = nlohmann::json::parse(r.out)["ids"].get<std::vector<int>>();
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[0], 1);  // BOS by default for llama2.c vocabularies
  EXPECT_EQ(ids[1], 403);  // " Once", the model's favourite first token
  r = RunCli("generate --model " + m + " --prompt 'Once upon a time' -n 60 --quiet");
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, "
            "she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\n");
}

TEST(CliTest, InfoAndPpl) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  Result r = RunCli("info " + m + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  // 260,032 in assets/README.md counts the llama2.c file's floats minus its RoPE tables.
  EXPECT_EQ(j["parameters"], 260032);
  EXPECT_EQ(j["config"]["num_layers"], 5);
  EXPECT_EQ(j["config"]["num_kv_heads"], 4);
  const std::string dir = testing::MakeTempDir("cli-ppl");
  {
    std::ofstream f(dir + "/text.txt");
    f << "Once upon a time, there was a little girl named Lily.\nShe loved to play outside in the park.\n";
  }
  r = RunCli("ppl --model " + m + " --text-file " + dir + "/text.txt --per-line --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto p = nlohmann::json::parse(r.out);
  EXPECT_EQ(p["sequences"], 2);
  EXPECT_GT(p["perplexity"].get<double>(), 1.0);
  EXPECT_LT(p["perplexity"].get<double>(), 10.0) << "stories260K knows these sentences well";
}

TEST(CliTest, ErrorsNameTheProblem) {
  Result r = RunCli("info /nonexistent/model.bin", /*merge_stderr=*/true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent/model.bin"), std::string::npos) << r.out;
  const std::string dir = testing::MakeTempDir("cli-bad");
  {
    std::ofstream f(dir + "/bad.bin", std::ios::binary);
    f << "this is not a checkpoint at all";
  }
  r = RunCli("info " + dir + "/bad.bin", true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.bin"), std::string::npos) << r.out;
  r = RunCli("logits --model random:gpt2 --ids 1,x,3", true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--ids"), std::string::npos) << r.out;
  r = RunCli("info random:no-such-preset", true);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("opt-125m"), std::string::npos) << "lists the known presets: " << r.out;
}

TEST(CliTest, BackendOptionRunsTheModelOnTheNamedBackend) {
  const std::string args = "logits --model random:pythia-70m --ids 5,17,300,4 --json --threads 2 --backend ";
  Result cpu = RunCli(args + "cpu"), scalar = RunCli(args + "scalar");
  ASSERT_EQ(cpu.code, 0) << cpu.out;
  ASSERT_EQ(scalar.code, 0) << scalar.out;
  const auto a = nlohmann::json::parse(cpu.out), b = nlohmann::json::parse(scalar.out);
  const double la = a["loss"].get<double>(), lb = b["loss"].get<double>();
  EXPECT_GT(la, 1.0);  // a random model over a 50k vocabulary: about log(50k)
  EXPECT_NEAR(la, lb, 1e-4);
  const auto& ga = a["positions"]["-1"];
  const auto& gb = b["positions"]["-1"];
  ASSERT_EQ(ga.size(), gb.size());
  double diff = 0.0;
  for (size_t i = 0; i < ga.size(); ++i) diff = std::max(diff, std::fabs(ga[i].get<double>() - gb[i].get<double>()));
  EXPECT_LT(diff, 1e-3);
  Result bad = RunCli(args + "gpu", true);
  EXPECT_NE(bad.code, 0) << bad.out;  // rejected while parsing, naming the choices
  EXPECT_NE(bad.out.find("gpu"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("scalar"), std::string::npos) << bad.out;
}

TEST(CliTest, RngJsonMatchesSpecVectors) {
  Result r = RunCli("rng --seed 42 --offset 1000000 --count 4 --json");
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  const float want[4] = {-0.898041725f, -0.330820739f, -1.47809696f, -0.00958289113f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["values"][i].get<float>(), want[i]);
  // Every SIMD path prints the same values.
  for (const char* simd : {"scalar", "avx2", "avx512"}) {
    Result s = RunCli("rng --seed 42 --offset 1000000 --count 64 --json", false, std::string("SEEDTUNE_SIMD=") + simd);
    Result d = RunCli("rng --seed 42 --offset 1000000 --count 64 --json");
    ASSERT_EQ(s.code, 0);
    EXPECT_EQ(nlohmann::json::parse(s.out)["values"], nlohmann::json::parse(d.out)["values"]) << simd;
  }
  r = RunCli("rng --seed 42 --offset 1000000 --count 4 --dist raw");
  EXPECT_EQ(r.out, "ab09d059\n4281ba31\n0574d3f6\n9bab1a00\n");
}

TEST(CliTest, TrainWritesJsonLinesAndFingerprints) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-train");
  {
    std::ofstream f(dir + "/text.txt");
    for (int i = 0; i < 40; ++i) f << "Once upon a time, there was a little girl number " << i << ".\n";
  }
  Result r = RunCli("train --algo mezo --model " + m + " --task text:" + dir + "/text.txt --train-n 20 --dev-n 8 "
                    "--eval-n 10 --steps 5 --batch 4 --lr 1e-5 --eval-every 2 --metrics " + dir + "/m.jsonl",
                    true);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(dir + "/m.jsonl");
  std::string line;
  int steps = 0, evals = 0;
  std::string last_fp;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "step") {
      ++steps;
      EXPECT_EQ(j["updates"].size(), 1u);
      EXPECT_TRUE(j["updates"][0].contains("seed"));
    }
    if (j["event"] == "eval") {
      ++evals;
      if (j.contains("fingerprint")) last_fp = j["fingerprint"];
    }
  }
  EXPECT_EQ(steps, 5);
  EXPECT_GE(evals, 3);
  EXPECT_EQ(last_fp.size(), 16u);
  // The base model's fingerprint (info) differs from the trained one.
  auto info = nlohmann::json::parse(RunCli("info " + m + " --json").out);
  EXPECT_EQ(info["fingerprint"].get<std::string>().size(), 16u);
  EXPECT_NE(info["fingerprint"], last_fp);
}

TEST(CliTest, SimulateReadsTomlAndCommandLineOverrides) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-sim");
  {
    std::ofstream f(dir + "/text.txt");
    for (int i = 0; i < 60; ++i) f << "One day, a little boy named Tim found ball number " << i << ".\n";
    std::ofstream c(dir + "/sim.toml");
    c << "[simulate]\nalgo = \"feedsign\"\nclients = 3\nrounds = 20\nbatch = 2\nlr = 2e-4\n";
  }
  Result r = RunCli("--config " + dir + "/sim.toml simulate --model " + m + " --task text:" + dir +
                        "/text.txt --train-n 30 --dev-n 4 --eval-n 8 --partition iid --rounds 4 --metrics " + dir +
                        "/m.jsonl",
                    true);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(dir + "/m.jsonl");
  std::string line;
  int rounds = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] != "round") continue;
    ++rounds;
    EXPECT_EQ(j["up_bits"], 1);    // FeedSign from the TOML file
    EXPECT_EQ(j["down_bits"], 1);
    EXPECT_EQ(j["client_grads"].size(), 3u);  // clients = 3 from the TOML file
  }
  EXPECT_EQ(rounds, 4) << "--rounds on the command line overrides the file";
  // --config after the command reads the same file (it said "--model is
  // required"), an algorithm's own options are keys of its section, and a key
  // no option takes is refused (a typo was silently ignored).
  {
    std::ofstream c(dir + "/decomfl.toml");
    c << "[simulate]\nalgo = \"decomfl\"\nclients = 3\nrounds = 2\nbatch = 2\nperturbations = 3\n"
      << "model = \"" << m << "\"\n[train]\nsteps = 7\n";
  }
  const std::string rest = " --task text:" + dir + "/text.txt --train-n 30 --dev-n 0 --eval-n 0 --partition iid";
  r = RunCli("simulate --config " + dir + "/decomfl.toml" + rest + " --ledger " + dir + "/d.ledger", true);
  ASSERT_EQ(r.code, 0) << r.out;
  auto ledger = ReadLedger(dir + "/d.ledger");
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(ledger->header.algorithm, "decomfl");
  EXPECT_NE(ledger->header.hyperparameters.find("\"perturbations\":3"), std::string::npos)
      << ledger->header.hyperparameters;
  {
    std::ofstream c(dir + "/typo.toml");
    c << "[simulate]\nalgo = \"feedsign\"\nrounds = 2\nbatch = 2\nperturbaions = 3\n";
  }
  r = RunCli("simulate --model " + m + " --config=" + dir + "/typo.toml" + rest, true);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("simulate.perturbaions"), std::string::npos) << r.out;
  r = RunCli("simulate --model " + m + " --task text:" + dir + "/text.txt --algo nope", true);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("nope"), std::string::npos) << r.out;
}

TEST(CliTest, LedgerRecordsVerifiesAndExportsTheTrainedModel) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-ledger");
  {
    std::ofstream f(dir + "/text.txt");
    for (int i = 0; i < 40; ++i) f << "The little cat sat on mat number " << i << ".\n";
  }
  Result r = RunCli("train --model " + m + " --task text:" + dir + "/text.txt --train-n 20 --dev-n 4 --eval-n 4 "
                    "--steps 12 --batch 4 --lr 3e-5 --fingerprint-every 5 --ledger " + dir + "/run.ledger --metrics " +
                    dir + "/m.jsonl", true);
  ASSERT_EQ(r.code, 0) << r.out;
  std::string trained_fp;
  {
    std::ifstream in(dir + "/m.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      if (j["event"] == "eval" && j["split"] == "eval" && j.contains("fingerprint")) trained_fp = j["fingerprint"];
    }
  }
  ASSERT_EQ(trained_fp.size(), 16u);
  auto show = nlohmann::json::parse(RunCli("ledger show " + dir + "/run.ledger --json").out);
  EXPECT_EQ(show["records"], 12);
  EXPECT_EQ(show["algorithm"], "mezo");
  EXPECT_EQ(show["last_fingerprint"], trained_fp);
  EXPECT_EQ(RunCli("ledger verify " + dir + "/run.ledger -m " + m).code, 0);
  // Export in the base's own format: the rebuilt model is the trained one.
  ASSERT_EQ(RunCli("ledger export " + dir + "/run.ledger -m " + m + " -o " + dir + "/out.bin --format llama2c").code, 0);
  auto info = nlohmann::json::parse(RunCli("info " + dir + "/out.bin --json").out);
  EXPECT_EQ(info["fingerprint"], trained_fp);
  // Verify against the wrong base fails and says why.
  r = RunCli("ledger verify " + dir + "/run.ledger -m random:gpt2", true);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("does not match"), std::string::npos) << r.out;
  // A torn tail is reported (exit 3) and the valid prefix still verifies.
  { std::ofstream(dir + "/run.ledger", std::ios::app) << "torn"; }
  EXPECT_EQ(RunCli("ledger show " + dir + "/run.ledger").code, 3);
  r = RunCli("ledger verify " + dir + "/run.ledger -m " + m, true);
  EXPECT_NE(r.out.find("ok: 12 records"), std::string::npos) << r.out;
}

// A MeZO run killed with SIGKILL at several points and resumed from its ledger
// ends with the same fingerprint as the uninterrupted run.
// Writes the short text task both resume tests train on.
std::string WriteParkText(const std::string& dir) {
  std::ofstream f(dir + "/text.txt");
  for (int i = 0; i < 80; ++i) f << "Tom and Sue went to the park on day " << i << " to play ball.\n";
  return dir + "/text.txt";
}

// (records, last fingerprint) of a ledger, from `ledger show --json`.
std::pair<int, std::string> LedgerEnd(const std::string& ledger) {
  auto j = nlohmann::json::parse(RunCli("ledger show " + ledger + " --json").out);
  return {j["records"].get<int>(), j["last_fingerprint"].get<std::string>()};
}

// Runs `args LEDGER` to the end once, then again, killed with SIGKILL as soon
// as its ledger holds each of `fractions` of the records (progress read from
// the file, not guessed from the clock), and resumed with --resume: every
// resumed run must end with `records` records and the uninterrupted run's
// fingerprint.
void ExpectResumeAfterSigkill(const std::string& args, const std::string& dir, int records,
                              std::initializer_list<double> fractions) {
  ASSERT_EQ(RunCli(args + dir + "/ref.ledger").code, 0);
  const auto ref = LedgerEnd(dir + "/ref.ledger");
  ASSERT_EQ(ref.first, records);
  for (double fraction : fractions) {
    const int at = std::max(1, static_cast<int>(fraction * records));
    const std::string ledger = dir + "/kill-at-" + std::to_string(at) + ".ledger";
    const pid_t pid = testing::Spawn(std::string(SEEDTUNE_BINARY) + " " + args + ledger + " > /dev/null 2>&1");
    ASSERT_GT(pid, 0);
    bool exited = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      auto seen = ReadLedger(ledger);
      if (seen.ok() && static_cast<int>(seen->records.size()) >= at) break;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!exited) {
      testing::KillProcess(pid, SIGKILL);
      testing::WaitExit(pid, 10);
    }
    ASSERT_FALSE(exited) << "the run ended before its ledger held " << at << " records";
    const int held = LedgerEnd(ledger).first;
    EXPECT_GE(held, at);
    EXPECT_LT(held, records) << "killed at " << at << " records, after the run ended";
    Result r = RunCli(args + ledger + " --resume", true);
    ASSERT_EQ(r.code, 0) << r.out;
    const auto got = LedgerEnd(ledger);
    EXPECT_EQ(got.first, records) << "killed at " << held;
    EXPECT_EQ(got.second, ref.second) << "killed at " << held;
  }
}

TEST(CliTest, ResumeAfterSigkillReachesTheSameFingerprint) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-resume");
  const std::string args = "train --model " + m + " --task text:" + WriteParkText(dir) +
                           " --train-n 60 --dev-n 4 --eval-n 4 --steps 150 --batch 4 --lr 3e-5 "
                           "--no-keep-best --fingerprint-every 7 --ledger ";
  ExpectResumeAfterSigkill(args, dir, 150, {0.1, 0.45, 0.8});
}

// simulate --resume: FedKSeed-Pro (whose seed sampling depends on every
// earlier round's uploads, kept as ledger aux bytes) killed with SIGKILL at
// several points and resumed from its ledger and latest snapshot ends with the
// uninterrupted run's fingerprint.
TEST(CliTest, SimulateResumeAfterSigkillReachesTheSameFingerprint) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-sim-resume");
  const std::string args = "simulate --algo fedkseed-pro --model " + m + " --task text:" + WriteParkText(dir) +
                           " --train-n 60 --dev-n 0 --eval-n 4 --clients 4 --partition iid "
                           "--client-fraction 0.5 --local-steps 10 --K 64 --rounds 150 --lr 3e-5 "
                           "--snapshot-every 25 --ledger ";
  ExpectResumeAfterSigkill(args, dir, 150, {0.1, 0.45, 0.8});
  // Resuming with other options is refused, naming the ledger.
  std::string changed = args;
  changed.replace(changed.find("--lr 3e-5"), 9, "--lr 1e-4");
  Result other = RunCli(changed + dir + "/ref.ledger --resume", true);
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.out.find("different run"), std::string::npos) << other.out;
  // So is one with other data, naming what changed: the split sizes, the
  // length, and the examples themselves (the ledger's "data" digest).
  const std::pair<std::string, std::string> changes[] = {
      {"--train-n 60", "--train-n 50"}, {"--dev-n 0", "--dev-n 2"}, {"--K 64", "--K 32"}};
  const char* named[] = {"train_n is 60 there, 50 here", "dev_n is 0 there, 2 here", "K is 64 there, 32 here"};
  for (size_t i = 0; i < std::size(changes); ++i) {
    changed = args;
    changed.replace(changed.find(changes[i].first), changes[i].first.size(), changes[i].second);
    other = RunCli(changed + dir + "/ref.ledger --resume", true);
    EXPECT_NE(other.code, 0) << changes[i].second;
    EXPECT_NE(other.out.find(named[i]), std::string::npos) << changes[i].second << ": " << other.out;
  }
  other = RunCli(args + dir + "/ref.ledger --resume --max-length 32", true);
  EXPECT_NE(other.out.find("max_length is 512 there, 32 here"), std::string::npos) << "--max-length: " << other.out;
  // Another tokenizer (same vocabulary, other merges) encodes the same
  // examples to other tokens: the ledger's "tokens" digest names it.
  if (auto tok = testing::WriteStories260kTokenizerWithOtherMerges("cli-sim-resume-tok")) {
    other = RunCli(args + dir + "/ref.ledger --resume -t " + *tok, true);
    EXPECT_NE(other.code, 0);
    EXPECT_NE(other.out.find("the ledger records a different run: tokens is"), std::string::npos) << other.out;
  }
  {
    std::ofstream f(dir + "/text.txt", std::ios::app);
    f << "One more line the first run never saw.\n";
  }
  other = RunCli(args + dir + "/ref.ledger --resume", true);
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.out.find("the ledger records a different run: data is"), std::string::npos) << other.out;
}

// info takes -m like every other command (and the bare MODEL it took before).
TEST(CliTest, InfoTakesTheModelWithMLikeEveryCommand) {
  Result dash_m = RunCli("info -m random:opt-125m --json");
  ASSERT_EQ(dash_m.code, 0) << dash_m.out;
  Result bare = RunCli("info random:opt-125m --json");
  ASSERT_EQ(bare.code, 0) << bare.out;
  EXPECT_EQ(nlohmann::json::parse(dash_m.out)["fingerprint"], nlohmann::json::parse(bare.out)["fingerprint"]);
  Result none = RunCli("info", true);
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_NE(none.out.find("a model is required: seedtune info -m MODEL"), std::string::npos) << none.out;
  Result two = RunCli("info random:gpt2 -m random:opt-125m", true);
  EXPECT_EQ(two.code, 2) << two.out;
  EXPECT_NE(two.out.find("two models given"), std::string::npos) << two.out;
}

// A language-modelling task has no candidates to be right about: simulate
// printed "acc 100.00%"; it reports the loss alone.
TEST(CliTest, SimulateReportsOnlyTheLossOfALanguageModellingTask) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-sim-lm");
  Result r = RunCli("simulate --algo feedsign -m " + m + " --task text:" + WriteParkText(dir) +
                        " --train-n 8 --dev-n 0 --eval-n 4 --clients 2 --partition iid --rounds 2 --batch 2",
                    true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("feedsign loss "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("acc "), std::string::npos) << r.out;
  // Without an evaluation set it says so (it printed "loss 0.0000").
  r = RunCli("simulate --algo feedsign -m " + m + " --task text:" + WriteParkText(dir) +
                 " --train-n 8 --dev-n 0 --eval-n 0 --clients 2 --partition iid --rounds 2 --batch 2",
             true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("feedsign no evaluation (--eval-n 0)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("loss 0.0000"), std::string::npos) << r.out;
}

// MeZO is one implementation: `simulate --algo mezo` with its one client takes
// train's steps (same minibatches, directions and update list), so the two
// ledgers hold the same updates, bit for bit.
TEST(CliTest, SimulatedMezoWithOneClientIsTrain) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-mezo-one");
  const std::string run = " -m " + m + " --task sst2 --train-n 64 --dev-n 0 --eval-n 0 --batch 4 --lr 1e-4 --seed 3";
  Result t = RunCli("train" + run + " --data-seed 3 --steps 6 --ledger " + dir + "/train.ledger", true);
  ASSERT_EQ(t.code, 0) << t.out;
  Result s = RunCli("simulate --algo mezo --clients 1" + run + " --rounds 6 --ledger " + dir + "/sim.ledger", true);
  ASSERT_EQ(s.code, 0) << s.out;
  auto a = ReadLedger(dir + "/train.ledger");
  auto b = ReadLedger(dir + "/sim.ledger");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->records.size(), 6u);
  ASSERT_EQ(b->records.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    ASSERT_EQ(a->records[i].updates.size(), 1u);
    ASSERT_EQ(b->records[i].updates.size(), 1u);
    EXPECT_EQ(a->records[i].updates[0].seed, b->records[i].updates[0].seed) << "step " << i + 1;
    EXPECT_EQ(std::memcmp(&a->records[i].updates[0].alpha, &b->records[i].updates[0].alpha, 4), 0) << "step " << i + 1;
    if (a->records[i].fingerprint != 0) {  // train records one every --fingerprint-every steps and at the end
      EXPECT_EQ(a->records[i].fingerprint, b->records[i].fingerprint) << "step " << i + 1;
    }
  }
  EXPECT_NE(a->records.back().fingerprint, 0u);
  EXPECT_EQ(a->records.back().fingerprint, b->records.back().fingerprint);
}

// The default partition follows the task: a Dirichlet split over labels for
// a labelled task, an even split for text (it was Dirichlet over one class,
// silently); an explicit Dirichlet split of unlabelled text is refused.
TEST(CliTest, ThePartitionFollowsWhetherTheTaskHasLabels) {
  const std::string m = Stories();
  if (m.empty()) GTEST_SKIP() << "stories260K not in the asset roots";
  const std::string dir = testing::MakeTempDir("cli-partition");
  const std::string text = " --task text:" + WriteParkText(dir) + " --train-n 16 --dev-n 0 --eval-n 0";
  const std::string run = "simulate --algo feedsign -m " + m + " --clients 2 --rounds 1 --batch 2";
  Result r = RunCli(run + text, true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 clients (iid)"), std::string::npos) << r.out;
  r = RunCli(run + text + " --partition dirichlet:0.5", true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("the Dirichlet split is over labels"), std::string::npos) << r.out;
  if (FindAsset("data/sst2/train.tsv")) {
    r = RunCli(run + " --task sst2 --train-n 40 --dev-n 0 --eval-n 0", true);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("2 clients (dirichlet:0.5)"), std::string::npos) << r.out;
  }
}

TEST(CliTest, RandomShapesAreLabelled) {
  Result r = RunCli("info random:opt-125m --json");
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["name"].get<std::string>().find("random weights"), std::string::npos);
  EXPECT_EQ(j["architecture"], "opt");
  // OPT-125M: 125,239,296 parameters with the tied output projection.
  EXPECT_EQ(j["parameters"], 125239296);
}

}  // namespace
}  // namespace seedtune
