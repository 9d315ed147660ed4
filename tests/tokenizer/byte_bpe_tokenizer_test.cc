// Byte-level BPE: Hugging Face tokenizer.json (SmolLM2 and pre-tokenizer
// variants of it) and GPT-2 encoder.json + vocab.bpe, checked against the
// Hugging Face `tokenizers` package as an oracle.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "test_texts.h"
#include "tokenizer/byte_bpe.h"

namespace seedtune {
namespace {

using nlohmann::json;
using testing::IdsToString;

std::optional<std::string> SmolJson() { return FindAsset("tokenizers/smollm2/tokenizer.json"); }
std::optional<std::string> Gpt2Dir() { return FindAsset("tokenizers/gpt2"); }

const char* kHfOracle = R"PY(
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
texts = json.loads(sys.stdin.read())
print(json.dumps([tok.encode(t, add_special_tokens=False).ids for t in texts]))
)PY";

const char* kGpt2Oracle = R"PY(
import json, sys
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
tok = Tokenizer(models.BPE.from_file(sys.argv[1], sys.argv[2]))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.add_special_tokens(["<|endoftext|>"])
texts = json.loads(sys.stdin.read())
print(json.dumps([tok.encode(t, add_special_tokens=False).ids for t in texts]))
)PY";

std::vector<std::string> OracleTexts(uint32_t seed) {
  auto texts = testing::VariedTexts();
  for (auto& t : testing::kSpecialTexts()) texts.push_back(t);
  // Control characters (SmolLM2 has no token for bytes 0x04, 0x06, ...: dropped, as by HF).
  texts.push_back("ctrl \x01\x04\x06\x13\x1d\x7f chars");
  texts.push_back("\xf1\x80\x80\x80 plane 4");
  for (auto& t : testing::RandomTexts(seed, 120)) texts.push_back(t);
  for (auto& t : testing::RandomTexts(seed + 1, 60, /*ascii_only=*/true)) texts.push_back(t);
  return texts;
}

void ExpectMatchesOracle(const Tokenizer& tok, const std::vector<std::string>& texts,
                         const std::vector<std::vector<int32_t>>& expected) {
  ASSERT_EQ(expected.size(), texts.size());
  int mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tok.Encode(texts[i], false);
    if (ids != expected[i] && ++mismatches <= 10) {
      ADD_FAILURE() << "text " << testing::Escaped(texts[i]) << "\n  ours:   " << IdsToString(ids)
                    << "\n  oracle: " << IdsToString(expected[i]);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(HfTokenizerJson, SmolLM2KnownIds) {
  auto path = SmolJson();
  if (!path) GTEST_SKIP() << "asset tokenizers/smollm2/tokenizer.json not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 49152);
  // From config.json beside tokenizer.json (the GGUF agrees): BOS <|im_start|>, EOS <|im_end|>.
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_FALSE(tok->add_bos_by_default());
  EXPECT_EQ(tok->Describe(), "byte-level BPE (tokenizer.json), 49152 tokens");
  // Ids from the Hugging Face tokenizers package.
  EXPECT_EQ(tok->Encode("Hello world"), (std::vector<int32_t>{19556, 905}));
  EXPECT_EQ(tok->Encode("Hello world", true), (std::vector<int32_t>{1, 19556, 905}));
  EXPECT_EQ(tok->Encode("<|im_start|>user\nhi<|im_end|>"), (std::vector<int32_t>{1, 4093, 198, 6004, 2}));
  EXPECT_EQ(tok->Encode("12345"), (std::vector<int32_t>{33, 34, 35, 36, 37}));
  // Special tokens are skipped when decoding.
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{1, 4093, 198, 6004, 2}), "user\nhi");
  EXPECT_TRUE(tok->Encode("").empty());
}

TEST(HfTokenizerJson, SmolLM2MatchesOracle) {
  auto path = SmolJson();
  if (!path) GTEST_SKIP() << "asset tokenizers/smollm2/tokenizer.json not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  const auto texts = OracleTexts(21);
  std::string skip;
  auto expected = testing::OracleIds(kHfOracle, texts, {*path}, &skip);
  if (!expected) GTEST_SKIP() << skip;
  ExpectMatchesOracle(*tok, texts, *expected);
}

// Variants of the SmolLM2 tokenizer.json with other pre-tokenizers (Split
// with the Llama-3 regex and each behaviour, literal String patterns, Digits
// grouped, ByteLevel add_prefix_space, ignore_merges) and merges in the
// ["a", "b"] array form, each checked against the oracle.
TEST(HfTokenizerJson, PreTokenizerVariantsMatchOracle) {
  auto path = SmolJson();
  if (!path) GTEST_SKIP() << "asset tokenizers/smollm2/tokenizer.json not found";
  if (const auto why = testing::PythonUnavailableReason(testing::kVenvPython); !why.empty()) GTEST_SKIP() << why;
  auto text = ReadFileToString(*path);
  ASSERT_TRUE(text.ok());
  const json base = json::parse(*text);
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  auto byte_level = [](bool prefix, bool regex) {
    return json{{"type", "ByteLevel"}, {"add_prefix_space", prefix}, {"trim_offsets", true}, {"use_regex", regex}};
  };
  auto split = [](json pattern, const char* behavior, bool invert) {
    return json{{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
  };
  auto seq = [](std::vector<json> steps) { return json{{"type", "Sequence"}, {"pretokenizers", steps}}; };
  struct Variant {
    std::string name;
    json pre;
    bool array_merges = false;
    bool ignore_merges = false;
  };
  std::vector<Variant> variants = {
      {"llama3_isolated", seq({split({{"Regex", llama3}}, "Isolated", false), byte_level(false, false)}), true, true},
      {"llama3_no_ignore", seq({split({{"Regex", llama3}}, "Isolated", false), byte_level(false, false)})},
      {"gpt2_prefix_space", byte_level(true, true)},
      {"digits_grouped", seq({json{{"type", "Digits"}, {"individual_digits", false}}, byte_level(false, true)})},
      {"split_removed_ws", seq({split({{"Regex", "\\s+"}}, "Removed", false), byte_level(false, true)})},
      {"split_merged_prev", seq({split({{"String", " "}}, "MergedWithPrevious", false), byte_level(false, false)})},
      {"split_merged_next", seq({split({{"String", " "}}, "MergedWithNext", false), byte_level(false, false)})},
      {"split_contiguous", seq({split({{"Regex", "\\p{P}"}}, "Contiguous", false), byte_level(false, false)})},
      {"split_inverted", seq({split({{"Regex", "\\p{L}+"}}, "Isolated", true), byte_level(false, false)})},
  };
  const auto texts = OracleTexts(31);
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    json j = base;
    j["pre_tokenizer"] = v.pre;
    j["model"]["ignore_merges"] = v.ignore_merges;
    if (v.array_merges) {
      json arr = json::array();
      for (const auto& m : j["model"]["merges"]) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        arr.push_back(json::array({s.substr(0, sp), s.substr(sp + 1)}));
      }
      j["model"]["merges"] = arr;
    }
    const std::string dir = testing::TestTempDir("hfvariant");
    const std::string vpath = dir + "/tokenizer.json";
    ASSERT_TRUE(WriteStringToFile(vpath, j.dump()).ok());
    auto tok = testing::MustLoad(vpath);
    ASSERT_NE(tok, nullptr);
    std::string skip;
    auto expected = testing::OracleIds(kHfOracle, texts, {vpath}, &skip);
    if (!expected) GTEST_SKIP() << skip;
    ExpectMatchesOracle(*tok, texts, *expected);
  }
}

TEST(Gpt2Tokenizer, KnownIds) {
  auto dir = Gpt2Dir();
  if (!dir) GTEST_SKIP() << "asset tokenizers/gpt2 not found";
  auto tok = testing::MustLoad(*dir + "/encoder.json");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->bos_id(), 50256);
  EXPECT_EQ(tok->eos_id(), 50256);
  EXPECT_FALSE(tok->add_bos_by_default());
  EXPECT_EQ(tok->Encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(tok->Encode("Hello world", true), (std::vector<int32_t>{50256, 15496, 995}));
  EXPECT_EQ(tok->Encode("<|endoftext|>"), (std::vector<int32_t>{50256}));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{15496, 995, 50256}), "Hello world");
  // Loading the directory finds encoder.json + vocab.bpe too.
  auto by_dir = testing::MustLoad(*dir);
  ASSERT_NE(by_dir, nullptr);
  EXPECT_EQ(by_dir->Encode("Hello world"), (std::vector<int32_t>{15496, 995}));
}

TEST(Gpt2Tokenizer, MatchesOracle) {
  auto dir = Gpt2Dir();
  if (!dir) GTEST_SKIP() << "asset tokenizers/gpt2 not found";
  auto tok = testing::MustLoad(*dir + "/encoder.json");
  ASSERT_NE(tok, nullptr);
  const auto texts = OracleTexts(41);
  std::string skip;
  auto expected = testing::OracleIds(kGpt2Oracle, texts, {*dir + "/encoder.json", *dir + "/vocab.bpe"}, &skip);
  if (!expected) GTEST_SKIP() << skip;
  ExpectMatchesOracle(*tok, texts, *expected);
}

// Byte-level BPE is lossless: Decode(Encode(x)) == x for every text without
// special tokens (special tokens are skipped by Decode), and concatenated
// DecodeNext equals Decode.
TEST(ByteLevelBpe, RoundTrip) {
  std::vector<std::string> paths;
  if (auto p = SmolJson()) paths.push_back(*p);
  if (auto d = Gpt2Dir()) paths.push_back(*d + "/encoder.json");
  if (paths.empty()) GTEST_SKIP() << "no byte-level BPE tokenizer assets found";
  auto texts = testing::VariedTexts();
  for (auto& t : testing::RandomTexts(51, 200)) texts.push_back(t);
  // Invalid UTF-8 is still encoded losslessly (bytes never reach the regex),
  // as long as the vocabulary has every byte: GPT-2 does, SmolLM2 lacks the
  // bytes that never occur in UTF-8 (0xC0, 0xC1, 0xF5..0xFF), which are dropped.
  texts.push_back("bad \xc3( utf8 \xe6\x97 end \x80");
  const std::string never_utf8 = "bytes \xff\xfe\xc0 here";
  for (const auto& path : paths) {
    auto tok = testing::MustLoad(path);
    ASSERT_NE(tok, nullptr);
    auto all = texts;
    if (path.find("gpt2") != std::string::npos) {
      all.push_back(never_utf8);
    } else {
      EXPECT_EQ(tok->Decode(tok->Encode(never_utf8, false)), "bytes  here");
    }
    for (const auto& text : all) {
      const auto ids = tok->Encode(text, true);
      EXPECT_EQ(tok->Decode(ids), text) << path << " " << testing::Escaped(text);
      std::string streamed;
      int32_t prev = -1;
      for (int32_t id : ids) {
        streamed += tok->DecodeNext(prev, id);
        prev = id;
      }
      EXPECT_EQ(streamed, text);
    }
  }
}

TEST(ByteLevelBpe, CacheAndThreadsGiveSameIds) {
  auto path = SmolJson();
  if (!path) GTEST_SKIP() << "asset tokenizers/smollm2/tokenizer.json not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  const auto texts = testing::RandomTexts(61, 300);
  std::vector<std::vector<int32_t>> first;
  for (const auto& t : texts) first.push_back(tok->Encode(t, false));
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < texts.size(); ++i) {
        if (tok->Encode(texts[(i + k * 37) % texts.size()], false) != first[(i + k * 37) % texts.size()]) ++bad[k];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

TEST(ByteLevelBpe, EncodesDatasetScaleInputAndALongWord) {
  auto path = SmolJson();
  if (!path) GTEST_SKIP() << "asset tokenizers/smollm2/tokenizer.json not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  std::vector<std::string> sentences;
  for (int i = 0; i < 20000; ++i) {
    sentences.push_back("Sentence number " + std::to_string(i) +
                        ": the quick brown fox jumps over the lazy dog, doesn't it? Yes.");
  }
  sentences.push_back(std::string(20000, 'a'));  // one long word (uncached, heap merge)
  // No clock assertion: a quadratic merge (the long word) would show as this
  // test running into ctest's timeout; the time is printed for the reader.
  const auto t0 = std::chrono::steady_clock::now();
  size_t total = 0;
  std::vector<int32_t> last;
  for (const auto& s : sentences) {
    last = tok->Encode(s, false);
    total += last.size();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("encoded %zu sentences (%zu tokens) in %.3f s\n", sentences.size(), total, secs);
  EXPECT_EQ(tok->Decode(last), sentences.back()) << "the long word round-trips";
  EXPECT_LT(last.size(), sentences.back().size() / 2) << "the long word was merged, not left as bytes";
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = testing::TestTempDir("badjson") + "/" + name;
  EXPECT_TRUE(WriteStringToFile(path, bytes).ok());
  return path;
}

void ExpectErrorNaming(const StatusOr<std::unique_ptr<Tokenizer>>& r, const std::string& path) {
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().ToString();
}

TEST(HfTokenizerJson, MalformedFilesGiveErrorsNamingTheFile) {
  const json minimal = {
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}}};
  {  // The minimal file is fine.
    const std::string p = WriteTemp("tokenizer.json", minimal.dump());
    auto tok = LoadTokenizer(p);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    EXPECT_EQ((*tok)->Encode("ab", false), (std::vector<int32_t>{2}));
    EXPECT_EQ((*tok)->Encode("ba", false), (std::vector<int32_t>{1, 0}));
  }
  std::vector<std::pair<std::string, std::string>> cases;
  cases.emplace_back("invalid_json", "{\"model\": {\"vocab\": {\"a\": 0,");
  cases.emplace_back("not_object", "[1, 2, 3]");
  cases.emplace_back("empty", "");
  json no_merges = minimal;
  no_merges["model"].erase("merges");
  cases.emplace_back("no_merges", no_merges.dump());
  json bad_merge = minimal;
  bad_merge["model"]["merges"] = {"a c"};
  cases.emplace_back("merge_unknown_token", bad_merge.dump());
  json bad_merge_form = minimal;
  bad_merge_form["model"]["merges"] = {"ab"};
  cases.emplace_back("merge_no_space", bad_merge_form.dump());
  json wrong_type = minimal;
  wrong_type["model"]["vocab"]["a"] = "zero";
  cases.emplace_back("vocab_id_not_int", wrong_type.dump());
  json no_vocab = minimal;
  no_vocab["model"].erase("vocab");
  cases.emplace_back("no_vocab", no_vocab.dump());
  json wordpiece = minimal;
  wordpiece["model"]["type"] = "WordPiece";
  cases.emplace_back("wordpiece", wordpiece.dump());
  json bad_regex = minimal;
  bad_regex["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  cases.emplace_back("bad_regex", bad_regex.dump());
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    const std::string p = WriteTemp(name + ".json", bytes);
    ExpectErrorNaming(LoadTokenizer(p), p);
  }
  // Truncations of a real file never crash.
  if (auto path = SmolJson()) {
    auto text = ReadFileToString(*path);
    ASSERT_TRUE(text.ok());
    for (size_t cut : {size_t{10}, text->size() / 3, text->size() - 5}) {
      const std::string p = WriteTemp("truncated.json", text->substr(0, cut));
      ExpectErrorNaming(LoadTokenizer(p), p);
    }
  }
}

TEST(Gpt2Tokenizer, MalformedFilesGiveErrorsNamingTheFile) {
  const std::string dir = testing::TestTempDir("gpt2bad");
  ASSERT_TRUE(WriteStringToFile(dir + "/encoder.json", R"({"a": 0, "b": 1, "ab": 2})").ok());
  // Missing vocab.bpe.
  ExpectErrorNaming(LoadTokenizer(dir + "/encoder.json"), dir + "/encoder.json");
  // Bad merge line.
  ASSERT_TRUE(WriteStringToFile(dir + "/vocab.bpe", "#version: 0.2\na b c\n").ok());
  ExpectErrorNaming(LoadTokenizer(dir + "/encoder.json"), dir + "/vocab.bpe");
  // Merge of unknown tokens.
  ASSERT_TRUE(WriteStringToFile(dir + "/vocab.bpe", "#version: 0.2\na z\n").ok());
  ExpectErrorNaming(LoadTokenizer(dir + "/encoder.json"), dir + "/encoder.json");
  // Valid.
  ASSERT_TRUE(WriteStringToFile(dir + "/vocab.bpe", "#version: 0.2\na b\n").ok());
  auto ok = LoadTokenizer(dir);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->Encode("abba", false), (std::vector<int32_t>{2, 1, 0}));
  // Invalid encoder.json.
  ASSERT_TRUE(WriteStringToFile(dir + "/encoder.json", R"({"a": 0, "b": )").ok());
  ExpectErrorNaming(LoadTokenizer(dir + "/encoder.json"), dir + "/encoder.json");
}

}  // namespace
}  // namespace seedtune
