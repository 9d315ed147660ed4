// Splitting a training set over federated clients, seeded and portable
// (PortableRng; the Dirichlet draws use Marsaglia-Tsang gamma variates).
// Every function returns, per client, the example indices it holds; together
// they cover every input index exactly once.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace seedtune {

using ClientShards = std::vector<std::vector<int64_t>>;

// A seeded shuffle dealt round-robin: sizes differ by at most one.
StatusOr<ClientShards> PartitionIid(int64_t num_examples, int num_clients, uint64_t seed);

// Label-Dirichlet (the partition FedKSeed and FeedSign use): for each class,
// proportions ~ Dir(alpha) over the clients (a client that already holds its
// fair share N / num_clients gets none of the next class), the class's
// shuffled examples are cut at those proportions; redrawn until every client
// holds at least min_per_client examples. labels[i] in [0, num_classes).
StatusOr<ClientShards> PartitionDirichlet(const std::vector<int>& labels, int num_classes, int num_clients,
                                          double alpha, int min_per_client, uint64_t seed);

// One group per client (e.g. one Natural Instructions task per client):
// group_of[i] in [0, num_groups), client c gets the examples of group c.
StatusOr<ClientShards> PartitionByGroup(const std::vector<int64_t>& group_of, int num_groups);

// A gamma(shape, 1) variate from `rng` (exposed for tests).
class PortableRng;
double SampleGamma(PortableRng& rng, double shape);

}  // namespace seedtune
