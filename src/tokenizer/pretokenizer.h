// Pre-tokenization for byte-level BPE (the subset of Hugging Face tokenizers'
// pre-tokenizers seedtune supports): Split (regex or literal, every split
// behaviour), Digits, ByteLevel (GPT-2 regex, add_prefix_space) and sequences
// of those. Regexes run on PCRE2 in UTF + UCP mode (JIT when available).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace seedtune::tok {

// The GPT-2 pre-tokenization regex (ByteLevel use_regex).
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// The Llama-3 pre-tokenization regex.
inline constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: like Llama-3 with single digits.
inline constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// A compiled PCRE2 pattern. Thread-safe to use concurrently.
class Regex {
 public:
  // literal: match `pattern` as a plain string.
  static StatusOr<std::shared_ptr<const Regex>> Compile(std::string_view pattern, bool literal = false);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the [begin, end) byte ranges of all non-overlapping, non-empty
  // matches in `text`, which must be valid UTF-8.
  void FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* matches) const;
  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel } kind = Kind::kSplit;
  // kSplit
  std::shared_ptr<const Regex> regex;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  // kByteLevel
  bool add_prefix_space = false;
  bool use_regex = true;  // splits with the GPT-2 regex (held in `regex`)
};

class PreTokenizer {
 public:
  void AddStep(PreTokenizerStep step) { steps_.push_back(std::move(step)); }
  // Convenience builders.
  static StatusOr<PreTokenizerStep> SplitStep(std::string_view pattern, bool literal, SplitBehavior behavior,
                                              bool invert);
  static StatusOr<PreTokenizerStep> DigitsStep(bool individual_digits);
  static StatusOr<PreTokenizerStep> ByteLevelStep(bool add_prefix_space, bool use_regex);

  // Splits `text` into pre-tokens (raw bytes; the byte-level mapping is left
  // to the model). Invalid UTF-8 bytes never reach a regex: each becomes its
  // own pre-token.
  std::vector<std::string> Run(std::string_view text) const;
  bool empty() const { return steps_.empty(); }
  size_t num_steps() const { return steps_.size(); }

 private:
  std::vector<PreTokenizerStep> steps_;
};

}  // namespace seedtune::tok
