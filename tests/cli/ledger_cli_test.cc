// The seed ledger end to end through the seedtune binary, on stories260K:
// a model exported from a run's ledger is the trained model (same fingerprint,
// same eval accuracy and loss), for MeZO (`train --ledger`) and FedKSeed
// (`simulate --ledger`), and snapshots change where replay starts, never what
// it produces.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "core/assets.h"
#include "support/fixtures.h"
#include "support/run_cli.h"

namespace seedtune {
namespace {

using Result = testing::CliResult;
using testing::RunCli;

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct Assets {
  std::string model, tokenizer;
};
std::optional<Assets> Stories() {
  auto m = FindAsset("models/stories260K/stories260K.bin");
  auto t = FindAsset("models/stories260K/tok512.bin");
  if (!m || !t || !FindAsset("data/sst2")) return std::nullopt;
  return Assets{*m, *t};
}

// The trainer's final evaluation on the eval split (the last such event).
struct FinalEval {
  std::string fingerprint;
  double accuracy = -1, loss = -1;
  int count = 0;
};
FinalEval ReadFinalEval(const std::string& metrics) {
  FinalEval e;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "eval" && j["split"] == "eval" && j.contains("fingerprint")) {
      e.fingerprint = j["fingerprint"];
      e.accuracy = j["accuracy"];
      e.loss = j["loss"];
      e.count = j["count"];
    }
  }
  return e;
}
double ReadZeroShotLoss(const std::string& metrics) {
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "eval" && j["split"] == "eval" && !j.contains("fingerprint")) return j["loss"];
  }
  return -1;
}

std::string InfoFingerprint(const std::string& model) {
  Result r = RunCli("info " + model + " --json");
  EXPECT_EQ(r.code, 0) << r.out;
  return nlohmann::json::parse(r.out)["fingerprint"];
}

// Exports `ledger` as llama2.c (stories260K's own layout: the fingerprint is
// kept), then checks that `info` and `eval` on the export give the trainer's
// fingerprint, accuracy and loss. `eval_args` selects the same eval split.
void ExpectExportIsTheTrainedModel(const Assets& a, const std::string& ledger, const std::string& out,
                                   const FinalEval& trained, const std::string& eval_args) {
  Result r = RunCli("ledger export " + ledger + " -m " + a.model + " -o " + out + " --format llama2c", true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "fingerprint " + trained.fingerprint)) << r.out;
  EXPECT_EQ(InfoFingerprint(out), trained.fingerprint);
  r = RunCli("eval --model " + out + " --tokenizer " + a.tokenizer + " " + eval_args + " --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["fingerprint"], trained.fingerprint);
  EXPECT_EQ(j["count"].get<int>(), trained.count);
  EXPECT_EQ(j["accuracy"].get<double>(), trained.accuracy);
  EXPECT_EQ(j["loss"].get<double>(), trained.loss);
}

const char kTaskArgs[] = "--task sst2 --train-n 48 --dev-n 8 --eval-n 40 --max-length 64";

TEST(LedgerCliTest, MezoLedgerExportsTheTrainedModel) {
  auto a = Stories();
  if (!a) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  const std::string dir = testing::MakeTempDir("ledger-cli-mezo");
  const std::string ledger = dir + "/mezo.ledger", metrics = dir + "/m.jsonl";
  Result r = RunCli("train --model " + a->model + " " + kTaskArgs +
                        " --data-seed 3 --steps 8 --batch 4 --lr 2e-3 --eps 1e-3 --seed 11 --eval-batch 8 "
                        "--fingerprint-every 3 --ledger " + ledger + " --metrics " + metrics,
                    true);
  ASSERT_EQ(r.code, 0) << r.out;
  const FinalEval trained = ReadFinalEval(metrics);
  ASSERT_EQ(trained.fingerprint.size(), 16u);
  EXPECT_EQ(trained.count, 40);
  EXPECT_NE(trained.fingerprint, InfoFingerprint(a->model)) << "training changed the model";
  EXPECT_NE(trained.loss, ReadZeroShotLoss(metrics)) << "and its eval loss";
  auto show = nlohmann::json::parse(RunCli("ledger show " + ledger + " --json").out);
  EXPECT_EQ(show["format_version"], 2);
  EXPECT_EQ(show["records"], 8);
  EXPECT_EQ(show["last_fingerprint"], trained.fingerprint);
  EXPECT_TRUE(show["snapshots"].empty());
  ExpectExportIsTheTrainedModel(*a, ledger, dir + "/mezo.bin", trained,
                                std::string(kTaskArgs) + " --data-seed 3 --batch 8");
}

TEST(LedgerCliTest, FedKSeedLedgerExportsTheTrainedModel) {
  auto a = Stories();
  if (!a) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  const std::string dir = testing::MakeTempDir("ledger-cli-fedkseed");
  const std::string ledger = dir + "/fedkseed.ledger", metrics = dir + "/m.jsonl";
  Result r = RunCli("simulate --algo fedkseed --model " + a->model + " " + kTaskArgs +
                        " --clients 3 --partition iid --rounds 3 --local-steps 5 --K 16 --client-fraction 0.67 "
                        "--lr 2e-3 --eps 1e-3 --seed 5 --eval-batch 8 --ledger " + ledger + " --metrics " + metrics,
                    true);
  ASSERT_EQ(r.code, 0) << r.out;
  const FinalEval trained = ReadFinalEval(metrics);
  ASSERT_EQ(trained.fingerprint.size(), 16u);
  EXPECT_EQ(trained.count, 40);
  EXPECT_NE(trained.fingerprint, InfoFingerprint(a->model));
  auto show = nlohmann::json::parse(RunCli("ledger show " + ledger + " --json").out);
  EXPECT_EQ(show["algorithm"], "fedkseed");
  EXPECT_EQ(show["records"], 3);
  EXPECT_GT(show["updates"].get<int>(), 3) << "FedKSeed rounds carry many (seed, coefficient) pairs";
  EXPECT_EQ(show["last_fingerprint"], trained.fingerprint);
  EXPECT_EQ(RunCli("ledger verify " + ledger + " -m " + a->model).code, 0);
  // simulate samples its task with --seed.
  ExpectExportIsTheTrainedModel(*a, ledger, dir + "/fedkseed.bin", trained,
                                std::string(kTaskArgs) + " --data-seed 5 --batch 8");
}

TEST(LedgerCliTest, TrainSnapshotsChangeWhereReplayStartsNotWhatItGives) {
  auto a = Stories();
  if (!a) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  const std::string dir = testing::MakeTempDir("ledger-cli-snap");
  const std::string ledger = dir + "/run.ledger", metrics = dir + "/m.jsonl";
  const std::string train = "train --model " + a->model + " " + kTaskArgs +
                            " --steps 10 --batch 4 --lr 2e-3 --eps 1e-3 --seed 4 --eval-batch 8 --no-eval-before "
                            "--snapshot-every 4 --ledger " + ledger;
  Result r = RunCli(train + " --metrics " + metrics, true);
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string fp = ReadFinalEval(metrics).fingerprint;
  ASSERT_EQ(fp.size(), 16u);
  const std::string snap4 = ledger + ".snapshots/round-4.safetensors";
  const std::string snap8 = ledger + ".snapshots/round-8.safetensors";
  ASSERT_TRUE(std::filesystem::exists(snap4) && std::filesystem::exists(snap8));
  EXPECT_FALSE(std::filesystem::exists(ledger + ".snapshots/round-10.safetensors"));

  auto show = nlohmann::json::parse(RunCli("ledger show " + ledger + " --json").out);
  ASSERT_EQ(show["snapshots"].size(), 2u);
  EXPECT_EQ(show["snapshots"][0]["round"], 4);
  EXPECT_EQ(show["snapshots"][1]["round"], 8);
  EXPECT_EQ(show["snapshots"][1]["path"], "run.ledger.snapshots/round-8.safetensors");
  EXPECT_EQ(show["snapshots"][1]["exists"], true);
  EXPECT_EQ(show["last_fingerprint"], fp);
  EXPECT_TRUE(Contains(RunCli("ledger show " + ledger).out, "round-8.safetensors"));

  // Export from the latest snapshot (default) and from the base: same model.
  r = RunCli("ledger export " + ledger + " -m " + a->model + " -o " + dir + "/snap.bin --format llama2c");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "from the round-8 snapshot")) << r.out;
  EXPECT_TRUE(Contains(r.out, "2 records replayed")) << r.out;
  r = RunCli("ledger export " + ledger + " -m " + a->model + " -o " + dir +
             "/full.bin --format llama2c --no-snapshots");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "10 records replayed from the base")) << r.out;
  EXPECT_EQ(InfoFingerprint(dir + "/snap.bin"), fp);
  EXPECT_EQ(InfoFingerprint(dir + "/full.bin"), fp);
  r = RunCli("ledger export " + ledger + " -m " + a->model + " -o " + dir + "/upto6.bin --format llama2c --upto 6");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "from the round-4 snapshot") && Contains(r.out, "last round 6")) << r.out;

  // verify: every recorded fingerprint and both snapshots; --from-snapshot starts at step 8.
  r = RunCli("ledger verify " + ledger + " -m " + a->model);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "10 records replayed from the base") && Contains(r.out, "2 of 2 snapshots checked"))
      << r.out;
  r = RunCli("ledger verify " + ledger + " -m " + a->model + " --from-snapshot");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "from the round-8 snapshot")) << r.out;

  // Resume after a torn last record restarts from the step-8 snapshot and ends
  // at the same model.
  const std::string bytes = [&] {
    std::ifstream in(ledger, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  { std::ofstream(ledger, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 3); }
  r = RunCli(train + " --resume --metrics " + dir + "/resume.jsonl", true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "after the step-8 snapshot")) << r.out;
  EXPECT_EQ(ReadFinalEval(dir + "/resume.jsonl").fingerprint, fp);
  show = nlohmann::json::parse(RunCli("ledger show " + ledger + " --json").out);
  EXPECT_EQ(show["records"], 10);
  EXPECT_EQ(show["last_fingerprint"], fp);
  EXPECT_EQ(show["tail_problem"], "");

  // Without the step-8 file: export falls back to step 4 and says why; verify reports it (exit 3).
  std::filesystem::remove(snap8);
  show = nlohmann::json::parse(RunCli("ledger show " + ledger + " --json").out);
  EXPECT_EQ(show["snapshots"][1]["exists"], false);
  r = RunCli("ledger export " + ledger + " -m " + a->model + " -o " + dir + "/fallback.bin --format llama2c", true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "from the round-4 snapshot")) << r.out;
  EXPECT_TRUE(Contains(r.out, "snapshot problems") && Contains(r.out, "round-8.safetensors")) << r.out;
  EXPECT_EQ(InfoFingerprint(dir + "/fallback.bin"), fp);
  r = RunCli("ledger verify " + ledger + " -m " + a->model, true);
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_TRUE(Contains(r.out, "round-8.safetensors")) << r.out;
  // A corrupted step-4 file too: export replays from the base.
  {
    std::fstream f(snap4, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-7, std::ios::end);
    const char c = static_cast<char>(f.get() ^ 0x21);
    f.seekp(-7, std::ios::end);
    f.put(c);
  }
  r = RunCli("ledger export " + ledger + " -m " + a->model + " -o " + dir + "/base.bin --format llama2c", true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Contains(r.out, "from the base") && Contains(r.out, "round-4.safetensors")) << r.out;
  EXPECT_EQ(InfoFingerprint(dir + "/base.bin"), fp);
  // --snapshot-every needs a ledger.
  r = RunCli("train --model " + a->model + " " + kTaskArgs + " --steps 1 --snapshot-every 1", true);
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(Contains(r.out, "--snapshot-every")) << r.out;
}

// A careless -o never destroys the run: export refuses its own base model,
// the ledger, and a directory holding either, even with --force; any other
// existing output needs --force.
TEST(LedgerCliTest, ExportNeverOverwritesTheRunsInputsAndAsksBeforeReplacingAFile) {
  auto assets = Stories();
  if (!assets) GTEST_SKIP() << "stories260K / SST-2 not in the asset roots";
  const std::string dir = testing::MakeTempDir("ledger-export-force");
  const std::string base = dir + "/base.bin";
  std::filesystem::copy_file(assets->model, base);
  const std::string ledger = dir + "/run.ledger";
  ASSERT_EQ(RunCli("train -m " + base + " -t " + assets->tokenizer + " --task sst2 --train-n 8 --dev-n 0 --eval-n 0 "
                   "--steps 2 --batch 2 --ledger " + ledger, true).code, 0);
  auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string base_bytes = bytes(base), ledger_bytes = bytes(ledger);
  const std::string exp = "ledger export " + ledger + " -m " + base + " ";
  struct Case {
    std::string args, error;
  };
  const Case refused[] = {
      {"-o " + base + " --format llama2c", "the output is " + base + " itself"},
      {"-o " + base + " --format llama2c --force", "the output is " + base + " itself"},
      {"-o " + ledger + " --format llama2c --force", "the output is " + ledger + " itself"},
      {"-o " + dir + " --force", "the output directory holds"},
  };
  for (const Case& c : refused) {
    Result r = RunCli(exp + c.args, true);
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.out;
    EXPECT_TRUE(Contains(r.out, c.error)) << c.args << "\n" << r.out;
  }
  EXPECT_EQ(bytes(base), base_bytes) << "the base model changed";
  EXPECT_EQ(bytes(ledger), ledger_bytes) << "the ledger changed";

  const std::string other = dir + "/other.bin";
  std::ofstream(other) << "keep me";
  Result r = RunCli(exp + "-o " + other + " --format llama2c", true);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(Contains(r.out, other + " exists; pass --force to replace it")) << r.out;
  EXPECT_EQ(bytes(other), "keep me");
  EXPECT_EQ(RunCli(exp + "-o " + other + " --format llama2c --force", true).code, 0);
  EXPECT_GT(bytes(other).size(), 1000u) << "--force replaced it with the model";
  r = RunCli("convert -m " + base + " -o " + base + " --format llama2c --force", true);
  EXPECT_TRUE(Contains(r.out, "the output is " + base + " itself")) << r.out;
  EXPECT_EQ(bytes(base), base_bytes);
}

// `ledger show` says what a snapshot path is when it is not a regular file
// (it used to call a FIFO, a directory or a link "missing"), without
// opening it (a FIFO would block), and verify refuses them by type.
TEST(LedgerCliTest, ShowNamesWhatASnapshotPathIsWhenItIsNotAFile) {
  auto assets = Stories();
  if (!assets) GTEST_SKIP() << "stories260K / SST-2 not in the asset roots";
  const std::string dir = testing::MakeTempDir("ledger-show-types");
  const std::string ledger = dir + "/run.ledger";
  ASSERT_EQ(RunCli("train -m " + assets->model + " -t " + assets->tokenizer + " --task sst2 --train-n 8 --dev-n 0 "
                   "--eval-n 0 --steps 4 --batch 2 --snapshot-every 1 --ledger " + ledger, true).code, 0);
  const std::string snaps = ledger + ".snapshots/";
  std::filesystem::remove(snaps + "round-1.safetensors");
  ASSERT_EQ(mkfifo((snaps + "round-1.safetensors").c_str(), 0600), 0);
  std::filesystem::remove(snaps + "round-2.safetensors");
  std::filesystem::create_directory(snaps + "round-2.safetensors");
  std::filesystem::remove(snaps + "round-3.safetensors");
  std::filesystem::create_symlink("nowhere", snaps + "round-3.safetensors");
  std::filesystem::remove(snaps + "round-4.safetensors");
  Result r = RunCli("ledger show " + ledger, true);
  EXPECT_TRUE(Contains(r.out, "round-1.safetensors  (a FIFO, not a file)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "round-2.safetensors  (a directory, not a file)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "round-3.safetensors  (dangling link)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "round-4.safetensors  (missing)")) << r.out;
  r = RunCli("ledger verify " + ledger + " -m " + assets->model, true);
  EXPECT_EQ(r.code, 3) << "snapshot problems are reported, not hung on: " << r.out;
}

}  // namespace
}  // namespace seedtune
