// Loaders for the raw files of MeZO's tasks (see ../shared/assets/README.md):
//   GLUE SST-2 tsv, official SuperGLUE jsonl (RTE, CB, BoolQ, WSC, WiC,
//   MultiRC, COPA), LM-BFF "original" SST-5 tsv / TREC csv, Natural
//   Instructions task json, and plain text lines.
//
// Every loader returns one raw record per row (MultiRC: one per (passage,
// question, answer), as MeZO's HF "super_glue/multirc" rows) with the label
// already mapped to MeZO's integer ids (the Hugging Face `datasets` ids MeZO
// loads). A malformed row is an error whose message names the file and the
// 1-based line ("path:12: ..."); nothing is skipped silently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace seedtune {

// GLUE SST-2 (`sentence<TAB>label` with a header). label: 0 negative, 1 positive.
// `sentence` is kept verbatim (GLUE rows end with a space; templates strip).
struct Sst2Record {
  std::string sentence;
  int label = 0;
  int64_t line = 0;
};

// LM-BFF SST-5 (`label<TAB>sentence`, labels 0..4) and TREC (`label,sentence`
// csv, labels 0..5, RFC-4180 quoting), no header.
struct LabeledSentence {
  int label = 0;
  std::string sentence;
  int64_t line = 0;
};

// RTE: label 0 entailment, 1 not_entailment.
// CB:  label 0 entailment, 1 contradiction, 2 neutral.
struct PremiseHypothesisRecord {
  std::string premise;
  std::string hypothesis;
  int label = 0;
  int64_t line = 0;
};

// BoolQ: label 1 = true (answer "Yes"), 0 = false.
struct BoolqRecord {
  std::string passage;
  std::string question;
  int label = 0;
  int64_t line = 0;
};

// WSC (target.span1_text / span2_text): label 1 = true.
struct WscRecord {
  std::string text;
  std::string span1_text;
  std::string span2_text;
  int label = 0;
  int64_t line = 0;
};

// WiC: label 1 = true (same meaning).
struct WicRecord {
  std::string word;
  std::string sentence1;
  std::string sentence2;
  int label = 0;
  int64_t line = 0;
};

// MultiRC, one record per answer. label 1 = the answer is correct.
// `passage` is the 0-based row (passage) index within the file: answers of one
// passage share it, which lets a split keep a passage on one side.
struct MultircRecord {
  std::string paragraph;
  std::string question;
  std::string answer;
  int label = 0;
  int64_t passage = 0;
  int64_t line = 0;
};

// COPA: question "cause" or "effect"; label 0 = choice1 is correct, 1 = choice2.
struct CopaRecord {
  std::string premise;
  std::string choice1;
  std::string choice2;
  std::string question;
  int label = 0;
  int64_t line = 0;
};

// Natural Instructions task file. `definition`: the Definition string (v2.8
// files hold a list: its first element, as FedKSeed's `Definition[0]`).
// Each instance keeps its first output (FedKSeed's `output[0]`).
struct NiInstance {
  std::string input;
  std::string output;
  int64_t index = 0;  // position in "Instances"
};
struct NiTask {
  std::string definition;
  std::vector<NiInstance> instances;
};

// One non-empty line of a plain text file (LM data, e.g. TinyStories).
struct TextLine {
  std::string text;
  int64_t line = 0;
};

StatusOr<std::vector<Sst2Record>> LoadSst2Tsv(const std::string& path);
// num_labels: labels must be integers in [0, num_labels).
StatusOr<std::vector<LabeledSentence>> LoadLmBffTsv(const std::string& path, int num_labels);
StatusOr<std::vector<LabeledSentence>> LoadLmBffCsv(const std::string& path, int num_labels);
StatusOr<std::vector<PremiseHypothesisRecord>> LoadRteJsonl(const std::string& path);
StatusOr<std::vector<PremiseHypothesisRecord>> LoadCbJsonl(const std::string& path);
StatusOr<std::vector<BoolqRecord>> LoadBoolqJsonl(const std::string& path);
StatusOr<std::vector<WscRecord>> LoadWscJsonl(const std::string& path);
StatusOr<std::vector<WicRecord>> LoadWicJsonl(const std::string& path);
StatusOr<std::vector<MultircRecord>> LoadMultircJsonl(const std::string& path);
StatusOr<std::vector<CopaRecord>> LoadCopaJsonl(const std::string& path);
// JSON syntax errors name the line; an invalid instance names its index.
StatusOr<NiTask> LoadNiTask(const std::string& path);
StatusOr<std::vector<TextLine>> LoadTextLines(const std::string& path);

// ---- Raw file helpers (shared with data/user_data.cc) ----

// The whole file; NotFound / IoError name the path.
StatusOr<std::string> ReadFile(const std::string& path);
// Lines without "\n" and a trailing "\r"; a final empty piece after the last
// newline is not a line.
std::vector<std::string_view> SplitLines(std::string_view text);
// RFC 4180 CSV: "..." quoting with "" escapes, quoted newlines; every row's
// fields and the 1-based line it starts on. Errors are "path:line: ...".
struct CsvRow {
  std::vector<std::string> fields;
  int64_t line = 0;
};
Status ParseCsv(const std::string& text, const std::string& path, std::vector<CsvRow>* rows);

}  // namespace seedtune
