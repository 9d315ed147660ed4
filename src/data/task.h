// MeZO's tasks as prompt/candidate examples, with MeZO's sampling.
//
// Templates (princeton-nlp/MeZO large_models/templates.py; candidate appended
// to the prompt; MeZO's encode_prompt strips spaces at both ends of the prompt
// and of each verbalized text, so e.g. Copa's " so " prompt ends in "so" and
// its candidates start with a space):
//   sst2    "{sentence.strip()} It was" + " terrible" | " great"
//   rte     "{premise}\nDoes this mean that \"{hypothesis}\" is true? Yes or No?\n" + "Yes" | "No"
//   cb      "Suppose {premise} Can we infer that \"{hypothesis}\"? Yes, No, or Maybe?\n" + "Yes" | "No" | "Maybe"
//   boolq   "{passage} {Question}?\n" + "Yes" | "No"     (template v3; question capitalised, '?' added if missing)
//   wic     "Does the word \"{word}\" have the same meaning in these two sentences? Yes, No?\n{s1}\n{s2}\n" + "No" | "Yes"
//   wsc     "{text}\nIn the previous sentence, does the pronoun \"{span2.lower()}\" refer to {span1}? Yes or No?\n" + "No" | "Yes"
//   multirc "{paragraph}\nQuestion: {question}\nI found this answer \"{answer}\". Is that correct? Yes or No?\n" + "No" | "Yes"
//   copa    "{premise without final '.'} so" / " because" + " {choice, first word lower-cased unless it is \"I\"}"
// Not in MeZO's OPT templates (our choices, documented here):
//   sst5    the SST-2 template with LM-BFF's words: " terrible" | " bad" | " okay" | " good" | " great"
//   trec    "{question} Answer type:" + " Description" | " Entity" | " Expression" | " Human" | " Location" | " Number"
//           (LM-BFF's label words; its MLM template puts the mask first, which a causal LM cannot score)
//   ni:X    FedKSeed's Alpaca prompt "Below is an instruction ...### Response:" + "{output[0]}" + EOS token
//   text:F  "" + "{line}" (every non-empty line of a plain text file)
//   dolly   FedKSeed's Dolly-15K Alpaca wording ("Write a response for the task request.", the Input block
//           only when the context is non-empty) + "{response}" + EOS; categories coded alphabetically
//           (Example::group, what a federated partition splits by); the "summarization" category is the
//           eval pool (FedKSeed's --zerotask 7), the other seven the train pool (dev sampled from it).
//           data/dolly/databricks-dolly-15k.jsonl if present, else the assets' 1,611-record head.
//
// Objectives (MeZO mezo.sh): copa, ni and text train with the LM loss on the
// gold candidate's tokens; every other task trains as classification over the
// candidates. Evaluation always predicts the candidate with the highest mean
// token log-prob.
//
// Sampling (MeZO tasks.py sample_train_sets / run.py): a seeded permutation of
// the train pool; its first taken = min(pool, train_n + dev_n) entries are
// used, the last `dev` of them form dev and the rest train, with
// dev = max(taken - train_n, min(dev_n, taken / 2)): exactly MeZO's split
// whenever the pool holds train_n + dev_n or at least 2 * dev_n examples; for
// smaller pools MeZO would leave train empty, here dev gets at most half.
// eval = the first eval_n of a seeded permutation of the eval pool (same seed,
// as MeZO).
//
// Pools:
//   sst2                 train.tsv / dev.tsv (= GLUE validation)
//   rte, wsc             train.jsonl / val.jsonl
//   sst5                 train.tsv / test.tsv (LM-BFF: test is the eval set; dev.tsv unused)
//   trec                 train.csv / test.csv
//   cb, copa, boolq, wic, multirc, ni:, text:
//                        no train split exists here, so the one labeled file
//                        (val.jsonl / the task's instances / the lines) is
//                        split ONCE, independently of TaskOptions::seed: a
//                        permutation with the fixed seed kHoldoutSplitSeed puts
//                        the first ceil(n/2) items in the eval pool and the rest
//                        in the train pool (MultiRC splits by passage, so no
//                        passage is in both). The eval set is thus the same for
//                        every training seed and never overlaps train/dev.
//
// Random numbers are our own splitmix64 + xoshiro256** and Fisher-Yates with
// unbiased bounded draws, so samples are identical with every compiler and
// standard library.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/sampling.h"

namespace seedtune {

struct Example {
  std::string prompt;
  // Texts appended to the prompt (with their leading space/newline, if any).
  std::vector<std::string> candidates;
  int label = 0;  // index of the gold candidate
  // Append the tokenizer's EOS token after the candidate (and score it):
  // FedKSeed's `{output}{eos}` targets. False for every MeZO task.
  bool append_eos = false;
  // What a federated partition splits by when it is not the label (>= 0): the
  // Dolly category of an instruction task. -1: the label.
  int group = -1;
};

// Adds an example (prompt, candidates, label, append_eos) to a data digest.
void AddToDigest(const Example& example, Digest64* digest);

enum class Objective { kCandidateClassification, kLanguageModel };
const char* ObjectiveName(Objective objective);

struct Task {
  std::string name;
  Objective train_objective = Objective::kCandidateClassification;
  std::vector<Example> train, dev, eval;
  // What a user's files gave (rows read, used for train / dev / eval, held
  // out): printed by the commands so that no row is dropped silently. Empty
  // for the built-in benchmarks.
  std::string data_note;
  // A task with no accuracy to report (language modelling, instruction
  // following): evaluation reports the loss only.
  bool loss_only = false;
};

// A user's own task (classify / instruct / text, data/user_data.h, docs/data.md):
// its files when they are not given as the task's argument, its prompt
// template and its label words. Empty: not given.
struct UserDataOptions {
  std::string train_file, dev_file, eval_file;
  // Over the row's fields; empty: the kind's default (data/user_data.h).
  std::string prompt_template;
  // classify: "LABEL=WORD,..." or "WORD,..." for labels 0, 1, ...; empty: the labels themselves.
  std::string label_words;
  // The ledger header's keys for the given ones (train_file, dev_file,
  // eval_file, template, label_words): absent when not given, so ledgers
  // written before these options existed describe the same run.
  std::vector<std::pair<const char*, std::string>> HeaderKeys() const;
};

struct TaskOptions {
  int train_n = 1000;
  int dev_n = 500;
  int eval_n = 1000;
  uint64_t seed = 0;
  // ni: keep instances whose input has fewer characters (Unicode code points,
  // as Python's len) than this: FedKSeed's filter, max_length 1024; <= 0 keeps all.
  int64_t ni_max_input_chars = 1024;
  UserDataOptions user;
};

// name: sst2, rte, cb, boolq, wsc, wic, multirc, copa, sst5, trec,
//   ni:<task file name, with or without .json, or a path>, and a user's own
//   files (docs/data.md): text:<path>, classify:<path>, instruct:<path>, or
//   text / classify / instruct with opts.user.train_file (+ dev_file, eval_file).
// A user's single file is split as the one-file benchmarks are (half held out
// for eval) unless eval_n is 0 or an eval file is given: then every row is in
// the train pool. A dev file replaces dev sampled from the train pool.
// data_dir: the folder holding sst2/, superglue/, lmbff/, natural-instructions/;
//   empty = FindAsset("data").
StatusOr<Task> LoadTask(const std::string& name, const std::string& data_dir, const TaskOptions& opts);

// A task named by another participant (the coordinator, a bootstrap peer)
// may read only files under this participant's own data root (data_dir, or
// FindAsset("data")): text:FILE and ni:NAME must be relative, without "..",
// and resolve (links followed) inside it. Returns the task to load: the
// built-in benchmarks unchanged, a file task with its path inside the root.
StatusOr<std::string> ConfineTaskToDataRoot(const std::string& name, const std::string& data_dir);

// ---- Templates (one raw record -> one Example) ----
Example Sst2Example(const Sst2Record& r);
Example Sst5Example(const LabeledSentence& r);
Example TrecExample(const LabeledSentence& r);
Example RteExample(const PremiseHypothesisRecord& r);
Example CbExample(const PremiseHypothesisRecord& r);
Example BoolqExample(const BoolqRecord& r);
Example WicExample(const WicRecord& r);
Example WscExample(const WscRecord& r);
Example MultircExample(const MultircRecord& r);
Example CopaExample(const CopaRecord& r);
Example NiExample(const std::string& definition, const NiInstance& instance);
Example TextExample(const TextLine& line);
// FedKSeed's Dolly-15K prompt (its prompt_input / prompt_no_input wording,
// "Write a response for the task request."), target response + EOS.
Example DollyExample(const std::string& instruction, const std::string& context, const std::string& response);
// FedKSeed's --zerotask 7: the category held out as the eval set.
inline constexpr const char* kDollyHeldOutCategory = "summarization";

// ---- Portable sampling ----
inline constexpr uint64_t kHoldoutSplitSeed = 0x5EED5EED0DA7A5E7ull;

struct TrainDevIndices {
  std::vector<int64_t> train, dev;  // indices into the train pool, disjoint
};
TrainDevIndices SampleTrainDev(int64_t pool_size, int64_t train_n, int64_t dev_n, uint64_t seed);
std::vector<int64_t> SampleEval(int64_t pool_size, int64_t eval_n, uint64_t seed);

// The fixed split of a single labeled file: item i belongs to group group_of[i]
// (groups 0..num_groups-1); the first ceil(num_groups/2) groups of
// SeededPermutation(num_groups, kHoldoutSplitSeed) go to eval. Both lists are
// item indices in file order.
struct HoldoutSplit {
  std::vector<int64_t> train_pool, eval_pool;
};
HoldoutSplit SplitHoldout(const std::vector<int64_t>& group_of, int64_t num_groups);

}  // namespace seedtune
