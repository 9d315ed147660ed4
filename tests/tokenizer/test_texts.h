// Shared inputs and helpers for the tokenizer tests.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/assets.h"
#include "core/status.h"
#include "support/python_oracle.h"
#include "tokenizer/tokenizer.h"

namespace seedtune::testing {

#ifdef SEEDTUNE_VENV_PYTHON
inline const std::string kVenvPython = SEEDTUNE_VENV_PYTHON;
#else
inline const std::string kVenvPython;
#endif

// A varied set: ASCII, digits, punctuation, whitespace runs, newlines/tabs,
// accented Latin, CJK, emoji, contractions, long words, empty. None contains
// a special token (see kSpecialTexts).
inline std::vector<std::string> VariedTexts() {
  return {
      "Hello world",
      "Once upon a time",
      "12345",
      "3.14159 and 1,000,000 or 2024-06-01",
      "Hello, world! How's it going? (Fine.) [ok] {x} <tag> --- ... ;;",
      "multiple   spaces    here",
      "  leading and trailing  ",
      "line1\nline2\n\nline3\n",
      "tabs\tand\ttabs\t\t end",
      "\r\nwindows\r\nlines",
      "\n\n\n",
      "   ",
      " ",
      "a",
      "",
      "caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xc3\x86r\xc3\xb8sk\xc3\xb8""bing \xc3\x9f",  // café naïve résumé Ærøskøbing ß
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",  // 日本語のテキスト
      "\xe4\xb8\xad\xe6\x96\x87 \xe6\xb5\x8b\xe8\xaf\x95",  // 中文 测试
      "emoji \xf0\x9f\x98\x80\xf0\x9f\x8e\x89 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd!",  // 😀🎉 👍🏽
      "family \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",  // ZWJ sequence
      "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac \xd0\xba\xd0\xb8\xd1\x80\xd0\xb8\xd0\xbb\xd0\xbb\xd0\xb8\xd1\x86\xd0\xb0 "
      "\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9",  // Ελληνικά кириллица العربية
      "don't I'll we're they've she's it'd you'm",
      "DON'T I'LL WE'RE",
      "supercalifragilisticexpialidocious antidisestablishmentarianism",
      "mixed123abc456def 7 89",
      "x = 1; y = x**2 // 3  # comment\n\tif (y > 0) { return y; }",
      "<|im_start", "im_end|>", "<s> </s> <unk>",
      "non\xc2\xa0" "breaking\xe2\x80\x83spaces",  // NBSP, EM SPACE
      "\xef\xac\x81 ligature, \xe2\x85\xa0\xe2\x85\xa1 roman, \xc2\xbd fraction, \xd9\xa3 arabic digit",
      std::string(300, 'z'),
      "The quick brown fox jumps over the lazy dog. " "The quick brown fox jumps over the lazy dog.",
  };
}

// Texts with chat special tokens (SmolLM2 / ChatML).
inline std::vector<std::string> kSpecialTexts() {
  return {
      "<|im_start|>user\nhi<|im_end|>",
      "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
      "<|im_start|><|im_end|><|endoftext|>",
      "text <|endoftext|> more",
  };
}

// Random strings of printable ASCII (with spaces/newlines), and random UTF-8
// drawn from a few assigned Unicode blocks.
inline std::vector<std::string> RandomTexts(uint32_t seed, int count, bool ascii_only = false) {
  std::mt19937 rng(seed);
  struct Range {
    uint32_t lo, hi;
  };
  static const Range kRanges[] = {
      {0x20, 0x7E},     {0x20, 0x7E},     {0x20, 0x7E}, {0x0A, 0x0A},   {0x09, 0x09},   {0xC0, 0xFF},
      {0x391, 0x3C9},   {0x410, 0x44F},   {0x4E00, 0x4FFF}, {0x3041, 0x3093}, {0x1F600, 0x1F64F},
      {0x30, 0x39},     {0x2018, 0x201D}, {0x5D0, 0x5EA},
  };
  std::vector<std::string> out;
  for (int k = 0; k < count; ++k) {
    const int len = std::uniform_int_distribution<int>(0, 40)(rng);
    std::string s;
    for (int i = 0; i < len; ++i) {
      uint32_t cp;
      if (ascii_only) {
        const int r = std::uniform_int_distribution<int>(0, 20)(rng);
        cp = r == 0 ? '\n' : (r < 4 ? ' ' : std::uniform_int_distribution<uint32_t>(0x21, 0x7E)(rng));
      } else {
        const Range& range = kRanges[std::uniform_int_distribution<size_t>(0, std::size(kRanges) - 1)(rng)];
        cp = std::uniform_int_distribution<uint32_t>(range.lo, range.hi)(rng);
      }
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

inline std::string Escaped(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline std::string IdsToString(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

// Loads a tokenizer or fails the test.
inline std::unique_ptr<Tokenizer> MustLoad(const std::string& path) {
  auto tok = LoadTokenizer(path);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  if (!tok.ok()) return nullptr;
  return std::move(tok).value();
}

// Runs a Python oracle that reads {"texts": [...], ...} as JSON on stdin and
// prints a JSON list of id lists. Returns nullopt and sets *skip_reason when
// Python or the `tokenizers` package is unavailable.
inline std::optional<std::vector<std::vector<int32_t>>> OracleIds(const std::string& script,
                                                                   const std::vector<std::string>& texts,
                                                                   const std::vector<std::string>& args,
                                                                   std::string* skip_reason) {
  const std::string why = PythonUnavailableReason(kVenvPython);
  if (!why.empty()) {
    *skip_reason = why;
    return std::nullopt;
  }
  auto probe = RunPython(kVenvPython, "import tokenizers\nprint(tokenizers.__version__)\n");
  if (!probe.ok()) {
    *skip_reason = "the Hugging Face tokenizers package is not importable in " + kVenvPython + " (run scripts/setup-venv.sh)";
    return std::nullopt;
  }
  nlohmann::json input = texts;
  auto out = RunPython(kVenvPython, script, args, input.dump());
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok()) return std::vector<std::vector<int32_t>>();
  std::vector<std::vector<int32_t>> ids;
  try {
    ids = nlohmann::json::parse(*out).get<std::vector<std::vector<int32_t>>>();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "oracle output is not JSON: " << e.what() << "\n" << *out;
  }
  return ids;
}

}  // namespace seedtune::testing
