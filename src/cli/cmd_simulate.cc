// seedtune simulate: many federated clients in one process (docs/federated.md).
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "backend/backend.h"
#include "cli/common.h"
#include "cli/shared_options.h"
#include "core/progress.h"
#include "core/threading.h"
#include "data/encode.h"
#include "data/partition.h"
#include "data/task.h"
#include "fed/federated_data.h"
#include "fed/onebyte.h"
#include "fed/simulation.h"
#include "fed/run_header.h"
#include "ledger/ledger.h"
#include "ledger/resume.h"
#include "ledger/replay.h"
#include "ledger/snapshot.h"
#include "runtime/model_source.h"
#include "zo/fingerprint.h"

namespace seedtune::cli {

CommandRunner RegisterSimulate(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "simulate",
      "Simulate federated zeroth-order fine-tuning with many clients in one process (--algo: every registered "
      "algorithm, and onebyte). Options may come from a TOML file (--config) with command-line overrides.");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    std::string algo = "feedsign", task = "sst2", data, partition = "auto", attack = "none", rule = "mean",
                dist = "gauss", metrics, ledger;
    UserDataOptions user;
    bool resume = false;
    int64_t snapshot_every = 0;
    int clients = 5, train_n = 1000, dev_n = 500, eval_n = 1000, max_length = 512, min_per_client = 10;
    double byzantine = 0.0;
    int samples = 2;
    SimulationOptions sim;
    AlgorithmFlags algo_flags;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--algo", a->algo,
                  AlgorithmChoices(false) + "; onebyte (Just One Byte's decentralized peers, one byte per projected "
                                            "gradient)")
      ->capture_default_str();
  AddModelOption(cmd, o.get());
  AddTokenizerOption(cmd, o.get());
  AddShared(cmd, shared::kTask, a->task);
  AddShared(cmd, shared::kData, a->data);
  AddUserDataOptions(cmd, &a->user);
  AddShared(cmd, shared::kTrainN, a->train_n);
  AddShared(cmd, shared::kDevN, a->dev_n);
  AddShared(cmd, shared::kEvalN, a->eval_n, "on the final model");
  AddShared(cmd, shared::kMaxLength, a->max_length);
  AddShared(cmd, shared::kClients, a->clients);
  AddShared(cmd, shared::kPartition, a->partition);
  AddShared(cmd, shared::kMinPerClient, a->min_per_client);
  AddShared(cmd, shared::kRounds, a->sim.rounds, "one step each, FedKSeed tau local steps each");
  AddShared(cmd, shared::kBatch, a->sim.batch_size, "per client");
  AddShared(cmd, shared::kLr, a->sim.lr);
  AddShared(cmd, shared::kEps, a->sim.eps);
  AddShared(cmd, shared::kMaxScalar, a->sim.max_abs_scalar);
  AddShared(cmd, shared::kSeed, a->sim.seed);
  AddShared(cmd, shared::kDist, a->dist);
  cmd->add_option("--byzantine", a->byzantine, "Fraction of Byzantine clients")->capture_default_str()->check(InRange(0, 1));
  cmd->add_option("--attack", a->attack, "none, signflip, random (N(0, 100^2) scalar), scaled (-10 g)")
      ->capture_default_str();
  AddShared(cmd, shared::kAggregate, a->rule);
  cmd->add_option("--dp-epsilon", a->sim.dp_epsilon,
                  "FeedSign DP variant: clients send their sign through randomized response (flip probability "
                  "1/(1+e^eps)), eps-local DP per step; 0 = off")
      ->capture_default_str()
      ->check(AtLeast(0));
  AddAlgorithmFlags(cmd, &a->algo_flags, /*networked_only=*/false);
  cmd->add_option("--samples", a->samples, "onebyte: projected gradients (bytes) per machine per iteration")
      ->capture_default_str()->check(InRange(1, 1 << 20));
  cmd->add_option("--eval-every", a->sim.eval_every, "Dev evaluation every N rounds (0: at the end)")->check(AtLeast(0));
  AddShared(cmd, shared::kEvalBatch, a->sim.eval_batch);
  cmd->add_flag("--replicas", a->sim.replicas,
                "Every client keeps its own model copy and applies each round's update; fail unless all fingerprints "
                "agree (memory grows with clients)");
  AddShared(cmd, shared::kMetrics, a->metrics);
  cmd->add_option("--ledger", a->ledger, "Record every round's update list and fingerprint in this seed ledger");
  cmd->add_flag("--resume", a->resume,
                "Continue the run recorded in --ledger (same options): rebuild the model from the ledger (latest "
                "snapshot first), restore the strategy's state, and run the remaining rounds");
  cmd->add_option("--snapshot-every", a->snapshot_every,
                  "Write a full-weight snapshot (safetensors, beside the ledger) every N rounds and reference it from "
                  "the ledger (0: none)")
      ->capture_default_str()->check(AtLeast(0));
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  AddJsonOption(cmd, o.get());
  return [o, a]() -> int {
    const bool onebyte = a->algo == "onebyte";
    auto backend = ParseBackendKind(o->backend);
    if (!backend.ok()) return Fail("simulate", backend.status());
    auto algo = onebyte ? StatusOr<FedAlgorithm>(FedAlgorithm::kMezo) : ParseFedAlgorithm(a->algo);
    if (!algo.ok()) return Fail("simulate", algo.status());
    auto attack = ParseAttack(a->attack);
    if (!attack.ok()) return Fail("simulate", attack.status());
    auto rule = ParseScalarRule(a->rule);
    if (!rule.ok()) return Fail("simulate", rule.status());
    SimulationOptions sim = a->sim;
    sim.algo = *algo;
    if (Status st = ApplyAlgorithmFlags(a->algo_flags, &sim); !st.ok()) return FailUsage("simulate", st);
    sim.byzantine = ByzantineConfig{a->byzantine, *attack};
    sim.rule = rule->rule;
    sim.trim_fraction = rule->trim_fraction;
    sim.dist = a->dist == "gauss" ? ZDistribution::kGaussian : ZDistribution::kRademacher;
    sim.backend = *backend;
    const int clients = sim.algo == FedAlgorithm::kMezo && !onebyte ? 1 : a->clients;

    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("simulate", weights.status());
    auto tok = LoadTokenizerForModel(o->model, weights->config(), o->tokenizer);
    if (!tok.ok()) return Fail("simulate", tok.status());
    FederatedDataOptions dopts;
    dopts.task = a->task;
    dopts.data_dir = a->data;
    dopts.partition = a->partition;
    dopts.clients = clients;
    dopts.train_n = a->train_n;
    dopts.dev_n = a->dev_n;
    dopts.eval_n = a->eval_n;
    dopts.max_length = a->max_length;
    dopts.min_per_client = a->min_per_client;
    dopts.seed = sim.seed;
    dopts.user = a->user;
    auto fdata = LoadFederatedData(dopts, **tok, weights->config());
    if (!fdata.ok()) return Fail("simulate", fdata.status());
    if (!fdata->data_note.empty()) std::fprintf(stderr, "data: %s\n", fdata->data_note.c_str());
    const auto& data = fdata->shards;
    const std::vector<EncodedExample>* dev = &fdata->dev;
    const std::vector<EncodedExample>* eval = &fdata->eval;
    size_t train_size = 0;
    for (const auto& shard : data) train_size += shard.size();
    if (!onebyte) {
      // What the strategy refuses (a batch over a shard, its options) fails
      // here, before a ledger or metrics file exists to block the next try.
      std::vector<int64_t> sizes;
      for (const auto& shard : data) sizes.push_back(static_cast<int64_t>(shard.size()));
      if (auto s = Strategy::Create(sim, sizes); !s.ok()) return Fail("simulate", s.status());
    }

    ThreadingContext ctx(o->threads);
    const Objective obj = fdata->objective;
    std::unique_ptr<std::ofstream> metrics;
    if (!a->metrics.empty()) {
      metrics = std::make_unique<std::ofstream>(a->metrics);
      if (!*metrics) return Fail("simulate", IoError("{}: cannot open for writing", a->metrics));
    }
    auto emit = [&](const nlohmann::ordered_json& j) {
      if (metrics) *metrics << j.dump() << "\n" << std::flush;
      else if (o->json) std::printf("%s\n", j.dump().c_str());
    };
    auto eval_set = [&](const char* label) -> StatusOr<EvalResult> {
      if (eval->empty()) return EvalResult{};  // --eval-n 0: nothing to evaluate, no bar
      ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> model, MakeBackend(sim.backend, *weights, ctx));
      ProgressBar bar(label, static_cast<int64_t>(eval->size()), "ex");
      auto r = EvaluateDataset(*model, *eval, obj, sim.eval_batch, [&](int64_t d, int64_t) { bar.Update(d); });
      bar.Finish();
      return r;
    };
    std::fprintf(stderr, "simulate: %s, %d clients (%s), %zu train / %zu dev / %zu eval, byzantine %.2f (%s)\n",
                 a->algo.c_str(), clients, fdata->partition.c_str(),
                 train_size, dev->size(), eval->size(),
                 a->byzantine, AttackName(*attack));
    auto before = eval_set("eval (before)");
    if (!before.ok()) return Fail("simulate", before.status());
    emit({{"event", "eval"}, {"split", "eval"}, {"round", 0}, {"accuracy", before->accuracy},
          {"loss", before->mean_loss}, {"count", before->count}});
    if (onebyte && !a->ledger.empty())
      return Fail("simulate", Unimplemented("--ledger is not supported for onebyte yet"));
    if (onebyte) {  // decentralized: every machine keeps its own copy
      OneByteOptions ob;
      ob.iterations = sim.rounds;
      ob.samples = a->samples;
      ob.batch_size = sim.batch_size;
      ob.lr = sim.lr;
      ob.eps = sim.eps;
      ob.seed = sim.seed;
      ob.dist = sim.dist;
      ob.backend = sim.backend;
      ob.join.assign(static_cast<size_t>(clients), 1);
      ob.leave.assign(static_cast<size_t>(clients), 0);
      std::vector<ModelWeights> finals;
      auto logs = RunOneByte(*weights, ctx, data, obj, ob, &finals);
      if (!logs.ok()) return Fail("simulate", logs.status());
      for (const auto& it : *logs)
        emit({{"event", "round"}, {"round", it.iteration}, {"loss", it.loss}, {"bytes", it.records.size()},
              {"up_bits", 8 * a->samples}, {"down_bits", 8 * static_cast<int64_t>(it.records.size() - a->samples)},
              {"fingerprint", it.fingerprints.begin()->second}});
      *weights = std::move(finals[0]);
      auto after = eval_set("eval (after)");
      if (!after.ok()) return Fail("simulate", after.status());
      emit({{"event", "eval"}, {"split", "eval"}, {"round", sim.rounds}, {"accuracy", after->accuracy},
            {"loss", after->mean_loss}, {"count", after->count}});
      const bool lm = obj == Objective::kLanguageModel;  // loss only: there is no accuracy to report
      std::fprintf(stderr, "onebyte: eval before %s -> after %s; %d bytes up per machine per iteration; all %d "
                           "machines identical (%s)\n",
                   lm ? fmt::format("loss {:.4f}", before->mean_loss).c_str()
                      : fmt::format("acc {:.2f}% loss {:.4f}", 100 * before->accuracy, before->mean_loss).c_str(),
                   lm ? fmt::format("loss {:.4f}", after->mean_loss).c_str()
                      : fmt::format("acc {:.2f}% loss {:.4f}", 100 * after->accuracy, after->mean_loss).c_str(),
                   a->samples, clients, logs->back().fingerprints.begin()->second.c_str());
      return 0;
    }
    std::unique_ptr<LedgerWriter> ledger;
    Status ledger_status;
    if (!a->ledger.empty()) {
      const LedgerHeader h = FederatedLedgerHeader(sim, dopts, a->rule, sim.rounds, fdata->data_digest,
                                                   FingerprintHex(ModelFingerprint(*weights, ctx)),
                                                   fdata->tokens_digest);
      if (a->resume && !std::filesystem::exists(a->ledger))
        return Fail("simulate", NotFound("--resume: {} does not exist (drop --resume to start a new run)", a->ledger));
      if (a->resume) {
        auto contents = ReadLedgerForResume(a->ledger, h);
        if (!contents.ok()) return Fail("simulate", contents.status());
        if (!contents->tail_problem.empty())
          std::fprintf(stderr, "resume: %s: %s; dropping it and continuing after the valid prefix\n",
                       a->ledger.c_str(), contents->tail_problem.c_str());
        for (const LedgerRecord& r : contents->records) sim.restore_aux.push_back(r.aux);
        ReplayOptions ropts;
        ropts.ledger_path = a->ledger;
        ropts.use_snapshots = true;
        ProgressBar rbar("resume: replay", static_cast<int64_t>(contents->records.size()), "record");
        auto report = ReplayLedger(*contents, &*weights, ctx, ropts,
                                   [&](int64_t done, int64_t) { rbar.Update(done); });
        rbar.Finish();
        if (!report.ok()) return Fail("simulate", report.status());
        if (!report->snapshot_problem.empty())
          std::fprintf(stderr, "resume: %s\n", report->snapshot_problem.c_str());
        sim.first_round = static_cast<int64_t>(contents->records.size()) + 1;
        std::fprintf(stderr, "resume: %lld rounds in the ledger (model %s%s); continuing at round %lld\n",
                     static_cast<long long>(contents->records.size()), FingerprintHex(report->final_fingerprint).c_str(),
                     report->snapshot_round > 0
                         ? fmt::format(", from the round-{} snapshot", report->snapshot_round).c_str()
                         : "",
                     static_cast<long long>(sim.first_round));
        auto w = LedgerWriter::Append(a->ledger);
        if (!w.ok()) return Fail("simulate", w.status());
        ledger = std::move(*w);
      } else {
        auto w = LedgerWriter::Create(a->ledger, h);
        if (!w.ok()) return Fail("simulate", w.status());
        ledger = std::move(*w);
      }
    }
    ProgressBar bar("simulate", sim.rounds, "round");
    SimulationCallbacks cb;
    double ema = NAN;
    cb.on_round = [&](const RoundLog& r) {
      ema = std::isnan(ema) ? r.loss : 0.95 * ema + 0.05 * r.loss;
      bar.Update(r.round, fmt::format("loss {:.4f}", ema));
      emit({{"event", "round"}, {"round", r.round}, {"loss", r.loss}, {"client_grads", r.client_grads},
            {"vote", r.vote}, {"sampled", r.sampled}, {"up_bits", r.traffic.up_bits}, {"down_bits", r.traffic.down_bits},
            {"fingerprint", r.fingerprint}, {"seconds", r.seconds}});
      if (ledger && ledger_status.ok()) {
        LedgerRecord rec;
        rec.round = static_cast<uint64_t>(r.round);
        rec.updates = r.updates;
        if (r.sampled.empty()) {
          for (int c = 0; c < clients; ++c) rec.participants.push_back(static_cast<uint32_t>(c));
        } else {
          for (int c : r.sampled) rec.participants.push_back(static_cast<uint32_t>(c));
        }
        rec.has_fingerprint = true;
        rec.fingerprint = std::stoull(r.fingerprint, nullptr, 16);
        rec.aux = r.aux;
        ledger_status = ledger->Write(rec);
        if (ledger_status.ok() && a->snapshot_every > 0 && r.round % a->snapshot_every == 0)
          ledger_status = SnapshotAfterRound(ledger.get(), a->ledger, static_cast<uint64_t>(r.round), *weights, ctx);
      }
    };
    cb.on_eval = [&](const SimEvalLog& e) {
      emit({{"event", "eval"}, {"split", "dev"}, {"round", e.round}, {"accuracy", e.dev.accuracy},
            {"loss", e.dev.mean_loss}, {"count", e.dev.count}});
    };
    auto result = RunSimulation(&*weights, ctx, data, *dev, obj, sim, cb);
    bar.Finish();
    if (!result.ok()) return Fail("simulate", result.status());
    if (!ledger_status.ok()) return Fail("simulate", ledger_status);
    if (ledger) {
      Status s = ledger->Close();
      if (!s.ok()) return Fail("simulate", s);
    }
    auto after = eval_set("eval (after)");
    if (!after.ok()) return Fail("simulate", after.status());
    emit({{"event", "eval"}, {"split", "eval"}, {"round", sim.rounds}, {"accuracy", after->accuracy},
          {"loss", after->mean_loss}, {"count", after->count}, {"fingerprint", result->final_fingerprint}});
    // Up: per client that trained in a round (the sampled ones); down: per client.
    uint64_t uploads = 0;
    for (const auto& round : result->rounds) uploads += round.sampled.size();
    const double per_client_round_up =
        static_cast<double>(result->total_up_bits) / static_cast<double>(std::max<uint64_t>(uploads, 1));
    const double per_client_round_down =
        static_cast<double>(result->total_down_bits) / clients / std::max<size_t>(result->rounds.size(), 1);
    const char* algo_name = FedAlgorithmName(sim.algo);
    if (eval->empty()) {
      std::fprintf(stderr, "\n%-8s no evaluation (--eval-n 0)\n", algo_name);
    } else if (obj == Objective::kLanguageModel) {  // no candidates to be right about: loss only
      std::fprintf(stderr, "\n%-8s %-34s %-34s\n", "", "eval before", "eval after");
      std::fprintf(stderr, "%-8s loss %-29.4f loss %.4f\n", algo_name, before->mean_loss, after->mean_loss);
    } else {
      std::fprintf(stderr, "\n%-8s %-34s %-34s\n", "", "eval before", "eval after");
      std::fprintf(stderr, "%-8s acc %.2f%% +- %.2f, loss %.4f       acc %.2f%% +- %.2f, loss %.4f\n", algo_name,
                   100 * before->accuracy, 100 * before->accuracy_stderr, before->mean_loss, 100 * after->accuracy,
                   100 * after->accuracy_stderr, after->mean_loss);
    }
    if (sim.dp_epsilon > 0.0)
      std::fprintf(stderr,
                   "DP: each sign sent through randomized response, flip probability %.4f: %g-local DP per step, "
                   "%g over the %zu steps run (basic composition)\n",
                   RandomizedResponseFlipProbability(sim.dp_epsilon), sim.dp_epsilon,
                   sim.dp_epsilon * static_cast<double>(result->rounds.size()), result->rounds.size());
    std::fprintf(stderr, "payload per round: %.0f bits up per training client, %.0f bits down per client; final fingerprint %s\n",
                 per_client_round_up, per_client_round_down, result->final_fingerprint.c_str());
    return 0;
  };
}

}  // namespace seedtune::cli
