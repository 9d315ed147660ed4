// `seedtune peer`: Just One Byte over gRPC, with no coordinator
// (docs/network.md, "Peers (Just One Byte)"; proto/seedtune/v1/peer.proto).
//
// A PeerNode serves the Peer service and runs iterations: it computes its
// `samples` bytes for iteration t on its own shard (OneByteMachineRecords,
// the in-process engine's code), publishes them, fetches every other
// member's bytes for t (long polls), and applies all of them in canonical
// (machine, sample) order with lr / sqrt(N). Membership changes ride on the
// bytes (net/peer_wire.h). A joiner holding the base model replays the
// history it fetches from its bootstrap peer, checking the fingerprint after
// every replayed iteration, before it contributes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "backend/backend.h"
#include "core/status.h"
#include "core/threading.h"
#include "data/encode.h"
#include "data/objective.h"
#include "model/weights.h"
#include "net/peer_wire.h"

namespace seedtune {

struct PeerOptions {
  int id = -1;
  std::string listen = "0.0.0.0:50061";  // port 0: any free port
  std::string advertise;                 // address others reach this peer at (default: from listen + bound port)
  std::string bootstrap;                 // empty: this peer founds the run (`run` below)
  PeerRunSpec run;                       // the founder's run (founder_address is filled in)
  int min_peers = 1;                     // founder: members (itself included) before iteration 1
  int64_t leave_after = 0;               // last iteration this peer contributes to (0: the run's end)
  double peer_timeout_s = 60.0;          // a member's missing bytes (or the initial peers) past this: fail
  double min_iteration_s = 0.0;          // pace: an iteration starts at least this long after the previous one
  uint32_t poll_ms = 2000;               // long-poll budget per call
  BackendKind backend = BackendKind::kCpu;  // runs the model, its updates and fingerprints
  // A joiner: called with the run learned from the bootstrap peer before it
  // joins (check options, load the shard); an error stops it unannounced.
  std::function<Status(const PeerRunSpec&)> check_run;
  std::function<void(const std::string&)> on_metrics;  // JSON lines
  std::function<void(const std::string&)> on_log;      // default: stderr
};

struct PeerResult {
  int64_t join_iteration = 0;   // first iteration contributed to
  int64_t last_iteration = 0;   // last iteration applied
  int64_t iterations = 0;       // iterations contributed to
  int64_t replayed = 0;         // iterations replayed to catch up
  std::string fingerprint;      // after last_iteration
  double payload_up_per_iteration = 0, payload_down_per_iteration = 0;  // the algorithm's bytes
  double wire_up_per_iteration = 0, wire_down_per_iteration = 0;        // serialized GetBytes messages
  uint64_t catchup_wire_bytes = 0;  // GetHistory responses received
  std::string summary_json;
};

class PeerNode {
 public:
  // Starts serving. A joiner says Hello to its bootstrap peer and learns the
  // run and its join iteration; `base_fingerprint` is its model's.
  static StatusOr<std::unique_ptr<PeerNode>> Start(PeerOptions options, const std::string& base_fingerprint);
  ~PeerNode();

  const PeerRunSpec& run() const;
  int port() const;
  int64_t join_iteration() const;

  // Runs until this peer's last iteration (and lingers until the other
  // members fetched its last bytes). `model` is the base model; `shard` is
  // shard `id` of the run's data.
  StatusOr<PeerResult> Run(ModelWeights* model, std::span<const EncodedExample> shard, Objective objective,
                           ThreadingContext& ctx);

  struct Impl;

 private:
  explicit PeerNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedtune
