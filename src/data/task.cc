#include "data/task.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <string_view>
#include <utility>

#include "core/assets.h"
#include "data/text.h"
#include "data/user_data.h"

namespace seedtune {
namespace {


// Python str.strip(' '): spaces only, both ends.
std::string StripSpaces(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && s[b] == ' ') ++b;
  while (e > b && s[e - 1] == ' ') --e;
  return std::string(s.substr(b, e - b));
}
// Python str.strip() / lstrip() / rstrip() (ASCII whitespace).
std::string Strip(std::string_view s) { return std::string(PyStrip(s)); }
std::string LStrip(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && IsPyWhitespace(s[b])) ++b;
  return std::string(s.substr(b));
}
std::string RStrip(std::string_view s) {
  size_t e = s.size();
  while (e > 0 && IsPyWhitespace(s[e - 1])) --e;
  return std::string(s.substr(0, e));
}
std::string AsciiLower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// MeZO encode_prompt with no demonstrations: the prompt is
// template.encode(x).strip(' '), each full text is
// ("\n\n" + template.verbalize(x, c).strip(' ')).lstrip().strip(' '); the
// candidate is what the full text adds to the prompt.
Example FromTemplate(const std::string& raw_prompt, const std::vector<std::string>& raw_full, int label) {
  Example ex;
  ex.prompt = LStrip(StripSpaces(raw_prompt));
  ex.label = label;
  for (const std::string& f : raw_full) {
    std::string full = StripSpaces(LStrip(StripSpaces(f)));
    if (full.compare(0, ex.prompt.size(), ex.prompt) == 0) {
      ex.candidates.push_back(full.substr(ex.prompt.size()));
    } else {
      // Not reachable for the templates below (each full text starts with its
      // prompt); keep the whole text rather than lose the candidate.
      ex.candidates.push_back(std::move(full));
    }
  }
  return ex;
}

Example WithWords(const std::string& prompt, const std::string& sep, const std::vector<std::string>& words,
                  int label) {
  std::vector<std::string> full;
  for (const auto& w : words) full.push_back(prompt + sep + w);
  return FromTemplate(prompt, full, label);
}

const std::vector<std::string>& YesNo() {
  static const std::vector<std::string> v = {"Yes", "No"};
  return v;
}
const std::vector<std::string>& NoYes() {
  static const std::vector<std::string> v = {"No", "Yes"};
  return v;
}

// CopaTemplate.capitalize ("correct"): lower-case the first space-separated
// word unless it is "I".
std::string CopaCapitalize(const std::string& c) {
  const size_t sp = c.find(' ');
  const std::string first = c.substr(0, sp);
  if (first == "I") return c;
  return AsciiLower(first) + (sp == std::string::npos ? "" : c.substr(sp));
}

// Python len() of a UTF-8 string: bytes that do not continue a sequence.
int64_t CodePoints(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string JoinPath(const std::string& a, const std::string& b) {
  return (std::filesystem::path(a) / b).string();
}

template <typename T>
std::vector<T> Pick(const std::vector<T>& items, const std::vector<int64_t>& idx) {
  std::vector<T> out;
  out.reserve(idx.size());
  for (int64_t i : idx) out.push_back(items[static_cast<size_t>(i)]);
  return out;
}

// Fills task->train/dev/eval from separate pools.
void SampleInto(Task* task, const std::vector<Example>& train_pool, const std::vector<Example>& eval_pool,
                const TaskOptions& opts) {
  const TrainDevIndices td =
      SampleTrainDev(static_cast<int64_t>(train_pool.size()), opts.train_n, opts.dev_n, opts.seed);
  task->train = Pick(train_pool, td.train);
  task->dev = Pick(train_pool, td.dev);
  task->eval = Pick(eval_pool, SampleEval(static_cast<int64_t>(eval_pool.size()), opts.eval_n, opts.seed));
}

// Splits one labeled file (examples[i] in group group_of[i]) and samples.
void SampleHoldout(Task* task, const std::vector<Example>& examples, const std::vector<int64_t>& group_of,
                   int64_t num_groups, const TaskOptions& opts) {
  const HoldoutSplit split = SplitHoldout(group_of, num_groups);
  SampleInto(task, Pick(examples, split.train_pool), Pick(examples, split.eval_pool), opts);
}

void SampleHoldout(Task* task, const std::vector<Example>& examples, const TaskOptions& opts) {
  std::vector<int64_t> group_of(examples.size());
  for (size_t i = 0; i < group_of.size(); ++i) group_of[i] = static_cast<int64_t>(i);
  SampleHoldout(task, examples, group_of, static_cast<int64_t>(examples.size()), opts);
}

template <typename R, typename F>
std::vector<Example> MapExamples(const std::vector<R>& records, F&& f) {
  std::vector<Example> out;
  out.reserve(records.size());
  for (const R& r : records) out.push_back(f(r));
  return out;
}

}  // namespace

const char* ObjectiveName(Objective objective) {
  switch (objective) {
    case Objective::kCandidateClassification:
      return "classification";
    case Objective::kLanguageModel:
      return "language-model";
  }
  return "?";
}

// ---------------------------------------------------------------- templates

Example Sst2Example(const Sst2Record& r) {
  return WithWords(Strip(r.sentence) + " It was", " ", {"terrible", "great"}, r.label);
}

Example Sst5Example(const LabeledSentence& r) {
  return WithWords(Strip(r.sentence) + " It was", " ", {"terrible", "bad", "okay", "good", "great"}, r.label);
}

Example TrecExample(const LabeledSentence& r) {
  return WithWords(Strip(r.sentence) + " Answer type:", " ",
                   {"Description", "Entity", "Expression", "Human", "Location", "Number"}, r.label);
}

Example RteExample(const PremiseHypothesisRecord& r) {
  return WithWords(r.premise + "\nDoes this mean that \"" + r.hypothesis + "\" is true? Yes or No?\n", "", YesNo(),
                   r.label);
}

Example CbExample(const PremiseHypothesisRecord& r) {
  return WithWords("Suppose " + r.premise + " Can we infer that \"" + r.hypothesis + "\"? Yes, No, or Maybe?\n", "",
                   {"Yes", "No", "Maybe"}, r.label);
}

Example BoolqExample(const BoolqRecord& r) {
  std::string q = r.question;
  if (q.empty() || q.back() != '?') q += "?";
  if (q[0] >= 'a' && q[0] <= 'z') q[0] = static_cast<char>(q[0] - 'a' + 'A');
  // MeZO: candidates ["Yes", "No"], gold "Yes" iff the answer is true.
  return WithWords(r.passage + " " + q + "\n", "", YesNo(), r.label == 1 ? 0 : 1);
}

Example WicExample(const WicRecord& r) {
  return WithWords("Does the word \"" + r.word + "\" have the same meaning in these two sentences? Yes, No?\n" +
                       r.sentence1 + "\n" + r.sentence2 + "\n",
                   "", NoYes(), r.label);
}

Example WscExample(const WscRecord& r) {
  return WithWords(r.text + "\nIn the previous sentence, does the pronoun \"" + AsciiLower(r.span2_text) +
                       "\" refer to " + r.span1_text + "? Yes or No?\n",
                   "", NoYes(), r.label);
}

Example MultircExample(const MultircRecord& r) {
  return WithWords(r.paragraph + "\nQuestion: " + r.question + "\nI found this answer \"" + r.answer +
                       "\". Is that correct? Yes or No?\n",
                   "", NoYes(), r.label);
}

Example CopaExample(const CopaRecord& r) {
  std::string premise = RStrip(r.premise);
  if (!premise.empty() && premise.back() == '.') premise.pop_back();
  const std::string prompt = premise + (r.question == "effect" ? " so " : " because ");
  return FromTemplate(prompt, {prompt + CopaCapitalize(r.choice1), prompt + CopaCapitalize(r.choice2)}, r.label);
}

Example NiExample(const std::string& definition, const NiInstance& instance) {
  Example ex;
  ex.prompt =
      "Below is an instruction that describes a task, paired with an input that provides further context. "
      "Write a response that appropriately completes the request.\n\n### Instruction:\n" +
      definition + "\n\n### Input:\n" + instance.input + "\n\n### Response:";
  ex.candidates = {instance.output};
  ex.label = 0;
  ex.append_eos = true;
  return ex;
}

Example DollyExample(const std::string& instruction, const std::string& context, const std::string& response) {
  Example ex;
  ex.prompt = context.empty()
                  ? "Below is an instruction that describes a task. Write a response for the task request.\n\n"
                    "### Instruction:\n" + instruction + "\n\n### Response:"
                  : "Below is an instruction that describes a task, paired with an input that provides further "
                    "context. Write a response for the task request.\n\n### Instruction:\n" + instruction +
                        "\n\n### Input:\n" + context + "\n\n### Response:";
  ex.candidates = {response};
  ex.append_eos = true;
  return ex;
}

Example TextExample(const TextLine& line) {
  Example ex;
  ex.candidates = {line.text};
  return ex;
}

// ---------------------------------------------------------------- sampling

std::vector<std::pair<const char*, std::string>> UserDataOptions::HeaderKeys() const {
  std::vector<std::pair<const char*, std::string>> keys;
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"train_file", &train_file},
                                   {"dev_file", &dev_file},
                                   {"eval_file", &eval_file},
                                   {"template", &prompt_template},
                                   {"label_words", &label_words}})
    if (!value->empty()) keys.emplace_back(key, *value);
  return keys;
}

void AddToDigest(const Example& e, Digest64* d) {
  d->AddString(e.prompt);
  d->AddU64(e.candidates.size());
  for (const auto& c : e.candidates) d->AddString(c);
  d->AddU64(static_cast<uint64_t>(e.label));
  d->AddU64(e.append_eos ? 1 : 0);
  if (e.group >= 0) d->AddU64(0x6700000000000000ull | static_cast<uint64_t>(e.group));  // absent: digests as before
}

TrainDevIndices SampleTrainDev(int64_t pool_size, int64_t train_n, int64_t dev_n, uint64_t seed) {
  train_n = std::max<int64_t>(train_n, 0);
  dev_n = std::max<int64_t>(dev_n, 0);
  const std::vector<int64_t> perm = SeededPermutation(pool_size, seed);
  const int64_t taken = std::min<int64_t>(static_cast<int64_t>(perm.size()), train_n + dev_n);
  // MeZO: dev = the last dev_n taken. When the pool is short, dev still never
  // takes more than half unless train needs fewer (train is at most train_n).
  const int64_t dev = std::max<int64_t>(taken - train_n, std::min<int64_t>(dev_n, taken / 2));
  TrainDevIndices out;
  out.train.assign(perm.begin(), perm.begin() + (taken - dev));
  out.dev.assign(perm.begin() + (taken - dev), perm.begin() + taken);
  return out;
}

std::vector<int64_t> SampleEval(int64_t pool_size, int64_t eval_n, uint64_t seed) {
  std::vector<int64_t> perm = SeededPermutation(pool_size, seed);
  perm.resize(static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(perm.size()), std::max<int64_t>(eval_n, 0))));
  return perm;
}

HoldoutSplit SplitHoldout(const std::vector<int64_t>& group_of, int64_t num_groups) {
  const std::vector<int64_t> perm = SeededPermutation(num_groups, kHoldoutSplitSeed);
  const int64_t eval_groups = (num_groups + 1) / 2;
  std::vector<char> is_eval(static_cast<size_t>(std::max<int64_t>(num_groups, 0)), 0);
  for (int64_t i = 0; i < eval_groups; ++i) is_eval[static_cast<size_t>(perm[static_cast<size_t>(i)])] = 1;
  HoldoutSplit out;
  for (size_t i = 0; i < group_of.size(); ++i) {
    (is_eval[static_cast<size_t>(group_of[i])] ? out.eval_pool : out.train_pool).push_back(static_cast<int64_t>(i));
  }
  return out;
}

// ---------------------------------------------------------------- LoadTask

StatusOr<std::string> ConfineTaskToDataRoot(const std::string& name, const std::string& data_dir) {
  namespace fs = std::filesystem;
  const size_t colon = name.find(':');
  const std::string kind = AsciiLower(name.substr(0, colon));
  UserTaskKind user_kind;
  if (!ParseUserTaskKind(kind, &user_kind) && kind != "ni") return name;  // files at fixed places under the root
  const std::string arg = colon == std::string::npos ? "" : name.substr(colon + 1);
  std::string root = data_dir;
  if (root.empty()) {
    auto found = FindAsset("data");
    if (!found) return NotFound("task {}: no data root to read it from (give --data)", name);
    root = *found;
  }
  const fs::path rel(arg);
  if (arg.empty() || rel.is_absolute())
    return FailedPrecondition("task {}: a task named by another participant must be a path relative to this "
                              "participant's data root {}, not {}",
                              name, root, arg.empty() ? "empty" : "absolute");
  for (const auto& part : rel)
    if (part == "..")
      return FailedPrecondition("task {}: '..' would leave this participant's data root {}", name, root);
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(kind == "ni" ? fs::path(root) / "natural-instructions" : fs::path(root), ec);
  fs::path file = base / rel;
  if (kind == "ni" && !fs::exists(file, ec) && file.extension() != ".json") file += ".json";
  const fs::path resolved = fs::weakly_canonical(file, ec);
  const fs::path inside = resolved.lexically_relative(fs::weakly_canonical(root, ec));
  if (ec || inside.empty() || *inside.begin() == "..")
    return FailedPrecondition("task {}: {} resolves to {}, outside this participant's data root {}", name,
                              file.string(), resolved.string(), root);
  return kind + ":" + resolved.string();
}

namespace {

// A user's file: as given, else under the data root (if one is given or found).
std::string ResolveUserPath(const std::string& file, const std::string& data_dir) {
  if (std::filesystem::exists(file) || std::filesystem::path(file).is_absolute()) return file;
  std::string root = data_dir;
  if (root.empty())
    if (auto found = FindAsset("data")) root = *found;
  if (root.empty()) return file;
  const std::string under = JoinPath(root, file);
  return std::filesystem::exists(under) ? under : file;
}

std::string FileName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

StatusOr<Task> LoadUserTask(const std::string& name, UserTaskKind kind, const std::string& arg,
                            const std::string& data_dir, const TaskOptions& opts) {
  const UserDataOptions& user = opts.user;
  if (!arg.empty() && !user.train_file.empty())
    return InvalidArgument("task {}: the file is given twice (as the task's argument and as --train-file {}); give "
                           "one",
                           name, user.train_file);
  const std::string train_arg = !arg.empty() ? arg : user.train_file;
  if (train_arg.empty())
    return InvalidArgument("task {}: no data: give {}:FILE or --train-file FILE (docs/data.md)", name, name);
  const bool lines_ok = kind == UserTaskKind::kText;
  std::vector<UserFile> files;
  for (const std::string* f : {&train_arg, &user.dev_file, &user.eval_file}) {
    if (f->empty()) {
      files.push_back(UserFile{});
      continue;
    }
    ASSIGN_OR_RETURN(UserFile file, LoadUserFile(ResolveUserPath(*f, data_dir), lines_ok));
    files.push_back(std::move(file));
  }
  ASSIGN_OR_RETURN(auto examples, UserExamples(kind, files, user));
  std::vector<Example>& rows = examples[0];
  const bool has_dev = !user.dev_file.empty(), has_eval = !user.eval_file.empty();
  if (rows.empty()) return InvalidArgument("task {}: {} has no rows", name, files[0].path);

  Task task;
  task.name = name;
  task.train_objective = UserTaskObjective(kind);
  task.loss_only = kind != UserTaskKind::kClassify;
  std::vector<Example> train_pool, eval_pool;
  std::string held;
  if (has_eval || opts.eval_n == 0) {
    train_pool = rows;
    if (has_eval) eval_pool = examples[2];
  } else {
    std::vector<int64_t> group_of(rows.size());
    for (size_t i = 0; i < group_of.size(); ++i) group_of[i] = static_cast<int64_t>(i);
    const HoldoutSplit split = SplitHoldout(group_of, static_cast<int64_t>(rows.size()));
    train_pool = Pick(rows, split.train_pool);
    eval_pool = Pick(rows, split.eval_pool);
    held = fmt::format(" ({} of its rows held out for eval: give --eval-file, or --eval-n 0, to train on all)",
                       eval_pool.size());
  }
  if (has_dev) {
    const TrainDevIndices td = SampleTrainDev(static_cast<int64_t>(train_pool.size()), opts.train_n, 0, opts.seed);
    task.train = Pick(train_pool, td.train);
    task.dev = Pick(examples[1], SampleEval(static_cast<int64_t>(examples[1].size()), opts.dev_n, opts.seed));
  } else {
    const TrainDevIndices td =
        SampleTrainDev(static_cast<int64_t>(train_pool.size()), opts.train_n, opts.dev_n, opts.seed);
    task.train = Pick(train_pool, td.train);
    task.dev = Pick(train_pool, td.dev);
  }
  task.eval = Pick(eval_pool, SampleEval(static_cast<int64_t>(eval_pool.size()), opts.eval_n, opts.seed));

  const int64_t unused = static_cast<int64_t>(train_pool.size()) - static_cast<int64_t>(task.train.size()) -
                         (has_dev ? 0 : static_cast<int64_t>(task.dev.size()));
  task.data_note = fmt::format("{}: {} rows{}; train {}{}", FileName(files[0].path), rows.size(), held,
                               task.train.size(),
                               unused > 0 ? fmt::format(" ({} rows unused: --train-n {})", unused, opts.train_n) : "");
  task.data_note += has_dev ? fmt::format(", dev {} of the {} rows of {}", task.dev.size(), examples[1].size(),
                                          FileName(files[1].path))
                            : fmt::format(", dev {}", task.dev.size());
  if (has_eval)
    task.data_note += fmt::format(", eval {} of the {} rows of {}", task.eval.size(), examples[2].size(),
                                  FileName(files[2].path));
  else
    task.data_note += opts.eval_n == 0 ? ", no eval (--eval-n 0)" : fmt::format(", eval {}", task.eval.size());
  return task;
}

}  // namespace

StatusOr<Task> LoadTask(const std::string& name, const std::string& data_dir_arg, const TaskOptions& opts) {
  if (opts.train_n < 0 || opts.dev_n < 0 || opts.eval_n < 0)
    return InvalidArgument("task {}: negative sample size (train {}, dev {}, eval {})", name, opts.train_n,
                           opts.dev_n, opts.eval_n);
  const size_t colon = name.find(':');
  const std::string kind = AsciiLower(name.substr(0, colon));
  const std::string arg = colon == std::string::npos ? "" : name.substr(colon + 1);

  // Only ni: and text: take an argument; "sst2:reviews.tsv" trained on the
  // real SST-2 and ignored the file.
  UserTaskKind user_kind;
  const bool user_task = ParseUserTaskKind(kind, &user_kind);
  if (colon != std::string::npos && kind != "ni" && !user_task)
    return InvalidArgument("task '{}': {} takes no argument (its files live under the data root); for your own file "
                           "use classify:FILE, instruct:FILE or text:FILE (docs/data.md)",
                           name, kind);
  const UserDataOptions& user = opts.user;
  const bool has_files = !user.train_file.empty() || !user.dev_file.empty() || !user.eval_file.empty();
  if (has_files && !user_task)
    return InvalidArgument("task {}: --train-file / --dev-file / --eval-file are for a user's own task (classify, "
                           "instruct or text), not for a built-in benchmark",
                           name);
  if ((!user.prompt_template.empty() || !user.label_words.empty()) && !user_task)
    return InvalidArgument("task {}: --template / --label-words are for a user's own task (classify, instruct), "
                           "not for a built-in benchmark with its published template",
                           name);
  if (user_task) return LoadUserTask(name, user_kind, arg, data_dir_arg, opts);
  std::string data_dir = data_dir_arg;
  if (data_dir.empty()) {
    auto found = FindAsset("data");
    if (!found) return NotFound("task {}: no data directory given and no asset folder \"data\" found", name);
    data_dir = *found;
  }
  auto sg = [&](const char* task, const char* file) {
    return JoinPath(JoinPath(JoinPath(data_dir, "superglue"), task), file);
  };

  Task task;
  task.name = kind == "ni" || kind == "text" ? name : kind;
  task.train_objective = Objective::kCandidateClassification;

  if (kind == "sst2") {
    ASSIGN_OR_RETURN(auto train, LoadSst2Tsv(JoinPath(data_dir, "sst2/train.tsv")));
    ASSIGN_OR_RETURN(auto val, LoadSst2Tsv(JoinPath(data_dir, "sst2/dev.tsv")));
    SampleInto(&task, MapExamples(train, Sst2Example), MapExamples(val, Sst2Example), opts);
  } else if (kind == "rte") {
    ASSIGN_OR_RETURN(auto train, LoadRteJsonl(sg("RTE", "train.jsonl")));
    ASSIGN_OR_RETURN(auto val, LoadRteJsonl(sg("RTE", "val.jsonl")));
    SampleInto(&task, MapExamples(train, RteExample), MapExamples(val, RteExample), opts);
  } else if (kind == "wsc") {
    ASSIGN_OR_RETURN(auto train, LoadWscJsonl(sg("WSC", "train.jsonl")));
    ASSIGN_OR_RETURN(auto val, LoadWscJsonl(sg("WSC", "val.jsonl")));
    SampleInto(&task, MapExamples(train, WscExample), MapExamples(val, WscExample), opts);
  } else if (kind == "sst5") {
    ASSIGN_OR_RETURN(auto train, LoadLmBffTsv(JoinPath(data_dir, "lmbff/sst-5/train.tsv"), 5));
    ASSIGN_OR_RETURN(auto test, LoadLmBffTsv(JoinPath(data_dir, "lmbff/sst-5/test.tsv"), 5));
    SampleInto(&task, MapExamples(train, Sst5Example), MapExamples(test, Sst5Example), opts);
  } else if (kind == "trec") {
    ASSIGN_OR_RETURN(auto train, LoadLmBffCsv(JoinPath(data_dir, "lmbff/trec/train.csv"), 6));
    ASSIGN_OR_RETURN(auto test, LoadLmBffCsv(JoinPath(data_dir, "lmbff/trec/test.csv"), 6));
    SampleInto(&task, MapExamples(train, TrecExample), MapExamples(test, TrecExample), opts);
  } else if (kind == "cb") {
    ASSIGN_OR_RETURN(auto val, LoadCbJsonl(sg("CB", "val.jsonl")));
    SampleHoldout(&task, MapExamples(val, CbExample), opts);
  } else if (kind == "boolq") {
    ASSIGN_OR_RETURN(auto val, LoadBoolqJsonl(sg("BoolQ", "val.jsonl")));
    SampleHoldout(&task, MapExamples(val, BoolqExample), opts);
  } else if (kind == "wic") {
    ASSIGN_OR_RETURN(auto val, LoadWicJsonl(sg("WiC", "val.jsonl")));
    SampleHoldout(&task, MapExamples(val, WicExample), opts);
  } else if (kind == "multirc") {
    ASSIGN_OR_RETURN(auto val, LoadMultircJsonl(sg("MultiRC", "val.jsonl")));
    std::vector<int64_t> group_of;
    int64_t num_groups = 0;
    for (const auto& r : val) {
      group_of.push_back(r.passage);
      num_groups = std::max(num_groups, r.passage + 1);
    }
    SampleHoldout(&task, MapExamples(val, MultircExample), group_of, num_groups, opts);
  } else if (kind == "copa") {
    task.train_objective = Objective::kLanguageModel;
    ASSIGN_OR_RETURN(auto val, LoadCopaJsonl(sg("COPA", "val.jsonl")));
    SampleHoldout(&task, MapExamples(val, CopaExample), opts);
  } else if (kind == "dolly") {
    task.train_objective = Objective::kLanguageModel;
    task.loss_only = true;
    std::string path = JoinPath(data_dir, "dolly/databricks-dolly-15k.jsonl");  // the whole file, if present
    if (!std::filesystem::exists(path)) path = JoinPath(data_dir, "dolly/databricks-dolly-15k.head.jsonl");
    ASSIGN_OR_RETURN(UserFile file, LoadUserFile(path, false));
    std::set<std::string> names;
    for (const UserRecord& r : file.records) {
      const std::string* c = r.Find("category");
      if (c == nullptr) return InvalidArgument("{}:{}: no \"category\" field", path, r.line);
      names.insert(*c);
    }
    if (!names.count(kDollyHeldOutCategory))
      return InvalidArgument("{}: no record of the held-out category \"{}\"", path, kDollyHeldOutCategory);
    const std::vector<std::string> categories(names.begin(), names.end());  // codes: alphabetical, as FedKSeed
    std::vector<Example> train_pool, eval_pool;
    for (const UserRecord& r : file.records) {
      const std::string* instruction = r.Find("instruction");
      const std::string* context = r.Find("context");
      const std::string* response = r.Find("response");
      if (instruction == nullptr || context == nullptr || response == nullptr)
        return InvalidArgument("{}:{}: a Dolly record needs instruction, context and response", path, r.line);
      Example ex = DollyExample(*instruction, *context, *response);
      const std::string& category = *r.Find("category");
      ex.group = static_cast<int>(std::lower_bound(categories.begin(), categories.end(), category) - categories.begin());
      (category == kDollyHeldOutCategory ? eval_pool : train_pool).push_back(std::move(ex));
    }
    SampleInto(&task, train_pool, eval_pool, opts);
  } else if (kind == "ni") {
    if (arg.empty()) return InvalidArgument("task {}: expected ni:<task file>", name);
    task.train_objective = Objective::kLanguageModel;
    task.loss_only = true;
    std::string path = arg;
    if (!std::filesystem::exists(path)) {
      path = JoinPath(JoinPath(data_dir, "natural-instructions"), arg);
      const bool has_ext = arg.size() >= 5 && arg.compare(arg.size() - 5, 5, ".json") == 0;
      if (!std::filesystem::exists(path) && !has_ext) path += ".json";
    }
    ASSIGN_OR_RETURN(NiTask ni, LoadNiTask(path));
    std::vector<Example> examples;
    for (const NiInstance& inst : ni.instances) {
      if (opts.ni_max_input_chars > 0 && CodePoints(inst.input) >= opts.ni_max_input_chars) continue;
      examples.push_back(NiExample(ni.definition, inst));
    }
    SampleHoldout(&task, examples, opts);
  } else {
    return InvalidArgument(
        "unknown task \"{}\" (expected sst2, rte, cb, boolq, wsc, wic, multirc, copa, sst5, trec, dolly, ni:<file>, "
        "or your own data: classify:<file>, instruct:<file>, text:<file>)",
        name);
  }
  return task;
}

}  // namespace seedtune
