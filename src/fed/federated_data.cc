#include "fed/federated_data.h"

#include <algorithm>

#include "data/partition.h"
#include "data/task.h"

namespace seedtune {

StatusOr<FederatedData> LoadFederatedData(const FederatedDataOptions& o, const Tokenizer& tokenizer,
                                          const ModelConfig& config) {
  if (o.clients <= 0) return InvalidArgument("--clients must be positive, not {}", o.clients);
  TaskOptions topts;
  topts.train_n = o.train_n;
  topts.dev_n = o.dev_n;
  topts.eval_n = o.eval_n;
  topts.seed = o.seed;
  ASSIGN_OR_RETURN(auto task, LoadTask(o.task, o.data_dir, topts));
  const int64_t max_len = EffectiveMaxLength(o.max_length, config);
  ASSIGN_OR_RETURN(auto train, EncodeExamples(task.train, tokenizer, max_len));
  FederatedData out;
  ASSIGN_OR_RETURN(out.dev, EncodeExamples(task.dev, tokenizer, max_len));
  ASSIGN_OR_RETURN(out.eval, EncodeExamples(task.eval, tokenizer, max_len));
  out.objective = task.train_objective;
  out.task_name = o.task;
  ClientShards shards;
  if (o.partition == "iid" || o.clients == 1) {
    ASSIGN_OR_RETURN(shards, PartitionIid(static_cast<int64_t>(train.size()), o.clients, o.seed));
  } else if (o.partition.rfind("dirichlet:", 0) == 0) {
    double alpha = 0.0;
    try {
      alpha = std::stod(o.partition.substr(10));
    } catch (const std::exception&) {
      return InvalidArgument("--partition: '{}' has no number after dirichlet:", o.partition);
    }
    std::vector<int> labels;
    int classes = 1;
    for (const auto& e : train) {
      labels.push_back(e.label);
      classes = std::max(classes, e.label + 1);
    }
    ASSIGN_OR_RETURN(shards, PartitionDirichlet(labels, classes, o.clients, alpha, o.min_per_client, o.seed));
  } else {
    return InvalidArgument("--partition: '{}' is not iid or dirichlet:ALPHA", o.partition);
  }
  out.shards.resize(static_cast<size_t>(o.clients));
  for (int c = 0; c < o.clients; ++c)
    for (int64_t i : shards[static_cast<size_t>(c)]) out.shards[static_cast<size_t>(c)].push_back(train[static_cast<size_t>(i)]);
  return out;
}

}  // namespace seedtune
