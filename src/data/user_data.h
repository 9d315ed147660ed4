// A user's own data files (docs/data.md): JSONL / JSON / CSV / TSV rows of
// named fields, turned into Examples by one of three task kinds:
//
//   classify  a prompt template over the row's fields ("{text} It was") and one
//             candidate per label (the label words): trained as classification
//             over the candidates, evaluated by accuracy.
//   instruct  instruction (+ optional input) -> response: the prompt is the
//             Alpaca template (or --template over the row's fields), the target
//             is the response followed by EOS; the loss is on the response only.
//   text      plain language modelling: a "text" field, or every non-empty line
//             of a file of any other extension.
//
// Field names (first match wins; case-sensitive):
//   classify  label: "label";  default template fields: "text" (aliases
//             "sentence", "text1", "sentence1") and optional "text2" ("sentence2")
//   instruct  instruction: "instruction" ("prompt", "question");
//             input: "input" ("context"; optional, may be empty);
//             response: "response" ("output", "answer", "completion")
//   text      "text" ("content")
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "data/task.h"

namespace seedtune {

// One row of a user's file: its fields as text (JSON numbers and booleans are
// written as JSON writes them) and its 1-based line (CSV / TSV: the line the
// row starts on; JSON array: the element's 1-based index).
struct UserRecord {
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t line = 0;
  const std::string* Find(const std::string& name) const;
};

struct UserFile {
  std::string path;
  std::vector<UserRecord> records;
};

// Reads a file by its extension: .jsonl / .ndjson (one object per line), .json
// (an array of objects, or one object per line), .csv (RFC 4180, header row),
// .tsv (header row, tab-separated, no quoting). `allow_lines`: any other
// extension is plain text, one record {"text": line} per non-empty line;
// otherwise it is an error naming the formats.
StatusOr<UserFile> LoadUserFile(const std::string& path, bool allow_lines);

enum class UserTaskKind { kClassify, kInstruct, kText };
// "classify" | "instruct" | "text"; false otherwise.
bool ParseUserTaskKind(const std::string& name, UserTaskKind* kind);


// Examples of `kind` from the files, with options.prompt_template ("{field}"
// is the row's field, "{{" / "}}" literal braces, "\n" / "\t" as typed on a
// command line a newline / tab; empty: classify "{text}\nAnswer:" or
// "{text}\n{text2}\nAnswer:", instruct the Alpaca prompt) and
// options.label_words (each candidate is " " + WORD unless the prompt ends in
// whitespace or the word starts with it). Every file is read with the same
// template; classify's labels are resolved over all files together, so that
// candidate i is the same word in train, dev and eval. Errors name the file
// and line (and the fields the row has).
StatusOr<std::vector<std::vector<Example>>> UserExamples(UserTaskKind kind, const std::vector<UserFile>& files,
                                                         const UserDataOptions& options);

// The objective a user task trains with.
Objective UserTaskObjective(UserTaskKind kind);

// Exposed for tests.
StatusOr<std::string> RenderTemplate(const std::string& tmpl, const UserRecord& record);
std::string UnescapeCommandLine(const std::string& s);

}  // namespace seedtune
