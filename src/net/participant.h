// `seedtune client`: one participant of a networked run (docs/network.md).
// It learns the run's configuration from the coordinator, joins with its
// shard's size and its base model's fingerprint, then loops: replay every
// published round it has not applied (in order, from the base for a new
// client), report its fingerprint, and train with ClientTrainer when it takes
// part in the open round. When the coordinator is unreachable it retries with
// backoff, joins again and re-syncs.
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
#include "net/run_spec.h"

namespace seedtune {

struct ParticipantOptions {
  std::string server;      // host:port
  int client_id = -1;
  std::string token;       // bearer token ("" = none)
  std::string ca_path;     // TLS: trust this CA (PEM); "" = plaintext
  double connect_timeout_s = 60.0;  // give up after the coordinator was unreachable this long
  uint32_t poll_ms = 5000;          // long-poll budget per GetTask
  BackendKind backend = BackendKind::kCpu;  // runs the model, its updates and fingerprints
  // One JSON object per line (--metrics / --json), and log lines (stderr).
  std::function<void(const std::string&)> on_metrics;
  std::function<void(const std::string&)> on_log;
};

struct ParticipantResult {
  int64_t rounds_applied = 0;  // the last round the model holds
  int64_t rounds_trained = 0;  // rounds this client replied to (accepted)
  int64_t late_replies = 0;
  int64_t reconnects = 0;
  std::string fingerprint;     // of the model after rounds_applied
};

class ParticipantSession {
 public:
  // Connects and reads the run's configuration (retrying while the
  // coordinator is unreachable, up to connect_timeout_s).
  static StatusOr<std::unique_ptr<ParticipantSession>> Connect(const ParticipantOptions& options);
  ~ParticipantSession();

  const RunSpec& run() const;

  // Joins with `shard` and takes part until the run is over. `model` is the
  // base model; it ends holding the run's last round.
  StatusOr<ParticipantResult> Run(ModelWeights* model, std::span<const EncodedExample> shard, Objective objective,
                                  ThreadingContext& ctx);

  struct Impl;

 private:
  explicit ParticipantSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedtune
