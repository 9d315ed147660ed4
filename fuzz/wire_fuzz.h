// The input format of fuzz/wire_fuzz.cc, shared with the seed writer
// (fuzz/make_seeds.cc): byte 0 picks the decoder (Kind), byte 1 the run the
// message is decoded against (Context), and the rest is the message: a
// serialized protobuf, or the raw bytes of a payload decoder.
#pragma once

#include <cstdint>
#include <string>

#include "fed/algorithms/decomfl.h"
#include "fed/algorithms/fedkseed.h"
#include "net/run_spec.h"

namespace seedtune::fuzz {

enum class WireKind : uint8_t {
  kRunConfig = 0,       // wire::RunConfig -> FromWire
  kRoundPlan = 1,       // wire::RoundPlan -> FromWire(plan, spec)
  kSubmitReply = 2,     // wire::SubmitReplyRequest -> FromWire(request, spec.fed)
  kRoundRecord = 3,     // wire::RoundRecord -> FromWire(record, candidates)
  kFetchUpdates = 4,    // wire::FetchUpdatesResponse: each record, as a client applies them
  kUnpackUpdates = 5,   // raw -> UnpackUpdates
  kSeedScalars = 6,     // raw -> DecodeSeedScalars(bytes, K)
  kRoundDeltas = 7,     // raw -> DecodeRoundDeltas(bytes, K)
  kPeerRunConfig = 8,   // pwire::PeerRunConfig -> FromWire
  kPeerHistory = 9,     // pwire::GetHistoryResponse: CheckPeerBytes + PeerMembership::Advance per entry
  kCount = 10,
};

// The run a message is checked against: one of the networked algorithms,
// with K and tau (DeComFL: K and P) small enough for the fuzzer to hit every
// index.
inline RunSpec WireContext(uint8_t v) {
  RunSpec s;
  static const FedAlgorithm kAlgos[] = {FedAlgorithm::kFeedSign, FedAlgorithm::kZoFedSgd, FedAlgorithm::kFedKSeed,
                                        FedAlgorithm::kFedKSeedPro, kDeComFl};
  s.fed.algo = kAlgos[v % 5];
  if (IsFedKSeed(s.fed.algo))
    s.fed.params = {{kFedKSeedNumSeeds, 1 + (v / 5) % 16}, {kFedKSeedLocalSteps, 1 + (v / 80) % 4},
                    {kFedKSeedClientFraction, 0.5}};
  if (s.fed.algo == kDeComFl)
    s.fed.params = {{kDeComFlPerturbations, 1 + (v / 5) % 4}, {kDeComFlSteps, 1 + (v / 20) % 3},
                    {kDeComFlSampledClients, 3}};
  s.fed.seed = 42 + v;
  s.fed.batch_size = 2;
  s.data.clients = 6;
  s.data.task = "sst2";
  s.data.partition = "iid";
  s.data.seed = s.fed.seed;
  s.rounds = 20;
  s.base_fingerprint = "0123456789abcdef";
  return s;
}

// Peer runs: `clients` peer ids, `samples` bytes per member per iteration.
inline constexpr int kPeerClients = 8;
inline constexpr int kPeerSamples = 3;

inline std::string WireInput(WireKind kind, uint8_t context, const std::string& message) {
  std::string s;
  s.push_back(static_cast<char>(kind));
  s.push_back(static_cast<char>(context));
  return s + message;
}

}  // namespace seedtune::fuzz
