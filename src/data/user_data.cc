#include "data/user_data.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <span>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/text.h"

namespace seedtune {

namespace {

using nlohmann::json;

std::string LowerExtension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return ext;
}

// A JSON value as a field's text: strings as they are, numbers and booleans
// as JSON writes them, null as empty; arrays and objects are refused.
Status FieldText(const json& value, const std::string& key, std::string* out) {
  if (value.is_string()) {
    *out = value.get<std::string>();
  } else if (value.is_number() || value.is_boolean()) {
    *out = value.dump();
  } else if (value.is_null()) {
    out->clear();
  } else {
    return InvalidArgument("field \"{}\" is a JSON {}, not text, a number or a boolean", key, value.type_name());
  }
  return Status::Ok();
}

Status RecordFromObject(const json& obj, int64_t line, UserRecord* out) {
  if (!obj.is_object()) return InvalidArgument("expected a JSON object, got a JSON {}", obj.type_name());
  out->line = line;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string text;
    RETURN_IF_ERROR(FieldText(it.value(), it.key(), &text));
    out->fields.emplace_back(it.key(), std::move(text));
  }
  return Status::Ok();
}

Status LocatedError(const std::string& path, int64_t line, const Status& s) {
  return InvalidArgument("{}:{}: {}", path, line, s.message());
}

StatusOr<UserFile> LoadJsonLines(const std::string& path, const std::string& text) {
  UserFile file{path, {}};
  const auto lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t line = static_cast<int64_t>(i) + 1;
    if (lines[i].find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines
    json obj;
    try {
      obj = json::parse(lines[i]);
    } catch (const json::exception& e) {
      return InvalidArgument("{}:{}: invalid JSON ({})", path, line, e.what());
    }
    UserRecord r;
    if (Status s = RecordFromObject(obj, line, &r); !s.ok()) return LocatedError(path, line, s);
    file.records.push_back(std::move(r));
  }
  return file;
}

// Header row + rows of the same width (CSV rows from ParseCsv, TSV split on tabs).
StatusOr<UserFile> FromTable(const std::string& path, std::vector<CsvRow> rows) {
  UserFile file{path, {}};
  // A trailing empty row (a file ending in a blank line) is not data.
  while (!rows.empty() && rows.back().fields.size() == 1 && rows.back().fields[0].empty()) rows.pop_back();
  if (rows.empty()) return InvalidArgument("{}: empty file (expected a header row naming the columns)", path);
  const std::vector<std::string>& header = rows[0].fields;
  std::set<std::string> seen;
  for (const auto& name : header) {
    if (name.empty()) return InvalidArgument("{}:1: the header row has an empty column name", path);
    if (!seen.insert(name).second) return InvalidArgument("{}:1: column \"{}\" appears twice in the header", path, name);
  }
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    if (row.fields.size() == 1 && row.fields[0].empty()) continue;  // blank line
    if (row.fields.size() != header.size())
      return InvalidArgument("{}:{}: {} fields, but the header names {} columns", path, row.line, row.fields.size(),
                             header.size());
    UserRecord rec;
    rec.line = row.line;
    for (size_t c = 0; c < header.size(); ++c) rec.fields.emplace_back(header[c], row.fields[c]);
    file.records.push_back(std::move(rec));
  }
  return file;
}

std::vector<CsvRow> SplitTsv(const std::string& text) {
  std::vector<CsvRow> rows;
  int64_t line = 0;
  for (std::string_view l : SplitLines(text)) {
    CsvRow row;
    row.line = ++line;
    size_t start = 0;
    while (true) {
      const size_t tab = l.find('\t', start);
      row.fields.emplace_back(l.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string FieldNames(const UserRecord& r) {
  std::string names;
  for (const auto& [k, v] : r.fields) names += (names.empty() ? "" : ", ") + k;
  return names.empty() ? "none" : names;
}

// The first of `names` the record has.
const std::string* FindAny(const UserRecord& r, std::span<const char* const> names) {
  for (const char* n : names)
    if (const std::string* v = r.Find(n)) return v;
  return nullptr;
}

std::string AliasList(std::span<const char* const> names) {
  std::string out;
  for (const char* n : names) out += fmt::format("{}\"{}\"", out.empty() ? "" : " or ", n);
  return out;
}

// Splits "a,b,c" at commas ("\," keeps a comma in a word).
std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == ',') {
      out.back() += ',';
      ++i;
    } else if (s[i] == ',') {
      out.emplace_back();
    } else {
      out.back() += s[i];
    }
  }
  return out;
}

// label value -> candidate index, and the candidates' words.
struct LabelWords {
  std::vector<std::string> words;
  std::map<std::string, int> index_of;
};

bool IsNonNegativeInteger(const std::string& s) {
  return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

StatusOr<LabelWords> ResolveLabelWords(const std::string& spec, const std::vector<UserFile>& files) {
  std::set<std::string> values;  // every label value in the files
  for (const UserFile& f : files)
    for (const UserRecord& r : f.records) {
      const std::string* label = r.Find("label");
      if (label == nullptr)
        return InvalidArgument("{}:{}: no \"label\" field (the row has: {})", f.path, r.line, FieldNames(r));
      values.insert(*label);
    }
  LabelWords out;
  if (spec.empty()) {
    for (const auto& v : values) {
      out.index_of[v] = static_cast<int>(out.words.size());
      out.words.push_back(v);
    }
  } else {
    const std::vector<std::string> items = SplitCommas(UnescapeCommandLine(spec));
    const bool pairs = items[0].find('=') != std::string::npos;
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string& item = items[i];
      const size_t eq = item.find('=');
      if (pairs != (eq != std::string::npos))
        return InvalidArgument("--label-words '{}': mix of LABEL=WORD and plain WORD items (use one form)", spec);
      const std::string label = pairs ? item.substr(0, eq) : std::to_string(i);
      const std::string word = pairs ? item.substr(eq + 1) : item;
      if (word.empty()) return InvalidArgument("--label-words '{}': item {} has an empty word", spec, i + 1);
      if (!out.index_of.emplace(label, static_cast<int>(out.words.size())).second)
        return InvalidArgument("--label-words '{}': label \"{}\" is given twice", spec, label);
      out.words.push_back(word);
    }
    for (const auto& v : values)
      if (!out.index_of.count(v))
        return InvalidArgument("label \"{}\" in the data has no word in --label-words '{}'{}", v, spec,
                               pairs ? "" : " (plain words are for labels 0, 1, ...; else give LABEL=WORD pairs)");
  }
  if (out.words.size() < 2)
    return InvalidArgument("a classification task needs at least two labels; the data has {} ({})", values.size(),
                           values.empty() ? "no rows" : *values.begin());
  return out;
}

const std::string kAlpacaInput =
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### "
    "Input:\n{input}\n\n### Response:";
const std::string kAlpacaNoInput =
    "Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.\n\n### Instruction:\n{instruction}\n\n### Response:";

// The names a field may have, the canonical one first (data/user_data.h).
using Names = std::span<const char* const>;
constexpr const char* kInstructionFields[] = {"instruction", "prompt", "question"};
constexpr const char* kInputFields[] = {"input", "context"};
constexpr const char* kResponseFields[] = {"response", "output", "answer", "completion"};
constexpr const char* kTextFields[] = {"text", "sentence", "text1", "sentence1"};
constexpr const char* kText2Fields[] = {"text2", "sentence2"};
constexpr const char* kPlainTextFields[] = {"text", "content"};

// The record with the kind's canonical names added (so that templates can say
// {instruction} whatever the file calls it).
UserRecord WithCanonicalFields(const UserRecord& r, UserTaskKind kind) {
  UserRecord out = r;
  auto alias = [&](Names names) {  // names[0] is the canonical name
    if (r.Find(names[0]) != nullptr) return;
    if (const std::string* v = FindAny(r, names)) out.fields.emplace_back(names[0], *v);
  };
  if (kind == UserTaskKind::kInstruct) {
    alias(kInstructionFields);
    alias(kInputFields);
    alias(kResponseFields);
  } else if (kind == UserTaskKind::kText) {
    alias(kPlainTextFields);
  } else {
    alias(kTextFields);
    alias(kText2Fields);
  }
  return out;
}

}  // namespace

const std::string* UserRecord::Find(const std::string& name) const {
  for (const auto& [k, v] : fields)
    if (k == name) return &v;
  return nullptr;
}

StatusOr<UserFile> LoadUserFile(const std::string& path, bool allow_lines) {
  const std::string ext = LowerExtension(path);
  const bool known = ext == ".jsonl" || ext == ".ndjson" || ext == ".json" || ext == ".csv" || ext == ".tsv";
  if (!known && !allow_lines)
    return InvalidArgument("{}: unknown format '{}' (expected .jsonl, .json, .csv or .tsv; docs/data.md)", path,
                           ext.empty() ? "no extension" : ext);
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  if (ext == ".jsonl" || ext == ".ndjson") return LoadJsonLines(path, text);
  if (ext == ".json") {
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '[') return LoadJsonLines(path, text);
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::exception& e) {
      return InvalidArgument("{}: invalid JSON ({})", path, e.what());
    }
    UserFile file{path, {}};
    for (size_t i = 0; i < doc.size(); ++i) {
      UserRecord r;
      if (Status s = RecordFromObject(doc[i], static_cast<int64_t>(i) + 1, &r); !s.ok())
        return InvalidArgument("{}: element {}: {}", path, i + 1, s.message());
      file.records.push_back(std::move(r));
    }
    return file;
  }
  if (ext == ".csv") {
    std::vector<CsvRow> rows;
    RETURN_IF_ERROR(ParseCsv(text, path, &rows));
    return FromTable(path, std::move(rows));
  }
  if (ext == ".tsv") return FromTable(path, SplitTsv(text));
  ASSIGN_OR_RETURN(auto lines, LoadTextLines(path));
  UserFile file{path, {}};
  for (const TextLine& l : lines) file.records.push_back(UserRecord{{{"text", l.text}}, l.line});
  return file;
}

bool ParseUserTaskKind(const std::string& name, UserTaskKind* kind) {
  if (name == "classify") *kind = UserTaskKind::kClassify;
  else if (name == "instruct") *kind = UserTaskKind::kInstruct;
  else if (name == "text") *kind = UserTaskKind::kText;
  else return false;
  return true;
}

Objective UserTaskObjective(UserTaskKind kind) {
  return kind == UserTaskKind::kClassify ? Objective::kCandidateClassification : Objective::kLanguageModel;
}

std::string UnescapeCommandLine(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == 't' || s[i + 1] == '\\')) {
      out += s[i + 1] == 'n' ? '\n' : s[i + 1] == 't' ? '\t' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

StatusOr<std::string> RenderTemplate(const std::string& tmpl, const UserRecord& record) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      out += c;
      ++i;
    } else if (c == '{') {
      const size_t close = tmpl.find('}', i + 1);
      if (close == std::string::npos)
        return InvalidArgument("template '{}': '{{' at offset {} is never closed (write '{{{{' for a brace)", tmpl, i);
      const std::string name = tmpl.substr(i + 1, close - i - 1);
      const std::string* value = record.Find(name);
      if (value == nullptr)
        return InvalidArgument("the template names field \"{}\", which the row does not have (it has: {})", name,
                               FieldNames(record));
      out += *value;
      i = close;
    } else if (c == '}') {
      return InvalidArgument("template '{}': unmatched '}}' at offset {} (write '}}}}' for a brace)", tmpl, i);
    } else {
      out += c;
    }
  }
  return out;
}

StatusOr<std::vector<std::vector<Example>>> UserExamples(UserTaskKind kind, const std::vector<UserFile>& files,
                                                         const UserDataOptions& options) {
  const std::string tmpl = UnescapeCommandLine(options.prompt_template);
  if (kind != UserTaskKind::kClassify && !options.label_words.empty())
    return InvalidArgument("--label-words is for classify tasks; this one is {}",
                           kind == UserTaskKind::kInstruct ? "instruct" : "text");
  if (kind == UserTaskKind::kText && !tmpl.empty())
    return InvalidArgument("--template is for classify and instruct tasks; a text task trains on the text itself");
  LabelWords labels;
  if (kind == UserTaskKind::kClassify) {
    ASSIGN_OR_RETURN(labels, ResolveLabelWords(options.label_words, files));
  }

  std::vector<std::vector<Example>> out;
  for (const UserFile& f : files) {
    std::vector<Example>& examples = out.emplace_back();
    for (const UserRecord& raw : f.records) {
      const UserRecord r = WithCanonicalFields(raw, kind);
      auto fail = [&](const std::string& what) { return InvalidArgument("{}:{}: {}", f.path, r.line, what); };
      Example ex;
      if (kind == UserTaskKind::kText) {
        const std::string* text = r.Find("text");
        if (text == nullptr)
          return fail(fmt::format("no text field ({}; the row has: {})", AliasList(kPlainTextFields),
                                  FieldNames(raw)));
        if (text->empty()) continue;  // as a plain file's empty lines
        ex.candidates = {*text};
      } else if (kind == UserTaskKind::kInstruct) {
        const std::string* instruction = r.Find("instruction");
        const std::string* response = r.Find("response");
        if (tmpl.empty() && instruction == nullptr)
          return fail(fmt::format("no instruction field ({}; the row has: {})", AliasList(kInstructionFields),
                                  FieldNames(raw)));
        if (response == nullptr)
          return fail(fmt::format("no response field ({}; the row has: {})", AliasList(kResponseFields),
                                  FieldNames(raw)));
        const std::string* input = r.Find("input");
        const std::string& prompt_tmpl = !tmpl.empty() ? tmpl : input != nullptr && !input->empty() ? kAlpacaInput
                                                                                                      : kAlpacaNoInput;
        auto prompt = RenderTemplate(prompt_tmpl, r);
        if (!prompt.ok()) return fail(prompt.status().message());
        ex.prompt = *prompt;
        ex.candidates = {*response};
        ex.append_eos = true;
      } else {
        const std::string default_tmpl = r.Find("text2") != nullptr ? "{text}\n{text2}\nAnswer:" : "{text}\nAnswer:";
        auto prompt = RenderTemplate(tmpl.empty() ? default_tmpl : tmpl, r);
        if (!prompt.ok()) return fail(prompt.status().message());
        ex.prompt = *prompt;
        const bool prompt_space = !ex.prompt.empty() && IsPyWhitespace(ex.prompt.back());
        for (const std::string& w : labels.words)
          ex.candidates.push_back(prompt_space || IsPyWhitespace(w.front()) ? w : " " + w);
        ex.label = labels.index_of.at(*r.Find("label"));
      }
      examples.push_back(std::move(ex));
    }
  }
  return out;
}

}  // namespace seedtune
