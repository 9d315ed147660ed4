#include "fed/federated_data.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "data/partition.h"
#include "data/task.h"

namespace seedtune {

namespace {

TaskOptions SamplingOptions(const FederatedDataOptions& o) {
  TaskOptions t;
  t.train_n = o.train_n;
  t.dev_n = o.dev_n;
  t.eval_n = o.eval_n;
  t.seed = o.seed;
  t.user = o.user;
  return t;
}

// Splits the training examples (given by their labels) into the clients'
// shards. Depends only on the labels, so the coordinator derives the same
// shards from the raw task as the clients from the encoded one.
// `effective`: the rule applied (what auto chose).
StatusOr<ClientShards> Partition(const FederatedDataOptions& o, const std::vector<int>& labels,
                                 std::string* effective = nullptr) {
  int classes = 1;
  for (int l : labels) classes = std::max(classes, l + 1);
  // auto: over the labels when the task has them, else an even split.
  const std::string partition = o.partition != "auto" ? o.partition : classes > 1 ? "dirichlet:0.5" : "iid";
  if (effective != nullptr) *effective = o.clients == 1 ? "one client: the whole set" : partition;
  if (partition == "iid" || o.clients == 1) return PartitionIid(static_cast<int64_t>(labels.size()), o.clients, o.seed);
  if (partition.rfind("dirichlet:", 0) != 0)
    return InvalidArgument("--partition: '{}' is not auto, iid or dirichlet:ALPHA", o.partition);
  if (classes == 1)
    return InvalidArgument("--partition {}: the Dirichlet split is over labels, and {} has one class (a language-"
                           "modelling task has none): use --partition iid or auto",
                           o.partition, o.task);
  const std::string number = partition.substr(10);
  char* end = nullptr;
  const double alpha = number.empty() ? NAN : std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !(alpha > 0.0) || !std::isfinite(alpha))
    return InvalidArgument("--partition: '{}': the Dirichlet alpha must be a finite number > 0", o.partition);
  return PartitionDirichlet(labels, classes, o.clients, alpha, o.min_per_client, o.seed);
}

// Every shard's examples in client order, then the dev set: of the raw
// examples (Example) or of their tokens (EncodedExample).
template <typename E>
std::string ShardsDigest(const std::vector<E>& train, const ClientShards& shards, const std::vector<E>& dev) {
  Digest64 d;
  d.AddU64(shards.size());
  for (const auto& shard : shards) {
    d.AddU64(shard.size());
    for (int64_t i : shard) AddToDigest(train[static_cast<size_t>(i)], &d);
  }
  d.AddU64(dev.size());
  for (const auto& e : dev) AddToDigest(e, &d);
  return d.Hex();
}

}  // namespace

StatusOr<FederatedData> LoadFederatedData(const FederatedDataOptions& o, const Tokenizer& tokenizer,
                                          const ModelConfig& config) {
  if (o.clients <= 0) return InvalidArgument("--clients must be positive, not {}", o.clients);
  ASSIGN_OR_RETURN(auto task, LoadTask(o.task, o.data_dir, SamplingOptions(o)));
  const int64_t max_len = EffectiveMaxLength(o.max_length, config);
  ASSIGN_OR_RETURN(auto train, EncodeExamples(task.train, tokenizer, max_len));
  FederatedData out;
  ASSIGN_OR_RETURN(out.dev, EncodeExamples(task.dev, tokenizer, max_len));
  ASSIGN_OR_RETURN(out.eval, EncodeExamples(task.eval, tokenizer, max_len));
  out.objective = task.train_objective;
  out.data_note = task.data_note;
  out.loss_only = task.loss_only;
  out.task_name = o.task;
  std::vector<int> labels;
  for (const auto& e : train) labels.push_back(e.group >= 0 ? e.group : e.label);
  ASSIGN_OR_RETURN(ClientShards shards, Partition(o, labels, &out.partition));
  out.data_digest = ShardsDigest(task.train, shards, task.dev);
  out.tokens_digest = ShardsDigest(train, shards, out.dev);
  out.shards.resize(static_cast<size_t>(o.clients));
  for (int c = 0; c < o.clients; ++c)
    for (int64_t i : shards[static_cast<size_t>(c)]) out.shards[static_cast<size_t>(c)].push_back(train[static_cast<size_t>(i)]);
  return out;
}

StatusOr<FederatedShardPlan> DescribeFederatedShards(const FederatedDataOptions& o) {
  if (o.clients <= 0) return InvalidArgument("--clients must be positive, not {}", o.clients);
  FederatedDataOptions sampling = o;
  sampling.eval_n = 0;  // the evaluation split is each client's own choice
  ASSIGN_OR_RETURN(auto task, LoadTask(o.task, o.data_dir, SamplingOptions(sampling)));
  std::vector<int> labels;
  for (const auto& e : task.train) labels.push_back(e.group >= 0 ? e.group : e.label);
  ASSIGN_OR_RETURN(ClientShards shards, Partition(o, labels));
  FederatedShardPlan plan;
  for (const auto& shard : shards) plan.sizes.push_back(static_cast<int64_t>(shard.size()));
  plan.digest = ShardsDigest(task.train, shards, task.dev);
  return plan;
}

}  // namespace seedtune
