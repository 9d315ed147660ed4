// seedtune train --algo mezo: zeroth-order fine-tuning of every parameter on
// a task, with a progress bar, JSON-lines metrics and a final evaluation.
// seedtune eval: accuracy / loss of a (zero-shot or trained) model on a task.
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <memory>

#include "backend/backend.h"
#include "cli/common.h"
#include "cli/shared_options.h"
#include "core/progress.h"
#include "core/threading.h"
#include "data/encode.h"
#include "data/generation_eval.h"
#include "data/objective.h"
#include "data/task.h"
#include "formats/convert.h"
#include "ledger/ledger.h"
#include "ledger/resume.h"
#include "ledger/replay.h"
#include "ledger/snapshot.h"
#include "runtime/model_source.h"
#include "train/mezo.h"
#include "zo/fingerprint.h"

namespace seedtune::cli {

namespace {

struct TaskArgs {
  std::string task = "sst2", data;
  UserDataOptions user;
  int train_n = 1000, dev_n = 500, eval_n = 1000, max_length = 512;
  uint64_t data_seed = 0;
};

void AddTaskOptions(CLI::App* cmd, TaskArgs* t) {
  AddShared(cmd, shared::kTask, t->task);
  AddShared(cmd, shared::kData, t->data);
  AddUserDataOptions(cmd, &t->user);
  AddShared(cmd, shared::kTrainN, t->train_n, "MeZO: 1000");
  AddShared(cmd, shared::kDevN, t->dev_n, "MeZO: 500");
  AddShared(cmd, shared::kEvalN, t->eval_n, "MeZO: up to 1000");
  cmd->add_option("--data-seed", t->data_seed, "Seed of the train/dev/eval sampling")->capture_default_str();
  AddShared(cmd, shared::kMaxLength, t->max_length);
}

struct Prepared {
  Task task;
  std::vector<EncodedExample> train, dev, eval;
};

StatusOr<Prepared> Prepare(const TaskArgs& t, const Tokenizer& tok, const ModelConfig& config) {
  TaskOptions opts;
  opts.train_n = t.train_n;
  opts.dev_n = t.dev_n;
  opts.eval_n = t.eval_n;
  opts.seed = t.data_seed;
  opts.user = t.user;
  Prepared p;
  ASSIGN_OR_RETURN(p.task, LoadTask(t.task, t.data, opts));
  if (!p.task.data_note.empty()) std::fprintf(stderr, "data       %s\n", p.task.data_note.c_str());
  const int64_t max_len = EffectiveMaxLength(t.max_length, config);
  ASSIGN_OR_RETURN(p.train, EncodeExamples(p.task.train, tok, max_len));
  ASSIGN_OR_RETURN(p.dev, EncodeExamples(p.task.dev, tok, max_len));
  ASSIGN_OR_RETURN(p.eval, EncodeExamples(p.task.eval, tok, max_len));
  return p;
}

// The digest of the training and dev examples as loaded (tokens = false) or
// as encoded (true): the ledger header's "data" and "tokens".
std::string TrainDevDigest(const Prepared& p, bool tokens) {
  Digest64 d;
  auto add = [&d](const auto& set) {
    d.AddU64(set.size());
    for (const auto& e : set) AddToDigest(e, &d);
  };
  if (tokens) {
    add(p.train);
    add(p.dev);
  } else {
    add(p.task.train);
    add(p.task.dev);
  }
  return d.Hex();
}

StatusOr<EvalResult> EvalWithBar(ModelWeights& w, ThreadingContext& ctx, BackendKind backend,
                                 std::span<const EncodedExample> ex, Objective obj, int batch, const std::string& label) {
  ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> model, MakeBackend(backend, w, ctx));
  ProgressBar bar(label, static_cast<int64_t>(ex.size()), "ex");
  auto r = EvaluateDataset(*model, ex, obj, batch, [&](int64_t done, int64_t) { bar.Update(done); });
  bar.Finish();
  return r;
}

std::string FormatEval(const EvalResult& r, Objective obj) {
  if (obj == Objective::kLanguageModel) return fmt::format("loss {:.4f} (n={})", r.mean_loss, r.count);
  return fmt::format("accuracy {:.2f}% +- {:.2f} (n={}), loss {:.4f}", 100 * r.accuracy, 100 * r.accuracy_stderr,
                     r.count, r.mean_loss);
}

}  // namespace

CommandRunner RegisterTrain(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Fine-tune all parameters with zeroth-order optimisation (MeZO)");
  auto o = std::make_shared<CommonOptions>();
  auto t = std::make_shared<TaskArgs>();
  struct Args {
    std::string algo = "mezo", schedule = "constant", dist = "gauss", metrics, out, ledger;
    int fingerprint_every = 10;
    int64_t snapshot_every = 0;
    MezoOptions mezo;
    bool eval_before = true, keep_best = true, resume = false, force = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--algo", a->algo, "Algorithm (mezo; the federated ones run under `simulate`)")
      ->check(CLI::IsMember({"mezo"}));
  AddModelOption(cmd, o.get());
  AddTokenizerOption(cmd, o.get());
  AddTaskOptions(cmd, t.get());
  cmd->add_option("--steps", a->mezo.steps, "Optimisation steps")->capture_default_str()->check(AtLeast(1));
  AddShared(cmd, shared::kBatch, a->mezo.batch_size);
  AddShared(cmd, shared::kLr, a->mezo.lr);
  AddShared(cmd, shared::kEps, a->mezo.eps);
  cmd->add_option("--weight-decay", a->mezo.weight_decay, "Decoupled weight decay (not on biases / norms)")->check(AtLeast(0));
  cmd->add_option("--q", a->mezo.directions, "SPSA directions per step (n-SPSA)")->capture_default_str()->check(InRange(1, 1024));
  cmd->add_option("--lr-schedule", a->schedule, "constant or linear (decay to 0)")
      ->check(CLI::IsMember({"constant", "linear"}));
  AddShared(cmd, shared::kDist, a->dist);
  AddShared(cmd, shared::kSeed, a->mezo.seed);
  cmd->add_option("--eval-every", a->mezo.eval_every, "Evaluate on dev every N steps (0: at the end)")->check(AtLeast(0));
  AddShared(cmd, shared::kEvalBatch, a->mezo.eval_batch);
  cmd->add_flag("!--no-keep-best", a->keep_best, "End with the final weights instead of the best dev evaluation");
  cmd->add_flag("!--no-eval-before", a->eval_before, "Skip the zero-shot evaluation");
  AddShared(cmd, shared::kMetrics, a->metrics, "default: stdout with --json");
  cmd->add_option("--out", a->out, "Export the trained model as a Hugging Face directory");
  AddForceOption(cmd, &a->force);
  cmd->add_option("--ledger", a->ledger,
                  "Record every step's (seed, alpha, decay) list in this seed ledger (implies --no-keep-best: the "
                  "ledger describes the final model)");
  cmd->add_option("--fingerprint-every", a->fingerprint_every, "Ledger: record the model fingerprint every N steps")->check(AtLeast(1));
  cmd->add_option("--snapshot-every", a->snapshot_every,
                  "Ledger: write a full-weight snapshot (safetensors, in <ledger>.snapshots/) every N steps and "
                  "reference it from the ledger, so export and resume start there (0: none)")->check(AtLeast(0));
  cmd->add_flag("--resume", a->resume,
                "Continue the run recorded in --ledger: rebuild the model by replaying the ledger from its latest "
                "usable snapshot (or the base), checking its fingerprints, then train from the next step");
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  AddJsonOption(cmd, o.get());
  return [o, t, a]() -> int {
    auto backend = ParseBackendKind(o->backend);
    if (!backend.ok()) return Fail("train", backend.status());
    a->mezo.backend = *backend;
    if (!a->out.empty()) {  // checked before hours of training, not after
      Status s = CheckOutputPath(a->out, {ModelInputPath(o->model), a->ledger}, a->force);
      if (!s.ok()) return Fail("train", s);
    }
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("train", weights.status());
    auto tok = LoadTokenizerForModel(o->model, weights->config(), o->tokenizer);
    if (!tok.ok()) return Fail("train", tok.status());
    auto prep = Prepare(*t, **tok, weights->config());
    if (!prep.ok()) return Fail("train", prep.status());
    if (static_cast<size_t>(a->mezo.batch_size) > prep->train.size())
      return Fail("train", InvalidArgument("--batch {} exceeds the {} training examples of {}", a->mezo.batch_size,
                                           prep->train.size(), prep->task.name));
    ThreadingContext ctx(o->threads);
    const Objective obj = prep->task.train_objective;
    a->mezo.schedule = a->schedule == "linear" ? LrSchedule::kLinear : LrSchedule::kConstant;
    a->mezo.dist = a->dist == "gauss" ? ZDistribution::kGaussian : ZDistribution::kRademacher;
    a->mezo.keep_best = a->keep_best && a->ledger.empty();
    std::unique_ptr<LedgerWriter> ledger;
    if (a->resume && a->ledger.empty()) return Fail("train", InvalidArgument("--resume needs --ledger FILE"));
    if (a->snapshot_every > 0 && a->ledger.empty())
      return Fail("train", InvalidArgument("--snapshot-every needs --ledger FILE"));
    if (!a->ledger.empty()) {
      LedgerHeader h;
      h.base_fingerprint = FingerprintHex(ModelFingerprint(*weights, ctx));
      h.algorithm = "mezo";
      // The run's identity: everything that changes what a step computes.
      nlohmann::json hyper{{"lr", a->mezo.lr}, {"eps", a->mezo.eps}, {"batch", a->mezo.batch_size},
                                         {"q", a->mezo.directions}, {"weight_decay", a->mezo.weight_decay},
                                         {"schedule", a->schedule}, {"task", t->task}, {"steps", a->mezo.steps},
                                         {"train_n", t->train_n}, {"data_seed", t->data_seed},
                                         {"dev_n", t->dev_n}, {"max_length", t->max_length},
                                         // what the run trained and selected on: the examples, and
                                         // their tokens (so another tokenizer is another run)
                                         {"data", TrainDevDigest(*prep, /*tokens=*/false)},
                                         {"tokens", TrainDevDigest(*prep, /*tokens=*/true)}};
      for (const auto& [key, value] : t->user.HeaderKeys()) hyper[key] = value;
      h.hyperparameters = hyper.dump();
      h.run_seed = a->mezo.seed;
      h.distribution = a->dist;
      if (a->resume && !std::filesystem::exists(a->ledger))
        return Fail("train", NotFound("--resume: {} does not exist (drop --resume to start a new run)", a->ledger));
      if (a->resume) {
        auto contents = ReadLedgerForResume(a->ledger, h);
        if (!contents.ok()) return Fail("train", contents.status());
        if (!contents->tail_problem.empty())
          std::fprintf(stderr, "resume: %s: %s; dropping it and continuing after the valid prefix\n",
                       a->ledger.c_str(), contents->tail_problem.c_str());
        ReplayOptions ropts;
        ropts.ledger_path = a->ledger;
        ropts.use_snapshots = true;
        ProgressBar rbar("resume: replay", static_cast<int64_t>(contents->records.size()), "step");
        auto report = ReplayLedger(*contents, &*weights, ctx, ropts, [&](int64_t d, int64_t) { rbar.Update(d); });
        rbar.Finish();
        if (!report.ok()) return Fail("train", report.status());
        if (!report->snapshot_problem.empty())
          std::fprintf(stderr, "resume: %s\n", report->snapshot_problem.c_str());
        a->mezo.first_step = contents->records.empty() ? 1 : static_cast<int64_t>(contents->records.back().round) + 1;
        a->eval_before = false;
        std::fprintf(stderr, "resume: replayed %lld steps %s (%s); continuing at step %lld\n",
                     static_cast<long long>(report->records_applied),
                     report->from_snapshot ? fmt::format("after the step-{} snapshot", report->snapshot_round).c_str()
                                           : "from the base",
                     FingerprintHex(report->final_fingerprint).c_str(), static_cast<long long>(a->mezo.first_step));
        auto w = LedgerWriter::Append(a->ledger);
        if (!w.ok()) return Fail("train", w.status());
        ledger = std::move(*w);
      } else {
        auto w = LedgerWriter::Create(a->ledger, h);
        if (!w.ok()) return Fail("train", w.status());
        ledger = std::move(*w);
      }
    }
    Status ledger_status;

    std::unique_ptr<std::ofstream> metrics_file;
    if (!a->metrics.empty()) {
      metrics_file = std::make_unique<std::ofstream>(a->metrics);
      if (!*metrics_file) return Fail("train", IoError("{}: cannot open for writing", a->metrics));
    }
    auto emit = [&](const nlohmann::ordered_json& j) {
      if (metrics_file) *metrics_file << j.dump() << "\n" << std::flush;
      else if (o->json) std::printf("%s\n", j.dump().c_str());
    };
    std::fprintf(stderr, "train: %s on %s (%s objective): %zu train, %zu dev, %zu eval examples; base %s\n",
                 o->model.c_str(), prep->task.name.c_str(), ObjectiveName(obj), prep->train.size(), prep->dev.size(),
                 prep->eval.size(), FingerprintHex(ModelFingerprint(*weights, ctx)).c_str());
    EvalResult before;
    if (prep->eval.empty()) a->eval_before = false;
    if (a->eval_before) {
      auto r = EvalWithBar(*weights, ctx, *backend, prep->eval, obj, a->mezo.eval_batch, "eval (before)");
      if (!r.ok()) return Fail("train", r.status());
      before = *r;
      emit({{"event", "eval"}, {"split", "eval"}, {"step", 0}, {"accuracy", r->accuracy}, {"loss", r->mean_loss},
            {"count", r->count}});
    }
    ProgressBar bar("mezo", a->mezo.steps, "step");
    MezoCallbacks cb;
    double ema = NAN;
    cb.on_step = [&](const MezoStepLog& s) {
      ema = std::isnan(ema) ? s.loss : 0.95 * ema + 0.05 * s.loss;
      bar.Update(s.step, fmt::format("loss {:.4f} g {:+.3g}", ema, s.projected_grad));
      nlohmann::ordered_json j{{"event", "step"}, {"step", s.step},          {"loss", s.loss},
                               {"loss_minus", s.loss_minus}, {"projected_grad", s.projected_grad},
                               {"lr", s.lr}, {"seconds", s.seconds}};
      auto& ups = j["updates"] = nlohmann::ordered_json::array();
      for (const auto& u : s.updates) ups.push_back({{"seed", u.seed}, {"alpha", u.alpha}, {"decay", u.decay}});
      emit(j);
      if (ledger && ledger_status.ok()) {
        LedgerRecord rec;
        rec.round = static_cast<uint64_t>(s.step);
        rec.updates = s.updates;
        rec.participants = {0};
        if (s.step % a->fingerprint_every == 0 || s.step == a->mezo.steps) {
          rec.has_fingerprint = true;
          rec.fingerprint = ModelFingerprint(*weights, ctx);
        }
        ledger_status = ledger->Write(rec);
        if (ledger_status.ok() && a->snapshot_every > 0 && s.step % a->snapshot_every == 0)
          ledger_status = SnapshotAfterRound(ledger.get(), a->ledger, rec.round, *weights, ctx);
      }
    };
    cb.on_eval = [&](const MezoEvalLog& e) {
      emit({{"event", "eval"}, {"split", "dev"}, {"step", e.step}, {"accuracy", e.dev.accuracy},
            {"loss", e.dev.mean_loss}, {"count", e.dev.count}, {"fingerprint", e.fingerprint}});
    };
    const std::string model_spec = o->model;
    cb.load_base = [model_spec]() { return LoadModelSpec(model_spec); };
    auto result = TrainMezo(&*weights, ctx, prep->train, prep->dev, obj, a->mezo, cb);
    bar.Finish();
    if (!result.ok()) return Fail("train", result.status());
    if (!ledger_status.ok()) return Fail("train", ledger_status);
    if (ledger) {
      Status s = ledger->Close();
      if (!s.ok()) return Fail("train", s);
      std::fprintf(stderr, "ledger %s: %lld steps\n", a->ledger.c_str(), static_cast<long long>(a->mezo.steps));
    }
    if (!prep->eval.empty()) {
      auto after = EvalWithBar(*weights, ctx, *backend, prep->eval, obj, a->mezo.eval_batch, "eval (after)");
      if (!after.ok()) return Fail("train", after.status());
      emit({{"event", "eval"}, {"split", "eval"}, {"step", a->mezo.steps}, {"accuracy", after->accuracy},
            {"loss", after->mean_loss}, {"count", after->count}, {"fingerprint", result->final_fingerprint},
            {"best_step", result->best_step}});
      std::fprintf(stderr, "\n%-10s %s\n", "", "eval set");
      if (a->eval_before) std::fprintf(stderr, "%-10s %s\n", "before", FormatEval(before, obj).c_str());
      std::fprintf(stderr, "%-10s %s\n", "after", FormatEval(*after, obj).c_str());
    }
    std::fprintf(stderr, "best dev step %lld, final fingerprint %s\n", static_cast<long long>(result->best_step),
                 result->final_fingerprint.c_str());
    if (!a->out.empty()) {
      Status s = ExportModel(*weights, a->out, ExportFormat::kHuggingFace);
      if (!s.ok()) return Fail("train", s);
      std::fprintf(stderr, "wrote %s\n", a->out.c_str());
    }
    return 0;
  };
}

CommandRunner RegisterEval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval", "Evaluate a model on a task: accuracy by candidate scoring and loss, or (--metric rouge-l) greedy "
              "generations scored by Rouge-L F and exact match");
  auto o = std::make_shared<CommonOptions>();
  auto t = std::make_shared<TaskArgs>();
  auto batch = std::make_shared<int>(16);
  auto split = std::make_shared<std::string>("eval");
  struct GenArgs {
    std::string metric = "score", generations;
    int max_new_tokens = 128;
  };
  auto g = std::make_shared<GenArgs>();
  AddModelOption(cmd, o.get());
  AddTokenizerOption(cmd, o.get());
  AddTaskOptions(cmd, t.get());
  cmd->add_option("--split", *split, "eval, dev or train")->check(CLI::IsMember({"eval", "dev", "train"}));
  cmd->add_option("--batch", *batch, "Examples per forward pass")->check(InRange(1, 1 << 20));
  cmd->add_option("--metric", g->metric,
                  "score: candidate scoring (accuracy where the task has one, and loss); rouge-l: greedy generation "
                  "after each prompt, Rouge-L F (FedKSeed's, the `rouge` 1.0.1 package's definition) and exact "
                  "match against the gold text")
      ->capture_default_str()
      ->check(CLI::IsMember({"score", "rouge-l"}));
  cmd->add_option("--max-new-tokens", g->max_new_tokens, "rouge-l: tokens generated at most per example (FedKSeed: 128)")
      ->capture_default_str()
      ->check(InRange(1, 1 << 20));
  cmd->add_option("--generations", g->generations, "rouge-l: write each prompt's generation, reference and score as JSON lines");
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  AddJsonOption(cmd, o.get());
  return [o, t, batch, split, g]() -> int {
    auto backend = ParseBackendKind(o->backend);
    if (!backend.ok()) return Fail("eval", backend.status());
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("eval", weights.status());
    auto tok = LoadTokenizerForModel(o->model, weights->config(), o->tokenizer);
    if (!tok.ok()) return Fail("eval", tok.status());
    auto prep = Prepare(*t, **tok, weights->config());
    if (!prep.ok()) return Fail("eval", prep.status());
    ThreadingContext ctx(o->threads);
    if (g->metric == "rouge-l") {
      const auto& raw = *split == "eval" ? prep->task.eval : *split == "dev" ? prep->task.dev : prep->task.train;
      auto model = MakeBackend(*backend, *weights, ctx);
      if (!model.ok()) return Fail("eval", model.status());
      std::unique_ptr<std::ofstream> out;
      if (!g->generations.empty()) {
        out = std::make_unique<std::ofstream>(g->generations);
        if (!*out) return Fail("eval", IoError("{}: cannot open for writing", g->generations));
      }
      GenerationEvalOptions gopts;
      gopts.max_new_tokens = g->max_new_tokens;
      gopts.max_length = t->max_length;
      ProgressBar bar("generate", static_cast<int64_t>(raw.size()), "ex");
      auto r = EvaluateGeneration(**model, **tok, raw, gopts, [&](int64_t done, int64_t) { bar.Update(done); });
      bar.Finish();
      if (!r.ok()) return Fail("eval", r.status());
      if (out)
        for (size_t i = 0; i < r->generations.size(); ++i) {
          const Generation& gen = r->generations[i];
          *out << nlohmann::ordered_json{{"index", i}, {"prompt", raw[i].prompt}, {"generation", gen.hypothesis},
                                         {"reference", gen.reference}, {"rouge_l", gen.rouge_l}, {"exact", gen.exact}}
                      .dump()
               << "\n";
        }
      const std::string fp = FingerprintHex(ModelFingerprint(*weights, ctx));
      if (o->json) {
        nlohmann::ordered_json j{{"task", prep->task.name}, {"split", *split},       {"metric", "rouge-l"},
                                 {"rouge_l", r->rouge_l},   {"exact_match", r->exact_match}, {"count", r->count},
                                 {"max_new_tokens", g->max_new_tokens}, {"fingerprint", fp}};
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("%s %s: rouge-l F %.2f, exact match %.2f%% (n=%lld, greedy, max %d new tokens)\n",
                    prep->task.name.c_str(), split->c_str(), 100 * r->rouge_l, 100 * r->exact_match,
                    static_cast<long long>(r->count), g->max_new_tokens);
      }
      return 0;
    }
    const auto& ex = *split == "eval" ? prep->eval : *split == "dev" ? prep->dev : prep->train;
    auto r = EvalWithBar(*weights, ctx, *backend, ex, prep->task.train_objective, *batch, "eval");
    if (!r.ok()) return Fail("eval", r.status());
    if (o->json) {
      nlohmann::ordered_json j{{"task", prep->task.name}, {"split", *split},         {"accuracy", r->accuracy},
                               {"accuracy_stderr", r->accuracy_stderr}, {"loss", r->mean_loss}, {"count", r->count},
                               {"fingerprint", FingerprintHex(ModelFingerprint(*weights, ctx))}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s %s: %s\n", prep->task.name.c_str(), split->c_str(), FormatEval(*r, prep->task.train_objective).c_str());
    }
    return 0;
  };
}

}  // namespace seedtune::cli
