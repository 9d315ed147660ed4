#include "data/dataset.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

namespace seedtune {

using nlohmann::json;

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return IoError("error reading {}", path);
  return ss.str();
}

// Splits into lines (without "\n" and a trailing "\r"); a final empty piece
// after the last newline is not a line.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

namespace {

Status RowError(const std::string& path, int64_t line, const std::string& what) {
  return InvalidArgument("{}:{}: {}", path, line, what);
}

bool ParseInt(std::string_view s, int* out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// ---- JSON field access (errors are plain messages; callers add path:line) ----

Status GetString(const json& obj, const char* key, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return InvalidArgument("missing field \"{}\"", key);
  if (!it->is_string()) return InvalidArgument("field \"{}\" is not a string", key);
  *out = it->get<std::string>();
  return Status::Ok();
}

// A boolean label (true/false); 0/1 integers are accepted too.
Status GetBoolLabel(const json& obj, const char* key, int* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return InvalidArgument("missing field \"{}\"", key);
  if (it->is_boolean()) {
    *out = it->get<bool>() ? 1 : 0;
    return Status::Ok();
  }
  if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();
    if (v == 0 || v == 1) {
      *out = static_cast<int>(v);
      return Status::Ok();
    }
  }
  return InvalidArgument("field \"{}\" is {}, expected true or false", key, it->dump());
}

Status GetIntLabel(const json& obj, const char* key, int num_labels, int* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return InvalidArgument("missing field \"{}\"", key);
  if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();
    if (v >= 0 && v < num_labels) {
      *out = static_cast<int>(v);
      return Status::Ok();
    }
  }
  return InvalidArgument("field \"{}\" is {}, expected an integer in [0, {})", key, it->dump(), num_labels);
}

Status GetNamedLabel(const json& obj, const char* key, const std::vector<std::string>& names, int* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return InvalidArgument("missing field \"{}\"", key);
  if (it->is_string()) {
    const std::string s = it->get<std::string>();
    for (size_t i = 0; i < names.size(); ++i) {
      if (s == names[i]) {
        *out = static_cast<int>(i);
        return Status::Ok();
      }
    }
  }
  std::string expected;
  for (const auto& n : names) expected += (expected.empty() ? "\"" : ", \"") + n + "\"";
  return InvalidArgument("field \"{}\" is {}, expected one of {}", key, it->dump(), expected);
}

// Parses every line of a jsonl file into an object and hands it to `row`
// (which returns a Status without location); errors get "path:line: ".
template <typename Fn>
Status ForEachJsonl(const std::string& path, Fn&& row) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const auto lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t line_no = static_cast<int64_t>(i) + 1;
    json obj;
    try {
      obj = json::parse(lines[i]);
    } catch (const json::exception& e) {
      return RowError(path, line_no, fmt::format("invalid JSON ({})", e.what()));
    }
    if (!obj.is_object()) return RowError(path, line_no, "expected a JSON object");
    Status s;
    try {
      s = row(obj, line_no);
    } catch (const json::exception& e) {
      s = InvalidArgument("unexpected JSON content ({})", e.what());
    }
    if (!s.ok()) return RowError(path, line_no, s.message());
  }
  return Status::Ok();
}

}  // namespace

// ---- CSV (RFC 4180: "..." quoting with "" escapes, quoted newlines) ----

Status ParseCsv(const std::string& text, const std::string& path, std::vector<CsvRow>* rows) {
  size_t i = 0;
  int64_t line = 1;
  const size_t n = text.size();
  while (i < n) {
    CsvRow row;
    row.line = line;
    bool row_done = false;
    while (!row_done) {
      std::string field;
      if (i < n && text[i] == '"') {
        const int64_t field_line = line;
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        if (!closed) return RowError(path, field_line, "unterminated quoted field");
        if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          return RowError(path, line, fmt::format("unexpected character '{}' after a closing quote", text[i]));
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n') field += text[i++];
        if (!field.empty() && field.back() == '\r' && (i >= n || text[i] == '\n')) field.pop_back();
      }
      row.fields.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') {
        ++i;
        ++line;
      }
      row_done = true;
    }
    rows->push_back(std::move(row));
  }
  return Status::Ok();
}

StatusOr<std::vector<Sst2Record>> LoadSst2Tsv(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const auto lines = SplitLines(text);
  if (lines.empty()) return RowError(path, 1, "empty file, expected the header \"sentence<TAB>label\"");
  if (lines[0] != "sentence\tlabel")
    return RowError(path, 1, fmt::format("expected the header \"sentence<TAB>label\", found \"{}\"", lines[0]));
  std::vector<Sst2Record> out;
  out.reserve(lines.size() - 1);
  for (size_t i = 1; i < lines.size(); ++i) {
    const int64_t line_no = static_cast<int64_t>(i) + 1;
    const std::string_view l = lines[i];
    const size_t tab = l.find('\t');
    if (tab == std::string_view::npos) return RowError(path, line_no, "expected 2 tab-separated columns, found 1");
    if (l.find('\t', tab + 1) != std::string_view::npos)
      return RowError(path, line_no, "expected 2 tab-separated columns, found more");
    Sst2Record r;
    r.sentence = std::string(l.substr(0, tab));
    const std::string_view label = l.substr(tab + 1);
    if (!ParseInt(label, &r.label) || r.label > 1)
      return RowError(path, line_no, fmt::format("label \"{}\" is not 0 or 1", label));
    if (r.sentence.empty()) return RowError(path, line_no, "empty sentence");
    r.line = line_no;
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<std::vector<LabeledSentence>> LoadLmBffTsv(const std::string& path, int num_labels) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const auto lines = SplitLines(text);
  std::vector<LabeledSentence> out;
  out.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t line_no = static_cast<int64_t>(i) + 1;
    const std::string_view l = lines[i];
    const size_t tab = l.find('\t');
    if (tab == std::string_view::npos) return RowError(path, line_no, "expected 2 tab-separated columns, found 1");
    if (l.find('\t', tab + 1) != std::string_view::npos)
      return RowError(path, line_no, "expected 2 tab-separated columns, found more");
    LabeledSentence r;
    const std::string_view label = l.substr(0, tab);
    if (!ParseInt(label, &r.label) || r.label >= num_labels)
      return RowError(path, line_no, fmt::format("label \"{}\" is not an integer in [0, {})", label, num_labels));
    r.sentence = std::string(l.substr(tab + 1));
    if (r.sentence.empty()) return RowError(path, line_no, "empty sentence");
    r.line = line_no;
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<std::vector<LabeledSentence>> LoadLmBffCsv(const std::string& path, int num_labels) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<CsvRow> rows;
  RETURN_IF_ERROR(ParseCsv(text, path, &rows));
  std::vector<LabeledSentence> out;
  out.reserve(rows.size());
  for (const CsvRow& row : rows) {
    if (row.fields.size() != 2)
      return RowError(path, row.line, fmt::format("expected 2 comma-separated columns, found {}", row.fields.size()));
    LabeledSentence r;
    if (!ParseInt(row.fields[0], &r.label) || r.label >= num_labels)
      return RowError(path, row.line,
                      fmt::format("label \"{}\" is not an integer in [0, {})", row.fields[0], num_labels));
    r.sentence = row.fields[1];
    if (r.sentence.empty()) return RowError(path, row.line, "empty sentence");
    r.line = row.line;
    out.push_back(std::move(r));
  }
  return out;
}

namespace {
StatusOr<std::vector<PremiseHypothesisRecord>> LoadPremiseHypothesis(const std::string& path,
                                                                     const std::vector<std::string>& labels) {
  std::vector<PremiseHypothesisRecord> out;
  RETURN_IF_ERROR(ForEachJsonl(path, [&](const json& obj, int64_t line) -> Status {
    PremiseHypothesisRecord r;
    RETURN_IF_ERROR(GetString(obj, "premise", &r.premise));
    RETURN_IF_ERROR(GetString(obj, "hypothesis", &r.hypothesis));
    RETURN_IF_ERROR(GetNamedLabel(obj, "label", labels, &r.label));
    r.line = line;
    out.push_back(std::move(r));
    return Status::Ok();
  }));
  return out;
}
}  // namespace

StatusOr<std::vector<PremiseHypothesisRecord>> LoadRteJsonl(const std::string& path) {
  return LoadPremiseHypothesis(path, {"entailment", "not_entailment"});
}

StatusOr<std::vector<PremiseHypothesisRecord>> LoadCbJsonl(const std::string& path) {
  return LoadPremiseHypothesis(path, {"entailment", "contradiction", "neutral"});
}

StatusOr<std::vector<BoolqRecord>> LoadBoolqJsonl(const std::string& path) {
  std::vector<BoolqRecord> out;
  RETURN_IF_ERROR(ForEachJsonl(path, [&](const json& obj, int64_t line) -> Status {
    BoolqRecord r;
    RETURN_IF_ERROR(GetString(obj, "passage", &r.passage));
    RETURN_IF_ERROR(GetString(obj, "question", &r.question));
    if (r.question.empty()) return InvalidArgument("empty question");
    RETURN_IF_ERROR(GetBoolLabel(obj, "label", &r.label));
    r.line = line;
    out.push_back(std::move(r));
    return Status::Ok();
  }));
  return out;
}

StatusOr<std::vector<WscRecord>> LoadWscJsonl(const std::string& path) {
  std::vector<WscRecord> out;
  RETURN_IF_ERROR(ForEachJsonl(path, [&](const json& obj, int64_t line) -> Status {
    WscRecord r;
    RETURN_IF_ERROR(GetString(obj, "text", &r.text));
    auto target = obj.find("target");
    if (target == obj.end() || !target->is_object()) return InvalidArgument("missing object field \"target\"");
    RETURN_IF_ERROR(GetString(*target, "span1_text", &r.span1_text).WithContext("target"));
    RETURN_IF_ERROR(GetString(*target, "span2_text", &r.span2_text).WithContext("target"));
    RETURN_IF_ERROR(GetBoolLabel(obj, "label", &r.label));
    r.line = line;
    out.push_back(std::move(r));
    return Status::Ok();
  }));
  return out;
}

StatusOr<std::vector<WicRecord>> LoadWicJsonl(const std::string& path) {
  std::vector<WicRecord> out;
  RETURN_IF_ERROR(ForEachJsonl(path, [&](const json& obj, int64_t line) -> Status {
    WicRecord r;
    RETURN_IF_ERROR(GetString(obj, "word", &r.word));
    RETURN_IF_ERROR(GetString(obj, "sentence1", &r.sentence1));
    RETURN_IF_ERROR(GetString(obj, "sentence2", &r.sentence2));
    RETURN_IF_ERROR(GetBoolLabel(obj, "label", &r.label));
    r.line = line;
    out.push_back(std::move(r));
    return Status::Ok();
  }));
  return out;
}

StatusOr<std::vector<MultircRecord>> LoadMultircJsonl(const std::string& path) {
  std::vector<MultircRecord> out;
  int64_t passage_index = 0;
  RETURN_IF_ERROR(ForEachJsonl(path, [&](const json& obj, int64_t line) -> Status {
    auto passage = obj.find("passage");
    if (passage == obj.end() || !passage->is_object()) return InvalidArgument("missing object field \"passage\"");
    std::string paragraph;
    RETURN_IF_ERROR(GetString(*passage, "text", &paragraph).WithContext("passage"));
    auto questions = passage->find("questions");
    if (questions == passage->end() || !questions->is_array())
      return InvalidArgument("passage: missing array field \"questions\"");
    for (size_t q = 0; q < questions->size(); ++q) {
      const json& qobj = (*questions)[q];
      const std::string where = fmt::format("passage.questions[{}]", q);
      if (!qobj.is_object()) return InvalidArgument("{} is not an object", where);
      std::string question;
      RETURN_IF_ERROR(GetString(qobj, "question", &question).WithContext(where));
      auto answers = qobj.find("answers");
      if (answers == qobj.end() || !answers->is_array())
        return InvalidArgument("{}: missing array field \"answers\"", where);
      for (size_t a = 0; a < answers->size(); ++a) {
        const json& aobj = (*answers)[a];
        const std::string awhere = fmt::format("{}.answers[{}]", where, a);
        if (!aobj.is_object()) return InvalidArgument("{} is not an object", awhere);
        MultircRecord r;
        r.paragraph = paragraph;
        r.question = question;
        RETURN_IF_ERROR(GetString(aobj, "text", &r.answer).WithContext(awhere));
        RETURN_IF_ERROR(GetBoolLabel(aobj, "label", &r.label).WithContext(awhere));
        r.passage = passage_index;
        r.line = line;
        out.push_back(std::move(r));
      }
    }
    ++passage_index;
    return Status::Ok();
  }));
  return out;
}

StatusOr<std::vector<CopaRecord>> LoadCopaJsonl(const std::string& path) {
  std::vector<CopaRecord> out;
  RETURN_IF_ERROR(ForEachJsonl(path, [&](const json& obj, int64_t line) -> Status {
    CopaRecord r;
    RETURN_IF_ERROR(GetString(obj, "premise", &r.premise));
    RETURN_IF_ERROR(GetString(obj, "choice1", &r.choice1));
    RETURN_IF_ERROR(GetString(obj, "choice2", &r.choice2));
    RETURN_IF_ERROR(GetString(obj, "question", &r.question));
    if (r.question != "cause" && r.question != "effect")
      return InvalidArgument("field \"question\" is \"{}\", expected \"cause\" or \"effect\"", r.question);
    RETURN_IF_ERROR(GetIntLabel(obj, "label", 2, &r.label));
    if (r.choice1.empty() || r.choice2.empty()) return InvalidArgument("empty choice");
    r.line = line;
    out.push_back(std::move(r));
    return Status::Ok();
  }));
  return out;
}

StatusOr<NiTask> LoadNiTask(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte is the 1-based offset where parsing stopped.
    const size_t upto = std::min(text.size(), static_cast<size_t>(e.byte > 0 ? e.byte - 1 : 0));
    const int64_t line = 1 + static_cast<int64_t>(std::count(text.begin(), text.begin() + upto, '\n'));
    return RowError(path, line, fmt::format("invalid JSON ({})", e.what()));
  } catch (const json::exception& e) {
    return InvalidArgument("{}: invalid JSON ({})", path, e.what());
  }
  NiTask task;
  try {
    if (!doc.is_object()) return InvalidArgument("{}: expected a JSON object", path);
    auto def = doc.find("Definition");
    if (def == doc.end()) return InvalidArgument("{}: missing field \"Definition\"", path);
    if (def->is_string()) {
      task.definition = def->get<std::string>();
    } else if (def->is_array() && !def->empty() && (*def)[0].is_string()) {
      task.definition = (*def)[0].get<std::string>();
    } else {
      return InvalidArgument("{}: \"Definition\" is neither a string nor a list of strings", path);
    }
    auto inst = doc.find("Instances");
    if (inst == doc.end() || !inst->is_array()) return InvalidArgument("{}: missing array field \"Instances\"", path);
    task.instances.reserve(inst->size());
    for (size_t i = 0; i < inst->size(); ++i) {
      const json& o = (*inst)[i];
      auto fail = [&](const std::string& what) { return InvalidArgument("{}: Instances[{}]: {}", path, i, what); };
      if (!o.is_object()) return fail("not an object");
      NiInstance r;
      r.index = static_cast<int64_t>(i);
      Status s = GetString(o, "input", &r.input);
      if (!s.ok()) return fail(s.message());
      auto out = o.find("output");
      if (out == o.end()) return fail("missing field \"output\"");
      if (out->is_string()) {
        r.output = out->get<std::string>();
      } else if (out->is_array() && !out->empty() && (*out)[0].is_string()) {
        r.output = (*out)[0].get<std::string>();
      } else {
        return fail("\"output\" is neither a string nor a non-empty list of strings");
      }
      task.instances.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    return InvalidArgument("{}: unexpected JSON content ({})", path, e.what());
  }
  return task;
}

StatusOr<std::vector<TextLine>> LoadTextLines(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const auto lines = SplitLines(text);
  std::vector<TextLine> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find_first_not_of(" \t") == std::string_view::npos) continue;
    out.push_back(TextLine{std::string(lines[i]), static_cast<int64_t>(i) + 1});
  }
  return out;
}

}  // namespace seedtune
