// LoadTokenizer(): detection by name / content.
#include <filesystem>

#include <gtest/gtest.h>

#include "core/mapped_file.h"
#include "test_texts.h"

namespace seedtune {
namespace {

void ExpectKind(const std::string& path, const std::string& describe_part) {
  auto tok = LoadTokenizer(path);
  ASSERT_TRUE(tok.ok()) << path << ": " << tok.status().ToString();
  EXPECT_NE((*tok)->Describe().find(describe_part), std::string::npos) << path << " -> " << (*tok)->Describe();
}

TEST(LoadTokenizer, DetectsEachFormat) {
  int found = 0;
  if (auto p = FindAsset("tokenizers/smollm2/tokenizer.json")) {
    ExpectKind(*p, "(tokenizer.json)");
    ExpectKind(std::filesystem::path(*p).parent_path().string(), "(tokenizer.json)");
    ++found;
  }
  if (auto p = FindAsset("tokenizers/llama2/tokenizer.model")) {
    ExpectKind(*p, "SentencePiece (tokenizer.model)");
    ExpectKind(std::filesystem::path(*p).parent_path().string(), "SentencePiece (tokenizer.model)");
    ++found;
  }
  if (auto p = FindAsset("tokenizers/gpt2")) {
    ExpectKind(*p, "GPT-2 encoder.json + vocab.bpe");
    ExpectKind(*p + "/encoder.json", "GPT-2 encoder.json + vocab.bpe");
    ++found;
  }
  if (auto p = FindAsset("models/stories260K/tok512.bin")) {
    ExpectKind(*p, "llama2.c tokenizer.bin");
    ++found;
  }
  if (auto p = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")) {
    ExpectKind(*p, "GGUF gpt2");
    ++found;
  }
  if (found == 0) GTEST_SKIP() << "no tokenizer assets found";
}

TEST(LoadTokenizer, GgufDetectedByMagicWithoutExtension) {
  auto p = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!p) GTEST_SKIP() << "asset models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf not found";
  const std::string link = testing::TestTempDir("magic") + "/model.bin";
  std::filesystem::create_symlink(std::filesystem::absolute(*p), link);
  ExpectKind(link, "GGUF gpt2");
}

TEST(LoadTokenizer, MissingPathsAndEmptyDirectories) {
  auto missing = LoadTokenizer("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  const std::string dir = testing::TestTempDir("emptydir");
  auto empty = LoadTokenizer(dir);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find(dir), std::string::npos) << empty.status().ToString();
}

}  // namespace
}  // namespace seedtune
