// seedtune client: one participant of a networked federated run (docs/network.md).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>

#include "backend/backend.h"
#include "cli/common.h"
#include "cli/shared_options.h"
#include "data/task.h"
#include "core/threading.h"
#include "data/objective.h"
#include "fed/federated_data.h"
#include "net/participant.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

namespace {

// The client's own options, when given, must agree with the coordinator's run.
template <typename T>
Status Agree(const CLI::Option* opt, const char* name, const T& mine, const T& run) {
  if (opt->count() == 0 || mine == run) return Status::Ok();
  return FailedPrecondition("{} {} was given, but the coordinator runs {} {}", name, fmt::to_string(mine), name,
                            fmt::to_string(run));
}

}  // namespace

CommandRunner RegisterClient(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "client",
      "Take part in a federated run coordinated by `seedtune server`: replay the published rounds, train on this "
      "client's shard when asked, and report the model's fingerprint. The algorithm, hyperparameters and data "
      "split come from the server; options given here are checked against it.");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    ParticipantOptions p;
    FederatedDataOptions data;  // checked against the server's when given
    std::string metrics;
    int eval_batch = 16;
    CLI::Option *task = nullptr, *partition = nullptr, *clients = nullptr, *train_n = nullptr, *dev_n = nullptr,
                *max_length = nullptr, *min_per_client = nullptr;
  };
  auto a = std::make_shared<Args>();
  a->data.eval_n = 0;
  cmd->add_option("--server", a->p.server, "Coordinator address, host:port")->required();
  AddModelOption(cmd, o.get());
  AddTokenizerOption(cmd, o.get());
  cmd->add_option("--client-id", a->p.client_id, "This client's id (0..N-1): its data shard")->required()->check(InRange(0, 65535));
  AddShared(cmd, shared::kData, a->data.data_dir);
  a->task = AddShared(cmd, shared::kTask, a->data.task, "checked against the server's");
  a->clients = AddShared(cmd, shared::kClients, a->data.clients, "checked");
  a->partition = AddShared(cmd, shared::kPartition, a->data.partition, "checked");
  a->train_n = AddShared(cmd, shared::kTrainN, a->data.train_n, "checked");
  a->dev_n = AddShared(cmd, shared::kDevN, a->data.dev_n, "checked");
  a->max_length = AddShared(cmd, shared::kMaxLength, a->data.max_length, "checked");
  a->min_per_client = AddShared(cmd, shared::kMinPerClient, a->data.min_per_client, "checked");
  AddShared(cmd, shared::kEvalN, a->data.eval_n, "of the final model");
  AddShared(cmd, shared::kEvalBatch, a->eval_batch);
  cmd->add_option("--token", a->p.token, "Bearer token for the server's --tokens");
  cmd->add_option("--ca", a->p.ca_path, "TLS: trust this CA certificate (PEM); without it the channel is plaintext");
  cmd->add_option("--connect-timeout", a->p.connect_timeout_s,
                  "Give up after the server was unreachable this many seconds")
      ->capture_default_str()->check(Seconds());
  AddShared(cmd, shared::kMetrics, a->metrics, "this client's events");
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  AddJsonOption(cmd, o.get());
  return [o, a]() -> int {
    ParticipantOptions popts = a->p;
    auto backend = ParseBackendKind(o->backend);
    if (!backend.ok()) return Fail("client", backend.status());
    popts.backend = *backend;
    std::unique_ptr<std::ofstream> metrics;
    if (!a->metrics.empty()) {
      metrics = std::make_unique<std::ofstream>(a->metrics, std::ios::app);
      if (!*metrics) return Fail("client", IoError("{}: cannot open for writing", a->metrics));
      popts.on_metrics = [&metrics](const std::string& line) { *metrics << line << "\n" << std::flush; };
    }
    auto session = ParticipantSession::Connect(popts);
    if (!session.ok()) return Fail("client", session.status());
    const RunSpec& run = (*session)->run();
    const FederatedDataOptions& d = a->data;
    for (Status s : {Agree(a->task, "--task", d.task, run.data.task),
                     Agree(a->clients, "--clients", d.clients, run.data.clients),
                     Agree(a->partition, "--partition", d.partition, run.data.partition),
                     Agree(a->train_n, "--train-n", d.train_n, run.data.train_n),
                     Agree(a->dev_n, "--dev-n", d.dev_n, run.data.dev_n),
                     Agree(a->max_length, "--max-length", d.max_length, run.data.max_length),
                     Agree(a->min_per_client, "--min-per-client", d.min_per_client, run.data.min_per_client)})
      if (!s.ok()) return Fail("client", s);

    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("client", weights.status());
    auto tok = LoadTokenizerForModel(o->model, weights->config(), o->tokenizer);
    if (!tok.ok()) return Fail("client", tok.status());
    // Exactly the shards `simulate` derives from the same options.
    FederatedDataOptions dopts = run.data;
    dopts.data_dir = d.data_dir;
    dopts.eval_n = d.eval_n;
    if (a->task->count() == 0) {  // named by the server: only files under this client's data root
      auto confined = ConfineTaskToDataRoot(run.data.task, d.data_dir);
      if (!confined.ok()) return Fail("client", confined.status());
      dopts.task = *confined;
    }
    auto fdata = LoadFederatedData(dopts, **tok, weights->config());
    if (!fdata.ok()) return Fail("client", fdata.status());
    if (!run.tokens_digest.empty() && run.tokens_digest != fdata->tokens_digest)
      return Fail("client", FailedPrecondition("this client encodes the run's data to other tokens than the server's "
                                               "--tokenizer (tokens digest {} here, {} in the run): use the run's "
                                               "tokenizer (-t), or a --max-length within this model's context",
                                               fdata->tokens_digest, run.tokens_digest));
    const auto& shard = fdata->shards[static_cast<size_t>(popts.client_id)];
    std::fprintf(stderr, "client %d: %s run, %lld rounds, shard of %zu examples of %s\n", popts.client_id,
                 FedAlgorithmName(run.fed.algo), static_cast<long long>(run.rounds), shard.size(), run.data.task.c_str());

    ThreadingContext ctx(o->threads);
    auto result = (*session)->Run(&*weights, shard, fdata->objective, ctx);
    if (!result.ok()) return Fail("client", result.status());
    nlohmann::ordered_json out = {{"client", popts.client_id},       {"round", result->rounds_applied},
                                  {"fingerprint", result->fingerprint}, {"trained", result->rounds_trained},
                                  {"late", result->late_replies},       {"reconnects", result->reconnects}};
    if (!fdata->eval.empty()) {
      auto model = MakeBackend(popts.backend, *weights, ctx);
      if (!model.ok()) return Fail("client", model.status());
      auto eval = EvaluateDataset(**model, fdata->eval, fdata->objective, a->eval_batch);
      if (!eval.ok()) return Fail("client", eval.status());
      out["eval_accuracy"] = eval->accuracy;
      out["eval_loss"] = eval->mean_loss;
      // Printed without --json too (it was computed and not shown).
      if (fdata->objective == Objective::kLanguageModel)
        std::fprintf(stderr, "client %d: final model on %zu evaluation examples: loss %.4f\n", popts.client_id,
                     fdata->eval.size(), eval->mean_loss);
      else
        std::fprintf(stderr, "client %d: final model on %zu evaluation examples: accuracy %.2f%%, loss %.4f\n",
                     popts.client_id, fdata->eval.size(), 100.0 * eval->accuracy, eval->mean_loss);
    }
    if (o->json) std::printf("%s\n", out.dump().c_str());
    std::fprintf(stderr, "client %d: done after round %lld (trained %lld rounds); fingerprint %s\n", popts.client_id,
                 static_cast<long long>(result->rounds_applied), static_cast<long long>(result->rounds_trained),
                 result->fingerprint.c_str());
    return 0;
  };
}

}  // namespace seedtune::cli
