#include "data/partition.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "data/task.h"

namespace seedtune {

namespace {

double Uniform01(PortableRng& rng) {  // (0, 1), 53 random bits
  return (static_cast<double>(rng.Next() >> 11) + 0.5) * 0x1.0p-53;
}

double StandardNormal(PortableRng& rng) {
  const double u1 = Uniform01(rng), u2 = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

double SampleGamma(PortableRng& rng, double shape) {
  if (shape < 1.0) {  // boost: G(a) = G(a + 1) * U^(1/a)
    const double g = SampleGamma(rng, shape + 1.0);
    return g * std::pow(Uniform01(rng), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {  // Marsaglia & Tsang (2000)
    double x, v;
    do {
      x = StandardNormal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = Uniform01(rng);
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

StatusOr<ClientShards> PartitionIid(int64_t num_examples, int num_clients, uint64_t seed) {
  if (num_clients <= 0) return InvalidArgument("partition: {} clients", num_clients);
  if (num_examples < num_clients)
    return InvalidArgument("partition: {} examples cannot give each of {} clients one", num_examples, num_clients);
  ClientShards shards(static_cast<size_t>(num_clients));
  if (num_clients == 1) {
    // One client holds the training set as it is (as `train` does), so
    // federated MeZO draws train's minibatches.
    for (int64_t i = 0; i < num_examples; ++i) shards[0].push_back(i);
    return shards;
  }
  const auto perm = SeededPermutation(num_examples, seed);
  for (int64_t i = 0; i < num_examples; ++i) shards[i % num_clients].push_back(perm[i]);
  return shards;
}

StatusOr<ClientShards> PartitionDirichlet(const std::vector<int>& labels, int num_classes, int num_clients,
                                          double alpha, int min_per_client, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (num_clients <= 0 || num_classes <= 0) return InvalidArgument("partition: {} clients, {} classes", num_clients, num_classes);
  if (!(alpha > 0.0)) return InvalidArgument("partition: Dirichlet alpha must be positive, got {}", alpha);
  if (static_cast<int64_t>(min_per_client) * num_clients > n)
    return InvalidArgument("partition: {} examples cannot give {} clients {} each", n, num_clients, min_per_client);
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes)
      return InvalidArgument("partition: label {} of example {} outside [0, {})", labels[i], i, num_classes);
    by_class[labels[i]].push_back(i);
  }
  PortableRng rng(seed);
  const double fair = static_cast<double>(n) / num_clients;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    ClientShards shards(static_cast<size_t>(num_clients));
    for (int k = 0; k < num_classes; ++k) {
      std::vector<int64_t> idx = by_class[k];
      for (int64_t i = static_cast<int64_t>(idx.size()) - 1; i > 0; --i)
        std::swap(idx[i], idx[rng.Below(static_cast<uint64_t>(i + 1))]);
      std::vector<double> p(static_cast<size_t>(num_clients));
      double sum = 0.0;
      for (int c = 0; c < num_clients; ++c) {
        p[c] = SampleGamma(rng, alpha);
        if (static_cast<double>(shards[c].size()) >= fair) p[c] = 0.0;
        sum += p[c];
      }
      if (sum <= 0.0) std::fill(p.begin(), p.end(), 1.0), sum = num_clients;
      double cum = 0.0;
      int64_t start = 0;
      for (int c = 0; c < num_clients; ++c) {
        cum += p[c] / sum;
        const int64_t end = c + 1 == num_clients ? static_cast<int64_t>(idx.size())
                                                  : static_cast<int64_t>(cum * static_cast<double>(idx.size()));
        for (int64_t i = start; i < std::max(start, end); ++i) shards[c].push_back(idx[i]);
        start = std::max(start, end);
      }
    }
    size_t smallest = shards[0].size();
    for (const auto& s : shards) smallest = std::min(smallest, s.size());
    if (static_cast<int64_t>(smallest) >= min_per_client) {
      for (auto& s : shards) std::sort(s.begin(), s.end());
      return shards;
    }
  }
  return FailedPrecondition("partition: no Dirichlet({}) draw gave all {} clients at least {} examples in 1000 tries",
                            alpha, num_clients, min_per_client);
}

StatusOr<ClientShards> PartitionByGroup(const std::vector<int64_t>& group_of, int num_groups) {
  if (num_groups <= 0) return InvalidArgument("partition: {} groups", num_groups);
  ClientShards shards(static_cast<size_t>(num_groups));
  for (int64_t i = 0; i < static_cast<int64_t>(group_of.size()); ++i) {
    if (group_of[i] < 0 || group_of[i] >= num_groups)
      return InvalidArgument("partition: group {} of example {} outside [0, {})", group_of[i], i, num_groups);
    shards[group_of[i]].push_back(i);
  }
  for (int g = 0; g < num_groups; ++g)
    if (shards[g].empty()) return InvalidArgument("partition: group {} has no examples", g);
  return shards;
}

}  // namespace seedtune
