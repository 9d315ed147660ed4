// seedtune server: the coordinator of a networked federated run (docs/network.md).
#include <fmt/ranges.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>

#include "cli/common.h"
#include "cli/shared_options.h"
#include "fed/algorithms/strategies.h"
#include "net/coordinator.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

CommandRunner RegisterServer(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "server",
      "Coordinate a federated run over the network (--algo: the networked algorithms): plan rounds, "
      "aggregate the clients' replies, record every round in the ledger and publish it. Holds no model weights. "
      "Clients run `seedtune client`; the same options as `simulate` give the same model.");
  struct Args {
    std::string algo = "feedsign", dist = "gauss", rule = "mean", metrics, tokens, port_file, tokenizer;
    bool json = false;
    CoordinatorOptions co;
    AlgorithmFlags algo_flags;
  };
  auto a = std::make_shared<Args>();
  CoordinatorOptions& co = a->co;
  RunSpec& run = co.run;
  run.rounds = 100;  // simulate's default
  co.listen = "0.0.0.0:50051";
  cmd->add_option("--algo", a->algo, AlgorithmChoices(/*networked_only=*/true))->capture_default_str();
  cmd->add_option("--listen", co.listen, "Address to serve on, host:port (port 0: any free port, see --port-file)")
      ->capture_default_str();
  cmd->add_option("--ledger", co.ledger_path, "Seed ledger: the run's write-ahead log (resumed when it exists)")
      ->required();
  AddShared(cmd, shared::kClients, run.data.clients);
  AddShared(cmd, shared::kRounds, run.rounds);
  AddShared(cmd, shared::kBatch, run.fed.batch_size, "per client");
  AddShared(cmd, shared::kLr, run.fed.lr);
  AddShared(cmd, shared::kEps, run.fed.eps);
  AddShared(cmd, shared::kMaxScalar, run.fed.max_abs_scalar);
  AddShared(cmd, shared::kSeed, run.fed.seed);
  AddShared(cmd, shared::kDist, a->dist);
  AddShared(cmd, shared::kAggregate, a->rule);
  AddAlgorithmFlags(cmd, &a->algo_flags, /*networked_only=*/true);
  AddShared(cmd, shared::kTask, run.data.task, "every client trains on it");
  AddShared(cmd, shared::kData, run.data.data_dir, "to derive each client's shard size");
  AddShared(cmd, shared::kTemplate, run.data.user.prompt_template, "sent to the clients");
  AddShared(cmd, shared::kLabelWords, run.data.user.label_words, "sent to the clients");
  AddShared(cmd, shared::kPartition, run.data.partition);
  AddShared(cmd, shared::kTrainN, run.data.train_n, "spread over the clients");
  AddShared(cmd, shared::kDevN, run.data.dev_n);
  AddShared(cmd, shared::kMaxLength, run.data.max_length);
  AddShared(cmd, shared::kMinPerClient, run.data.min_per_client);
  cmd->add_option("--tokenizer", a->tokenizer,
                  "Tokenizer the clients must encode the data with (file or directory, as -t elsewhere): the server "
                  "records the digest of every shard's tokens in the ledger and the run config, and a client whose "
                  "encoding differs is refused; default: not pinned");
  cmd->add_option("--base-fingerprint", run.base_fingerprint,
                  "Fingerprint of the base model (seedtune info --json); default: the first client's");
  cmd->add_option("--quorum", co.quorum, "Replies that close a round at its deadline")->capture_default_str()->check(AtLeast(1));
  cmd->add_option("--min-clients", co.min_clients,
                  "Alive clients that open a round at once (0: all); with fewer, a round opens after --round-timeout "
                  "with at least --quorum")
      ->capture_default_str()
      ->check(AtLeast(0));
  cmd->add_option("--round-timeout", co.round_timeout_s, "Seconds a round waits for its replies")->capture_default_str()->check(Seconds());
  cmd->add_option("--heartbeat-timeout", co.heartbeat_timeout_s, "Seconds of silence after which a client is gone")
      ->capture_default_str()->check(Seconds());
  cmd->add_option("--heartbeat-interval", run.heartbeat_interval_s, "Seconds between a client's heartbeats")
      ->capture_default_str()->check(Seconds());
  cmd->add_option("--finish-timeout", co.finish_timeout_s,
                  "After the last round: seconds to wait for the clients' final fingerprints")
      ->capture_default_str()->check(Seconds());
  cmd->add_option("--handshake-timeout", co.limits.handshake_timeout_s,
                  "Close a connection that has not finished its handshake within this many seconds")
      ->capture_default_str()
      ->check(Seconds());
  cmd->add_option("--idle-timeout", co.limits.idle_timeout_s, "Close a connection with no call for this many seconds")
      ->capture_default_str()
      ->check(Seconds());
  cmd->add_option("--tokens", a->tokens, "Bearer tokens, one \"client-id token\" per line (default: no authentication)");
  cmd->add_option("--tls-cert", co.tls_cert_path, "TLS certificate chain (PEM)");
  cmd->add_option("--tls-key", co.tls_key_path, "TLS private key (PEM)");
  AddShared(cmd, shared::kMetrics, a->metrics, "per round, and the summary");
  cmd->add_option("--port-file", a->port_file, "Write the port actually bound to this file");
  cmd->add_flag("--json", a->json, "Print the summary as JSON on stdout");
  return [a]() -> int {
    CoordinatorOptions co = a->co;
    // The algorithms a coordinator does not run, and where they run.
    const std::string networked = NetworkedAlgorithmNames();
    if (a->algo == "onebyte")
      return Fail("server", InvalidArgument("Just One Byte has no coordinator: every machine runs `seedtune peer` "
                                            "(see seedtune peer --help); a server runs {}",
                                            networked));
    if (a->algo == "mezo")
      return Fail("server", InvalidArgument("mezo is centralized: run it with `seedtune train`; a server runs {}",
                                            networked));
    auto algo = ParseFedAlgorithm(a->algo);
    if (!algo.ok())
      return Fail("server", InvalidArgument("unknown algorithm '{}': a server runs {} (Just One Byte: seedtune peer)",
                                            a->algo, networked));
    co.run.fed.algo = *algo;
    if (Status st = ApplyAlgorithmFlags(a->algo_flags, &co.run.fed); !st.ok()) return FailUsage("server", st);
    co.run.fed.dist = a->dist == "gauss" ? ZDistribution::kGaussian : ZDistribution::kRademacher;
    auto rule = ParseScalarRule(a->rule);
    if (!rule.ok()) return Fail("server", rule.status());
    co.run.fed.rule = rule->rule;
    co.run.fed.trim_fraction = rule->trim_fraction;
    co.run.aggregate = a->rule;
    co.run.data.seed = co.run.fed.seed;
    if (!a->tokenizer.empty()) {
      // The shards as the clients encode them; no model here, so no
      // truncation to a model's context beyond --max-length.
      auto tok = LoadTokenizerForModel("", ModelConfig{}, a->tokenizer);
      if (!tok.ok()) return Fail("server", tok.status());
      FederatedDataOptions dopts = co.run.data;
      dopts.eval_n = 0;
      auto fdata = LoadFederatedData(dopts, **tok, ModelConfig{});
      if (!fdata.ok()) return Fail("server", fdata.status());
      co.run.tokens_digest = fdata->tokens_digest;
    }
    if (!a->tokens.empty()) {
      auto tokens = ReadClientTokens(a->tokens, co.run.clients());
      if (!tokens.ok()) return Fail("server", tokens.status());
      co.tokens = std::move(*tokens);
    }
    std::unique_ptr<std::ofstream> metrics;
    if (!a->metrics.empty()) {
      metrics = std::make_unique<std::ofstream>(a->metrics, std::ios::app);
      if (!*metrics) return Fail("server", IoError("{}: cannot open for writing", a->metrics));
    }
    auto mu = std::make_shared<std::mutex>();
    co.on_metrics = [&metrics, mu](const std::string& line) {
      std::lock_guard<std::mutex> lock(*mu);
      if (metrics) *metrics << line << "\n" << std::flush;
    };
    const int64_t rounds = co.run.rounds;
    auto server = CoordinatorServer::Start(std::move(co));
    if (!server.ok()) return Fail("server", server.status());
    if (!a->port_file.empty()) {
      // Written then renamed, so a reader never sees a partial number.
      const std::string tmp = a->port_file + ".tmp";
      std::ofstream(tmp) << (*server)->port() << "\n";
      if (std::rename(tmp.c_str(), a->port_file.c_str()) != 0)
        return Fail("server", IoError("{}: cannot write", a->port_file));
    }
    auto summary = (*server)->Wait();
    if (!summary.ok()) return Fail("server", summary.status());
    if (a->json) std::printf("%s\n", summary->metrics_json.c_str());
    std::fprintf(stderr,
                 "server: %lld rounds; %lld replies, %lld late, %lld refused, %lld re-planned; payload %llu / %llu "
                 "bits up / down, wire %llu / %llu bytes; final fingerprint %s\n",
                 static_cast<long long>(summary->rounds_completed), static_cast<long long>(summary->replies),
                 static_cast<long long>(summary->late), static_cast<long long>(summary->rejects),
                 static_cast<long long>(summary->reopened),
                 static_cast<unsigned long long>(summary->payload_up_bits),
                 static_cast<unsigned long long>(summary->payload_down_bits),
                 static_cast<unsigned long long>(summary->wire_up_bytes),
                 static_cast<unsigned long long>(summary->wire_down_bytes),
                 !summary->final_fingerprint.empty() ? summary->final_fingerprint.c_str()
                 : summary->first_round > rounds     ? "(the run was already complete: see above)"
                                                     : "(not reported)");
    for (const auto& [k, why] : summary->quarantined)
      std::fprintf(stderr, "server: client %d quarantined: %s\n", k, why.c_str());
    if (!summary->unresolved_rounds.empty())
      return Fail("server", DataLoss("the clients' fingerprints disagree with no majority after round(s) {} (see the "
                                     "log): the run cannot tell which copy is right",
                                     fmt::join(summary->unresolved_rounds, ",")));
    if (summary->rounds_completed < rounds)
      return Fail("server", FailedPrecondition("stopped after {} of {} rounds", summary->rounds_completed, rounds));
    return 0;
  };
}

}  // namespace seedtune::cli
