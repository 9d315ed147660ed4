// The options several commands take come from one table (cli/shared_options):
// every command's --help shows the table's text for each of them, with its
// default, so `--lr` reads the same in train, simulate, server, peer, client
// and demo.
#include "cli/shared_options.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/assets.h"
#include "fed/algorithms/strategies.h"
#include "support/run_cli.h"

namespace seedtune::cli {
namespace {

TEST(SharedOptionsTest, EveryCommandDescribesASharedOptionAsTheTableDoes) {
  int seen = 0;
  for (const char* command : {"train", "simulate", "server", "client", "peer", "demo"}) {
    const auto help = testing::RunCli(std::string(command) + " --help");
    ASSERT_EQ(help.code, 0) << command;
    for (const SharedOption* o : AllSharedOptions()) {
      const size_t at = help.out.find(std::string("  ") + o->flag + " ");
      if (at == std::string::npos) continue;
      ++seen;
      const size_t next = help.out.find("\n  -", at + 3);
      const std::string entry = help.out.substr(at, next == std::string::npos ? std::string::npos : next - at);
      // The text may wrap; compare its first words, and the default shown.
      const std::string words = std::string(o->help).substr(0, 24);
      EXPECT_NE(entry.find(words), std::string::npos) << command << " " << o->flag << ":\n" << entry;
      // Options whose default is "not given" show none.
      static const std::set<std::string> no_default = {"--task",     "--data",     "--metrics",    "--train-file",
                                                       "--dev-file", "--eval-file", "--template", "--label-words"};
      if (!no_default.count(o->flag)) {
        EXPECT_NE(entry.find('='), std::string::npos) << command << " " << o->flag << " shows no default:\n" << entry;
      }
    }
  }
  EXPECT_GE(seen, 60) << "the commands take fewer shared options than they did";
}

// An algorithm's option table is the only place its flags are declared:
// simulate and server show each entry with its default, and refuse a flag of
// another algorithm naming the one it belongs to.
TEST(SharedOptionsTest, AlgorithmOptionTablesAreTheFlagsOfSimulateAndServer) {
  int seen = 0;
  for (const char* command : {"simulate", "server"}) {
    const auto help = testing::RunCli(std::string(command) + " --help");
    ASSERT_EQ(help.code, 0) << command;
    for (const StrategyRegistration& r : RegisteredStrategies())
      for (const AlgorithmOption& opt : r.options) {
        ++seen;
        const size_t at = help.out.find(std::string("  --") + opt.name + " ");
        ASSERT_NE(at, std::string::npos) << command << " has no --" << opt.name;
        const std::string entry = help.out.substr(at, help.out.find("\n  -", at + 3) - at);
        EXPECT_NE(entry.find(fmt::format("={:g}", opt.default_value)), std::string::npos) << entry;
        EXPECT_NE(entry.find(std::string(opt.help).substr(0, 20)), std::string::npos) << entry;
      }
  }
  EXPECT_GE(seen, 6);  // DeComFL's three, in both commands

  auto model = FindAsset("models/stories260K/stories260K.bin");
  if (!model) GTEST_SKIP() << "stories260K not in the asset roots";
  const auto r = testing::RunCli("simulate -m " + *model + " --task sst2 --algo feedsign --perturbations 3", true);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--perturbations is an option of decomfl, not of feedsign"), std::string::npos) << r.out;
  const auto bad = testing::RunCli("simulate -m " + *model + " --task sst2 --algo decomfl --perturbations 0", true);
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("--perturbations"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace seedtune::cli
