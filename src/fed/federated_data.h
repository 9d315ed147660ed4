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
#include "model/config.h"
#include "tokenizer/tokenizer.h"

namespace seedtune {

struct FederatedDataOptions {
  std::string task = "sst2";
  std::string data_dir;                  // empty: data/ under the asset roots
  std::string partition = "dirichlet:0.5";  // iid | dirichlet:ALPHA (over labels)
  int clients = 5;
  int train_n = 1000, dev_n = 500, eval_n = 1000;
  int max_length = 512;
  int min_per_client = 10;               // Dirichlet
  uint64_t seed = 0;                     // run seed: drives sampling and partition
};

struct FederatedData {
  std::vector<std::vector<EncodedExample>> shards;  // per client
  std::vector<EncodedExample> dev, eval;
  Objective objective = Objective::kCandidateClassification;
  std::string task_name;
};

StatusOr<FederatedData> LoadFederatedData(const FederatedDataOptions& options, const Tokenizer& tokenizer,
                                          const ModelConfig& config);

// How many training examples each client's shard holds, derived from the same
// (task, partition, clients, seed) without a tokenizer or model: what a
// coordinator checks the clients' reported counts against.
StatusOr<std::vector<int64_t>> FederatedShardSizes(const FederatedDataOptions& options);

}  // namespace seedtune
