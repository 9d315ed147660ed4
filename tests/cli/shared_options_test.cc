// The options several commands take come from one table (cli/shared_options):
// every command's --help shows the table's text for each of them, with its
// default, so `--lr` reads the same in train, simulate, server, peer, client
// and demo.
#include "cli/shared_options.h"

#include <gtest/gtest.h>

#include <string>

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
      if (std::string(o->flag) != "--task" && std::string(o->flag) != "--data" && std::string(o->flag) != "--metrics")
        EXPECT_NE(entry.find('='), std::string::npos) << command << " " << o->flag << " shows no default:\n" << entry;
    }
  }
  EXPECT_GE(seen, 60) << "the commands take fewer shared options than they did";
}

}  // namespace
}  // namespace seedtune::cli
