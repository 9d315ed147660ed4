// The coordinator's side of a federated run (a Flower-style strategy): which
// clients train in a round and with which seeds (ConfigureRound), and how
// their replies become the round's ordered update list (Aggregate). The
// client's side is ClientTrainer (fed/client_trainer.h). Both meet only
// through the plain structs below, which the in-memory simulation passes by
// value and the network transport serializes (docs/federated.md), so
// simulation and deployment run the same code and reach the same fingerprint.
//
// Everything a round needs is derived from (run seed, round, client id):
// sampling, seeds, minibatches, Byzantine draws. The only state that carries
// over between rounds is FedKSeed-Pro's gradient history, which the ledger
// keeps as each round's `aux` bytes (AggregatedRound::aux, Strategy::Restore).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "fed/aggregate.h"
#include "zo/update.h"

namespace seedtune {

// An algorithm, by its registered name (fed/algorithms/strategies.cc lists
// every one). A value, not an enum, so that an algorithm added in its own
// files needs no line here; the built-in ones are named below for the code
// that treats them specially (wire encodings, the DP variant, ...).
class FedAlgorithm {
 public:
  static const FedAlgorithm kMezo, kFeedSign, kZoFedSgd, kFedKSeed, kFedKSeedPro;
  // `name` must be a string with static storage (a literal).
  constexpr explicit FedAlgorithm(const char* name) : name_(name) {}
  constexpr const char* name() const { return name_; }
  friend constexpr bool operator==(FedAlgorithm a, FedAlgorithm b) {
    return std::string_view(a.name_) == std::string_view(b.name_);
  }

 private:
  const char* name_;
};
inline constexpr FedAlgorithm FedAlgorithm::kMezo{"mezo"};
inline constexpr FedAlgorithm FedAlgorithm::kFeedSign{"feedsign"};
inline constexpr FedAlgorithm FedAlgorithm::kZoFedSgd{"zo-fedsgd"};
inline constexpr FedAlgorithm FedAlgorithm::kFedKSeed{"fedkseed"};
inline constexpr FedAlgorithm FedAlgorithm::kFedKSeedPro{"fedkseed-pro"};

// A registered algorithm by name; InvalidArgument listing every registered name.
StatusOr<FedAlgorithm> ParseFedAlgorithm(const std::string& name);
inline const char* FedAlgorithmName(FedAlgorithm algo) { return algo.name(); }
inline bool IsFedKSeed(FedAlgorithm a) { return a == FedAlgorithm::kFedKSeed || a == FedAlgorithm::kFedKSeedPro; }

// One hyperparameter of one algorithm, declared in that algorithm's option
// table (its StrategyRegistration). The table alone makes the CLI flag
// `--<name>` of every command that runs the algorithm (and so its TOML key),
// the ledger header's hyperparameter and the wire's RunConfig.params entry.
struct AlgorithmOption {
  const char* name;       // flag without "--", e.g. "perturbations"
  const char* help;
  double default_value;
  double min, max;        // inclusive (min exclusive when min_exclusive)
  bool integer;
  bool min_exclusive = false;

  // Whether `x` is a value of this option (finite, in range, integral if integer).
  bool Admits(double x) const;
  // What Admits takes, e.g. "an integer in [1, 65536]" or "a number in (0, 1]".
  std::string RangeText() const;
};

// Hyperparameters every participant of a run agrees on.
// An honest |g| = |L+ - L-| / (2 eps) stays far below this unless the run
// diverges (a loss difference of 20 nats at eps = 1e-3 gives 1e4).
inline constexpr double kDefaultMaxAbsScalar = 1e4;

struct FedOptions {
  FedAlgorithm algo = FedAlgorithm::kFeedSign;
  int batch_size = 16;   // per client per step (FedKSeed: 1, as the paper)
  float lr = 1e-6f;      // FeedSign: the step size eta of theta -= eta * vote * z
  float eps = 1e-3f;
  uint64_t seed = 0;     // run seed
  ZDistribution dist = ZDistribution::kGaussian;
  ByzantineConfig byzantine;  // client behaviour (experiments)
  // FeedSign's DP variant: each client reports its sign through randomized
  // response, flipping it with probability 1 / (1 + e^dp_epsilon), which makes
  // every reported bit dp_epsilon-locally differentially private (T steps
  // compose to T * dp_epsilon). 0: off.
  double dp_epsilon = 0.0;
  ScalarRule rule = ScalarRule::kMean;
  double trim_fraction = 0.2;
  // A reply's projected gradients (ZO-FedSGD's scalar, FedKSeed's pairs) must
  // be finite with |g| <= this; larger ones are refused, so one client cannot
  // overflow the aggregate. Part of the run config.
  double max_abs_scalar = kDefaultMaxAbsScalar;
  // The hyperparameters of the algorithm's own option table (AlgorithmOption),
  // by name. Strategy::Create and ClientTrainer fill absent ones with their
  // defaults; a name the algorithm does not declare is refused.
  std::map<std::string, double> params;
};

// The option table of `algo` (empty if it declares none, or is unknown).
std::span<const AlgorithmOption> AlgorithmOptions(FedAlgorithm algo);
// `o` with every option of its algorithm's table present (defaults added).
FedOptions WithDefaultParams(FedOptions o);
// The value of the algorithm option `name` (its default when absent).
double AlgorithmParam(const FedOptions& o, const char* name);

// FeedSign DP: the probability that randomized response flips a sign.
double RandomizedResponseFlipProbability(double epsilon);
// `sign` (+1 / -1) through randomized response, drawn from `draw_seed`.
int RandomizedResponse(int sign, double epsilon, uint64_t draw_seed);

// Checks the options a strategy and its clients rely on.
Status ValidateFedOptions(const FedOptions& o);

// Algorithm payload per client and round (what the papers count), in bits.
struct Traffic {
  uint64_t up_bits = 0;    // per participating client
  uint64_t down_bits = 0;  // per client that receives the round's broadcast
};

// Coordinator -> the round's participants.
struct RoundPlan {
  int64_t round = 0;                     // 1-based
  std::vector<int> participants;         // client ids that train, ascending
  uint64_t step_seed = 0;                // MeZO / FeedSign: the shared direction's seed
  std::vector<float> seed_probabilities; // FedKSeed-Pro: K probabilities (empty: uniform)
};

// A participant -> coordinator.
struct ClientReply {
  int client = -1;
  int64_t round = 0;
  double loss = 0.0;   // mean L(theta + eps z) over the client's batch(es); reporting only
  int sign = 0;        // FeedSign: +1 / -1
  double scalar = 0.0; // MeZO: g; ZO-FedSGD: g rounded to f32 (what travels)
  std::vector<std::pair<uint16_t, float>> pairs;  // FedKSeed: (seed index, g) per local step, in order
  // A list of f32 projected gradients, for algorithms whose reply is one
  // (DeComFL: P per local step); its meaning and length are the algorithm's.
  std::vector<float> scalars;
};

// Coordinator -> every client: the round's outcome.
struct AggregatedRound {
  int64_t round = 0;
  std::vector<ZUpdate> updates;     // apply in this order
  std::vector<int> contributors;    // clients whose replies were aggregated, ascending
  std::vector<double> client_values;  // per contributor: sign, scalar, or pairs used
  int vote = 0;                     // FeedSign
  std::string broadcast;            // FedKSeed: the encoded round deltas (what travels)
  Traffic traffic;
  std::string aux;                  // FedKSeed-Pro: the round's uploads, for the ledger
};

// The K candidate seeds of a FedKSeed run (fixed for the run).
std::vector<uint64_t> FedKSeedCandidates(uint64_t run_seed, int k);
// Seed of client `client`'s own direction in ZO-FedSGD round `round`.
uint64_t ZoFedSgdSeed(uint64_t run_seed, int64_t round, int client);

// The coordinator's side of one algorithm. Each algorithm is its own class
// (fed/algorithms/), registered in fed/algorithms/strategies.cc; Create picks
// it by FedOptions::algo.
class Strategy {
 public:
  virtual ~Strategy() = default;
  // client_examples[k]: client k's number of training examples (FedKSeed
  // weights replies by data share).
  static StatusOr<std::unique_ptr<Strategy>> Create(const FedOptions& options, std::vector<int64_t> client_examples);

  const FedOptions& options() const { return o_; }
  int num_clients() const { return static_cast<int>(examples_.size()); }
  // FedKSeed's K candidate seeds (empty for the others).
  virtual const std::vector<uint64_t>& candidates() const;

  // The plan of round `round` over the clients currently `available`
  // (ascending ids). FedKSeed samples max(1, floor(fraction * n)) of them by a
  // seeded permutation; the other algorithms ask every available client.
  virtual RoundPlan ConfigureRound(int64_t round, std::span<const int> available) const = 0;

  // Checks one reply against its plan (round, participant, sizes, indices in
  // range, finite values). InvalidArgument naming the client and the field.
  Status ValidateReply(const RoundPlan& plan, const ClientReply& reply) const;

  // The round's update list from the replies that arrived (any non-empty
  // subset of the participants, any order; aggregated in client-id order).
  // Updates Pro's history.
  StatusOr<AggregatedRound> Aggregate(const RoundPlan& plan, std::vector<ClientReply> replies);

  // Folds a recorded round's aux bytes back into the state (resume). The
  // default keeps no state and refuses aux bytes.
  virtual Status Restore(const std::string& aux);

  // Whether a valid reply's loss is a measurement (FedKSeed: not when every
  // local step was skipped); only those enter the round's mean loss.
  virtual bool ReplyHasLoss(const ClientReply& reply) const;

 protected:
  Strategy(const FedOptions& o, std::vector<int64_t> examples) : o_(o), examples_(std::move(examples)) {}
  // What the algorithm's reply must hold (after the common checks).
  virtual Status CheckReply(const ClientReply& reply) const = 0;
  // The round's updates, vote, broadcast, traffic and aux from replies that
  // passed ValidateReply, in client-id order; `out` holds round and
  // contributors.
  virtual Status AggregateReplies(const RoundPlan& plan, const std::vector<ClientReply>& replies,
                                  AggregatedRound* out) = 0;
  // The plan of the algorithms where every available client evaluates the
  // round's shared direction StepSeed(run, round) (MeZO, FeedSign; ZO-FedSGD
  // carries it too).
  RoundPlan PlanEveryAvailableClient(int64_t round, std::span<const int> available) const;
  // The plan over the first min(m, n) of SeededPermutation(n, sample_seed) of
  // the n available clients, ascending (FedKSeed, DeComFL).
  RoundPlan PlanSampledClients(int64_t round, std::span<const int> available, int m, uint64_t sample_seed) const;
  // A reply's scalar g: finite and within the run's bound (MeZO, ZO-FedSGD).
  Status CheckReplyScalar(const ClientReply& reply) const;
  // The shards must suit the algorithm; by default each holds a batch (the
  // algorithms that draw one per step from every client's shard).
  virtual Status CheckShards() const;
  // Whether the algorithm's reply is ClientReply::scalars (any other
  // algorithm's reply carrying one is refused before CheckReply).
  virtual bool TakesScalarList() const;

  FedOptions o_;
  std::vector<int64_t> examples_;
};

// FedKSeed-Pro's seed probabilities from the history sums:
// a_j = abs_sum_j / count_j, p = softmax((a - min) / (max - min + 1e-10)).
std::vector<float> ProProbabilities(std::span<const double> abs_sum, std::span<const int64_t> count);

}  // namespace seedtune
