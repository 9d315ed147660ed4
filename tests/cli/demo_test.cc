// `seedtune demo` (what `make demo` runs): a server and client processes on
// loopback, small settings. It must exit 0, say MATCH, and the fingerprints it
// prints (every client's, the server's agreed one, the in-process ledger
// replay's) must all be the same 16 hex digits: the test reads them from the
// output itself, so a demo that printed MATCH over differing fingerprints
// still fails here.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "core/assets.h"
#include "support/run_cli.h"

namespace seedtune {
namespace {

using Result = testing::CliResult;
Result RunCli(const std::string& args) { return testing::RunCli(args, /*merge_stderr=*/true); }

bool HaveAssets() {
  return FindAsset("models/stories260K/stories260K.bin") && FindAsset("data/sst2/train.tsv") &&
         FindAsset("data/sst2/dev.tsv");
}

TEST(DemoTest, NetworkedRunEndsWithMatchingFingerprints) {
  if (!HaveAssets()) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  const int clients = 3;
  Result r = RunCli("demo --rounds 2 --clients 3 --K 64 --local-steps 4 --train-n 60 --eval-n 48 --threads 1 "
                    "--no-generate --timeout 120");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("MATCH: every client"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("MISMATCH"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accuracy on 48 SST-2 dev examples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("round 2/2 published"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes per client per round"), std::string::npos) << r.out;

  const std::regex client_re(R"(^\s+client (\d+)\s+([0-9a-f]{16}|\(none\)))");
  const std::regex server_re(R"(^\s+server agreed\s+([0-9a-f]{16}|\(none\)))");
  const std::regex replay_re(R"(^\s+ledger replay\s+([0-9a-f]{16}|\(none\)))");
  std::set<int> seen;
  std::set<std::string> fingerprints;
  int server = 0, replay = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, client_re)) {
      seen.insert(std::stoi(m[1]));
      fingerprints.insert(m[2]);
    } else if (std::regex_search(line, m, server_re)) {
      ++server;
      fingerprints.insert(m[1]);
    } else if (std::regex_search(line, m, replay_re)) {
      ++replay;
      fingerprints.insert(m[1]);
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(clients)) << r.out;
  EXPECT_EQ(server, 1) << r.out;
  EXPECT_EQ(replay, 1) << r.out;
  ASSERT_EQ(fingerprints.size(), 1u) << "the printed fingerprints differ:\n" << r.out;
  EXPECT_NE(*fingerprints.begin(), "(none)") << r.out;
}

TEST(DemoTest, FailsWithoutItsModel) {
  Result r = RunCli("demo --model /nonexistent/model.bin --no-generate --timeout 30");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("MATCH"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace seedtune
