#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <algorithm>

#include "tokenizer/text_util.h"

namespace seedtune::tok {

StatusOr<std::shared_ptr<const Regex>> Regex::Compile(std::string_view pattern, bool literal) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (literal) options = PCRE2_UTF | PCRE2_LITERAL;  // UCP is not allowed with LITERAL
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                   &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(error_code, buffer, sizeof(buffer));
    return InvalidArgument("invalid regex '{}' at offset {}: {}", pattern, error_offset,
                           reinterpret_cast<const char*>(buffer));
  }
  std::shared_ptr<Regex> regex(new Regex());
  regex->pattern_ = std::string(pattern);
  regex->code_ = code;
  regex->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::shared_ptr<const Regex>(std::move(regex));
}

Regex::~Regex() {
  if (code_ != nullptr) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

namespace {

struct MatchData {
  pcre2_match_data* data = nullptr;
  ~MatchData() {
    if (data != nullptr) pcre2_match_data_free(data);
  }
};

}  // namespace

void Regex::FindAll(std::string_view text, std::vector<std::pair<size_t, size_t>>* matches) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchData md;
  md.data = pcre2_match_data_create_from_pattern(code, nullptr);
  if (md.data == nullptr) return;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md.data, nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && jit_) {
      // e.g. JIT stack exhausted on a pathological input: retry interpreted.
      rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md.data, nullptr);
    }
    if (rc < 0) break;  // no (more) matches, or a resource error: the rest is a gap
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
    const size_t begin = ov[0];
    const size_t end = ov[1];
    if (end > begin) {
      matches->emplace_back(begin, end);
      pos = end;
    } else {
      // Empty match: step over one character.
      const size_t len = ValidUtf8Length(text, begin);
      pos = begin + (len == 0 ? 1 : len);
    }
  }
}

namespace {

struct Segment {
  size_t begin;
  size_t end;
  bool is_match;
};

// Applies one split step to a valid-UTF-8 piece; appends the resulting pieces.
void SplitPiece(const PreTokenizerStep& step, std::string_view piece, std::vector<std::string>* out) {
  std::vector<std::pair<size_t, size_t>> found;
  step.regex->FindAll(piece, &found);
  std::vector<Segment> segs;
  size_t pos = 0;
  for (const auto& [b, e] : found) {
    if (b > pos) segs.push_back(Segment{pos, b, false});
    segs.push_back(Segment{b, e, true});
    pos = e;
  }
  if (pos < piece.size()) segs.push_back(Segment{pos, piece.size(), false});
  if (step.invert) {
    for (auto& s : segs) s.is_match = !s.is_match;
  }

  std::vector<Segment> result;
  switch (step.behavior) {
    case SplitBehavior::kIsolated:
      result = std::move(segs);
      break;
    case SplitBehavior::kRemoved:
      for (const auto& s : segs) {
        if (!s.is_match) result.push_back(s);
      }
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& s : segs) {
        if (s.is_match && !previous_match && !result.empty()) {
          result.back().end = s.end;
        } else {
          result.push_back(Segment{s.begin, s.end, false});
        }
        previous_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
        if (it->is_match && !previous_match && !result.empty()) {
          result.back().begin = it->begin;
        } else {
          result.push_back(Segment{it->begin, it->end, false});
        }
        previous_match = it->is_match;
      }
      std::reverse(result.begin(), result.end());
      break;
    }
    case SplitBehavior::kContiguous:
      for (const auto& s : segs) {
        if (!result.empty() && result.back().is_match == s.is_match) {
          result.back().end = s.end;
        } else {
          result.push_back(s);
        }
      }
      break;
  }
  for (const auto& s : result) {
    if (s.end > s.begin) out->emplace_back(piece.substr(s.begin, s.end - s.begin));
  }
}

// Runs `fn` on the maximal valid-UTF-8 runs of `piece`; invalid bytes are
// passed through as single-byte pieces.
template <typename Fn>
void ForValidRuns(std::string_view piece, std::vector<std::string>* out, const Fn& fn) {
  size_t run_start = 0;
  size_t i = 0;
  while (i < piece.size()) {
    const size_t len = ValidUtf8Length(piece, i);
    if (len > 0) {
      i += len;
      continue;
    }
    if (i > run_start) fn(piece.substr(run_start, i - run_start), out);
    out->emplace_back(piece.substr(i, 1));
    ++i;
    run_start = i;
  }
  if (i > run_start) fn(piece.substr(run_start, i - run_start), out);
}

}  // namespace

StatusOr<PreTokenizerStep> PreTokenizer::SplitStep(std::string_view pattern, bool literal, SplitBehavior behavior,
                                                   bool invert) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kSplit;
  ASSIGN_OR_RETURN(step.regex, Regex::Compile(pattern, literal));
  step.behavior = behavior;
  step.invert = invert;
  return step;
}

StatusOr<PreTokenizerStep> PreTokenizer::DigitsStep(bool individual_digits) {
  return SplitStep(individual_digits ? R"(\p{N})" : R"(\p{N}+)", false, SplitBehavior::kIsolated, false);
}

StatusOr<PreTokenizerStep> PreTokenizer::ByteLevelStep(bool add_prefix_space, bool use_regex) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kByteLevel;
  step.add_prefix_space = add_prefix_space;
  step.use_regex = use_regex;
  if (use_regex) {
    ASSIGN_OR_RETURN(step.regex, Regex::Compile(kGpt2Pattern));
  }
  return step;
}

std::vector<std::string> PreTokenizer::Run(std::string_view text) const {
  std::vector<std::string> pieces;
  if (text.empty()) return pieces;
  pieces.emplace_back(text);
  std::vector<std::string> next;
  for (const auto& step : steps_) {
    next.clear();
    for (auto& piece : pieces) {
      if (step.kind == PreTokenizerStep::Kind::kByteLevel) {
        if (step.add_prefix_space && piece[0] != ' ') piece.insert(piece.begin(), ' ');
        if (!step.use_regex) {
          next.push_back(std::move(piece));
          continue;
        }
      }
      ForValidRuns(piece, &next,
                   [&](std::string_view run, std::vector<std::string>* out) { SplitPiece(step, run, out); });
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace seedtune::tok
