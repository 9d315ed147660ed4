// seedtune peer: Just One Byte over the network, no coordinator (docs/network.md, "Peers").
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>

#include "backend/backend.h"
#include "cli/common.h"
#include "cli/shared_options.h"
#include "data/task.h"
#include "core/threading.h"
#include "fed/federated_data.h"
#include "net/peer.h"
#include "runtime/model_source.h"
#include "zo/fingerprint.h"

namespace seedtune::cli {

namespace {

// A joiner's own run options, when given, must agree with the run it joins.
template <typename T>
Status Agree(const CLI::Option* opt, const char* name, const T& mine, const T& run) {
  if (opt == nullptr || opt->count() == 0 || mine == run) return Status::Ok();
  return FailedPrecondition("{} {} was given, but the run uses {} {}", name, fmt::to_string(mine), name,
                            fmt::to_string(run));
}

}  // namespace

CommandRunner RegisterPeer(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "peer",
      "Just One Byte without a coordinator: each peer sends one byte per projected gradient per iteration, fetches "
      "every other peer's bytes and applies them all in the same order, so every peer holds the same model. The "
      "first peer (no --bootstrap) defines the run; others join through any live peer, catch up by replaying the "
      "byte history from the base model, and may leave between iterations (--leave-after).");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    PeerOptions p;
    std::string dist = "gauss", metrics, port_file, data_dir;
    std::map<std::string, CLI::Option*> run_opts;
  };
  auto a = std::make_shared<Args>();
  PeerOptions& p = a->p;
  PeerRunSpec& run = p.run;
  run.onebyte.iterations = 30;
  run.data.eval_n = 0;
  cmd->add_option("--listen", p.listen, "Address to serve on, host:port (port 0: any free port, see --port-file)")
      ->capture_default_str();
  cmd->add_option("--advertise", p.advertise, "Address other peers reach this one at (default: --listen's host, "
                                              "0.0.0.0 as 127.0.0.1, with the bound port)");
  cmd->add_option("--id", p.id, "This peer's id (0..clients-1): its data shard and machine id")->required()->check(InRange(0, 65535));
  cmd->add_option("--bootstrap", p.bootstrap, "Join the run through this live peer (host:port); without it, found a run");
  AddModelOption(cmd, o.get());
  AddTokenizerOption(cmd, o.get());
  AddShared(cmd, shared::kData, a->data_dir);
  auto& ro = a->run_opts;
  ro["--task"] = AddShared(cmd, shared::kTask, run.data.task, "founder; checked when a joiner gives it");
  ro["--template"] = AddShared(cmd, shared::kTemplate, run.data.user.prompt_template, "founder");
  ro["--label-words"] = AddShared(cmd, shared::kLabelWords, run.data.user.label_words, "founder");
  ro["--clients"] = AddShared(cmd, shared::kClients, run.data.clients, "= shards = peer ids");
  ro["--partition"] = AddShared(cmd, shared::kPartition, run.data.partition);
  ro["--train-n"] = AddShared(cmd, shared::kTrainN, run.data.train_n);
  ro["--dev-n"] = AddShared(cmd, shared::kDevN, run.data.dev_n);
  ro["--max-length"] = AddShared(cmd, shared::kMaxLength, run.data.max_length);
  ro["--min-per-client"] = AddShared(cmd, shared::kMinPerClient, run.data.min_per_client);
  ro["--iterations"] = cmd->add_option("--iterations", run.onebyte.iterations, "Iterations of the run")->capture_default_str()->check(AtLeast(1));
  ro["--samples"] = cmd->add_option("--samples", run.onebyte.samples, "Bytes (projected gradients) per peer per iteration")->capture_default_str()->check(InRange(1, 1 << 20));
  ro["--batch"] = AddShared(cmd, shared::kBatch, run.onebyte.batch_size, "per peer per iteration");
  ro["--lr"] = AddShared(cmd, shared::kLr, run.onebyte.lr);
  ro["--eps"] = AddShared(cmd, shared::kEps, run.onebyte.eps);
  ro["--seed"] = AddShared(cmd, shared::kSeed, run.onebyte.seed);
  AddShared(cmd, shared::kDist, a->dist);
  cmd->add_option("--leave-after", p.leave_after, "Leave after this iteration (0: stay to the end)")->capture_default_str()->check(AtLeast(0));
  cmd->add_option("--min-peers", p.min_peers, "Founder: start iteration 1 once this many peers (itself included) joined")
      ->capture_default_str()->check(InRange(1, 65536));
  cmd->add_option("--peer-timeout", p.peer_timeout_s, "Seconds to wait for a member's bytes before failing")
      ->capture_default_str()->check(Seconds());
  cmd->add_option("--pace", p.min_iteration_s, "Minimum seconds per iteration (demos and tests)")->capture_default_str()->check(InRange(0, kMaxTimeoutSeconds));
  AddShared(cmd, shared::kMetrics, a->metrics, "this peer's events");
  cmd->add_option("--port-file", a->port_file, "Write the port actually bound to this file");
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  AddJsonOption(cmd, o.get());
  return [o, a]() -> int {
    PeerOptions popts = a->p;
    auto backend = ParseBackendKind(o->backend);
    if (!backend.ok()) return Fail("peer", backend.status());
    popts.backend = *backend;
    popts.run.onebyte.dist = a->dist == "gauss" ? ZDistribution::kGaussian : ZDistribution::kRademacher;
    popts.run.data.seed = popts.run.onebyte.seed;
    std::unique_ptr<std::ofstream> metrics;
    if (!a->metrics.empty()) {
      metrics = std::make_unique<std::ofstream>(a->metrics, std::ios::app);
      if (!*metrics) return Fail("peer", IoError("{}: cannot open for writing", a->metrics));
    }
    auto mu = std::make_shared<std::mutex>();
    popts.on_metrics = [&metrics, mu](const std::string& line) {
      std::lock_guard<std::mutex> lock(*mu);
      if (metrics) *metrics << line << "\n" << std::flush;
    };
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("peer", weights.status());
    auto tok = LoadTokenizerForModel(o->model, weights->config(), o->tokenizer);
    if (!tok.ok()) return Fail("peer", tok.status());
    ThreadingContext ctx(o->threads);
    const std::string base_fp = FingerprintHex(ModelFingerprint(*weights, ctx));
    // The shard: the same split `simulate` derives from the same options. A
    // joiner loads it before it joins (check_run), so that a peer that cannot
    // take part is never announced to the others.
    std::optional<FederatedData> fdata;
    auto load = [&](const PeerRunSpec& run) -> Status {
      FederatedDataOptions dopts = run.data;
      dopts.data_dir = a->data_dir;
      dopts.eval_n = 0;
      if (!popts.bootstrap.empty() && a->run_opts["--task"]->count() == 0) {  // named by the bootstrap peer
        ASSIGN_OR_RETURN(std::string confined, ConfineTaskToDataRoot(run.data.task, a->data_dir));
        dopts.task = confined;
      }
      ASSIGN_OR_RETURN(auto d, LoadFederatedData(dopts, **tok, weights->config()));
      if (popts.id >= static_cast<int>(d.shards.size()))
        return InvalidArgument("peer id {} has no shard (the run has {})", popts.id, d.shards.size());
      fdata = std::move(d);
      return Status::Ok();
    };
    if (popts.bootstrap.empty()) {
      if (popts.id < 0 || popts.id >= popts.run.data.clients)
        return Fail("peer", InvalidArgument("peer id {} is outside 0..{} (--clients)", popts.id, popts.run.data.clients - 1));
      Status s = load(popts.run);
      if (!s.ok()) return Fail("peer", s);
    } else {
      popts.check_run = [&](const PeerRunSpec& run) -> Status {
        const PeerRunSpec& mine = a->p.run;
        auto& ro = a->run_opts;
        for (Status s : {Agree(ro["--task"], "--task", mine.data.task, run.data.task),
                         Agree(ro["--template"], "--template", mine.data.user.prompt_template, run.data.user.prompt_template),
                         Agree(ro["--label-words"], "--label-words", mine.data.user.label_words, run.data.user.label_words),
                         Agree(ro["--clients"], "--clients", mine.data.clients, run.data.clients),
                         Agree(ro["--partition"], "--partition", mine.data.partition, run.data.partition),
                         Agree(ro["--train-n"], "--train-n", mine.data.train_n, run.data.train_n),
                         Agree(ro["--dev-n"], "--dev-n", mine.data.dev_n, run.data.dev_n),
                         Agree(ro["--max-length"], "--max-length", mine.data.max_length, run.data.max_length),
                         Agree(ro["--min-per-client"], "--min-per-client", mine.data.min_per_client,
                               run.data.min_per_client),
                         Agree(ro["--iterations"], "--iterations", mine.onebyte.iterations, run.onebyte.iterations),
                         Agree(ro["--samples"], "--samples", mine.onebyte.samples, run.onebyte.samples),
                         Agree(ro["--batch"], "--batch", mine.onebyte.batch_size, run.onebyte.batch_size),
                         Agree(ro["--lr"], "--lr", mine.onebyte.lr, run.onebyte.lr),
                         Agree(ro["--eps"], "--eps", mine.onebyte.eps, run.onebyte.eps),
                         Agree(ro["--seed"], "--seed", mine.onebyte.seed, run.onebyte.seed)})
          RETURN_IF_ERROR(s);
        return load(run);
      };
    }
    auto node = PeerNode::Start(popts, base_fp);
    if (!node.ok()) return Fail("peer", node.status());
    if (!fdata) return Fail("peer", InternalError("the data was not loaded"));
    if (!a->port_file.empty()) {
      const std::string tmp = a->port_file + ".tmp";
      std::ofstream(tmp) << (*node)->port() << "\n";
      if (std::rename(tmp.c_str(), a->port_file.c_str()) != 0)
        return Fail("peer", IoError("{}: cannot write", a->port_file));
    }
    const auto& shard = fdata->shards[static_cast<size_t>(popts.id)];
    auto result = (*node)->Run(&*weights, shard, fdata->objective, ctx);
    if (!result.ok()) return Fail("peer", result.status());
    if (o->json) std::printf("%s\n", result->summary_json.c_str());
    std::fprintf(stderr,
                 "peer %d: iterations %lld..%lld (%lld contributed, %lld replayed); per iteration: payload %.1f / %.1f "
                 "bytes up / down, wire %.1f / %.1f bytes up / down; final fingerprint %s\n",
                 popts.id, static_cast<long long>(result->join_iteration),
                 static_cast<long long>(result->last_iteration), static_cast<long long>(result->iterations),
                 static_cast<long long>(result->replayed), result->payload_up_per_iteration,
                 result->payload_down_per_iteration, result->wire_up_per_iteration, result->wire_down_per_iteration,
                 result->fingerprint.c_str());
    return 0;
  };
}

}  // namespace seedtune::cli
