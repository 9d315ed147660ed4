#include "core/mapped_file.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <string>

#include "ledger/ledger.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

// Opening a FIFO for reading waits for a writer: every reader must refuse it
// by its type instead (this test would hang, not fail, without that).
TEST(MappedFileTest, SpecialFilesAreRefusedByTypeWithoutWaiting) {
  const std::string dir = testing::MakeTempDir("special-files");
  const std::string fifo = dir + "/pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  struct Case {
    std::string path, type;
  };
  for (const Case& c : {Case{fifo, "FIFO"}, Case{dir, "directory"}, Case{"/dev/null", "character device"}}) {
    auto read = ReadFileToString(c.path);
    ASSERT_FALSE(read.ok()) << c.path;
    EXPECT_NE(read.status().message().find(c.type), std::string::npos) << read.status().message();
    auto mapped = MappedFile::Open(c.path);
    ASSERT_FALSE(mapped.ok()) << c.path;
    EXPECT_NE(mapped.status().message().find(c.type), std::string::npos) << mapped.status().message();
    // A ledger path that is a directory or a FIFO names that, not "bad magic".
    auto ledger = ReadLedger(c.path);
    ASSERT_FALSE(ledger.ok());
    EXPECT_NE(ledger.status().message().find(c.type), std::string::npos) << ledger.status().message();
  }
  EXPECT_EQ(ReadFileToString(dir + "/absent").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(WriteStringToFile(dir + "/plain", std::string("a\0b", 3)).ok());
  EXPECT_EQ(*ReadFileToString(dir + "/plain"), std::string("a\0b", 3));
}

}  // namespace
}  // namespace seedtune
