// CheckSameRun names the first field where a ledger's run and this run
// differ, with both values; ReadLedgerForResume applies it with the
// appendability checks.
#include "ledger/resume.h"

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace seedtune {
namespace {

LedgerHeader ThisRun() {
  LedgerHeader h;
  h.algorithm = "fedkseed";
  h.run_seed = 42;
  h.distribution = "gauss";
  h.base_fingerprint = "0123456789abcdef";
  h.hyperparameters = R"({"data":"00000000000000aa","lr":0.001,"max_length":64,"train_n":60})";
  return h;
}

void ExpectNamed(const LedgerHeader& other, const std::string& words) {
  Status s = CheckSameRun(ThisRun(), other);
  ASSERT_FALSE(s.ok()) << words;
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find(words), std::string::npos) << s.message();
}

TEST(ResumeTest, TheFirstDifferingFieldIsNamedWithBothValues) {
  EXPECT_TRUE(CheckSameRun(ThisRun(), ThisRun()).ok());
  LedgerHeader h = ThisRun();
  h.hyperparameters = R"({"data":"00000000000000aa","lr":0.001,"max_length":64,"train_n":50})";
  ExpectNamed(h, "train_n is 60 there, 50 here");
  // Every option that differs is named; the data digest only when no option
  // explains it.
  h.hyperparameters = R"({"data":"00000000000000cc","lr":0.01,"max_length":64,"train_n":50})";
  ExpectNamed(h, "lr is 0.001 there, 0.01 here; train_n is 60 there, 50 here (");
  h.hyperparameters = R"({"data":"00000000000000bb","lr":0.001,"max_length":64,"train_n":60})";
  ExpectNamed(h, "data is \"00000000000000aa\" there, \"00000000000000bb\" here");
  h.hyperparameters = R"({"data":"00000000000000aa","lr":0.001,"train_n":60})";
  ExpectNamed(h, "max_length is 64 there, absent here");
  h.hyperparameters = R"({"data":"00000000000000aa","lr":0.001,"max_length":64,"train_n":60,"tokens":"1"})";
  ExpectNamed(h, "tokens is absent there");
  h = ThisRun();
  h.run_seed = 7;
  ExpectNamed(h, "the run seed is 42 there, 7 here");
  h = ThisRun();
  h.base_fingerprint = "fedcba9876543210";
  ExpectNamed(h, "the base model's fingerprint is 0123456789abcdef there, fedcba9876543210 here");
  h.base_fingerprint = "";  // a coordinator that learns it from the ledger
  EXPECT_TRUE(CheckSameRun(ThisRun(), h).ok());
  h = ThisRun();
  h.algorithm = "feedsign";
  ExpectNamed(h, "the algorithm is fedkseed there, feedsign here");
  // The same values written differently are the same run.
  h = ThisRun();
  h.hyperparameters = R"({"train_n":60, "max_length":64, "lr":1e-3, "data":"00000000000000aa"})";
  EXPECT_TRUE(CheckSameRun(ThisRun(), h).ok()) << CheckSameRun(ThisRun(), h).ToString();
}

TEST(ResumeTest, ReadLedgerForResumeNamesTheLedger) {
  const std::string path = testing::MakeTempDir("resume-check") + "/run.ledger";
  {
    auto w = LedgerWriter::Create(path, ThisRun(), Durability::kNoFsync);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Close().ok());
  }
  EXPECT_TRUE(ReadLedgerForResume(path, ThisRun()).ok());
  LedgerHeader other = ThisRun();
  other.run_seed = 1;
  auto r = ReadLedgerForResume(path, other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(path + ": the ledger records a different run", 0), 0u) << r.status().message();
}

}  // namespace
}  // namespace seedtune
