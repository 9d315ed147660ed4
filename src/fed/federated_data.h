// The data side of a federated run: the task's examples, encoded, and the
// training set split into per-client shards exactly as every participant
// derives it from (task, partition, clients, seed). `simulate` uses every
// shard; `seedtune client --client-id k` uses shard k, so a networked run
// trains on the same examples as its simulation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/encode.h"
#include "data/objective.h"
#include "data/task.h"
#include "model/config.h"
#include "tokenizer/tokenizer.h"

namespace seedtune {

struct FederatedDataOptions {
  std::string task = "sst2";
  std::string data_dir;                  // empty: data/ under the asset roots
  // auto (dirichlet:0.5 when the task has labels, else iid) | iid |
  // dirichlet:ALPHA (over labels; refused for a task with one class)
  std::string partition = "auto";
  int clients = 5;
  int train_n = 1000, dev_n = 500, eval_n = 1000;
  int max_length = 512;
  int min_per_client = 10;               // Dirichlet
  uint64_t seed = 0;                     // run seed: drives sampling and partition
  // A user's own task: its template and label words travel to the clients
  // (the run config); its separate files are for local runs only.
  UserDataOptions user;
};

struct FederatedData {
  std::vector<std::vector<EncodedExample>> shards;  // per client
  std::vector<EncodedExample> dev, eval;
  Objective objective = Objective::kCandidateClassification;
  std::string task_name;
  std::string partition;  // the split applied (auto resolved)
  std::string data_note;  // Task::data_note: what a user's files gave
  bool loss_only = false; // Task::loss_only
  // Of the raw examples every shard and the dev set hold (DescribeFederatedShards
  // gives the same without a tokenizer): the ledger header's "data".
  std::string data_digest;
  // The same examples as encoded (every shard's tokens in client order, then
  // the dev set's): another tokenizer or truncation is another run.
  std::string tokens_digest;
};

StatusOr<FederatedData> LoadFederatedData(const FederatedDataOptions& options, const Tokenizer& tokenizer,
                                          const ModelConfig& config);

// What every shard holds, derived from the same (task, partition, clients,
// seed) without a tokenizer or model: its size (what a coordinator checks the
// clients' reported counts against) and the digest of every shard's raw
// examples and the dev set (LoadFederatedData's data_digest).
struct FederatedShardPlan {
  std::vector<int64_t> sizes;
  std::string digest;
};
StatusOr<FederatedShardPlan> DescribeFederatedShards(const FederatedDataOptions& options);

}  // namespace seedtune
