// `seedtune server`: the coordinator of a networked federated run
// (docs/network.md). It holds a Strategy (fed/strategy.h) and no model
// weights. Round t opens over the clients that are alive (heartbeats within a
// timeout), closes when every participant replied, or at the deadline with at
// least a quorum of replies, is aggregated, appended to the ledger (the
// write-ahead log) and only then published. Started on an existing ledger it
// restores the strategy from every record's aux bytes and continues at the
// next round.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "ledger/ledger.h"
#include "net/server_limits.h"
#include "net/auth.h"
#include "net/run_spec.h"

namespace seedtune {

struct CoordinatorOptions {
  RunSpec run;
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one (CoordinatorServer::port)
  std::string ledger_path;             // required: created, or resumed when it exists
  Durability durability = Durability::kFsyncEachRecord;
  int quorum = 1;                      // replies that close a round at its deadline (capped at its participants)
  int min_clients = 0;                 // alive clients that open a round at once (0: all); fewer wait round_timeout
  double round_timeout_s = 600.0;
  double heartbeat_timeout_s = 10.0;   // a client silent this long is no longer alive
  double finish_timeout_s = 30.0;      // after the last round: how long to wait for clients' final fingerprints
  ClientTokens tokens;                 // empty: no authentication
  std::string tls_cert_path, tls_key_path;  // empty: plaintext
  ServerLimits limits;                 // handshake and idle timeouts of connections
  // One JSON object per line (--metrics), and human-readable log lines (stderr).
  std::function<void(const std::string&)> on_metrics;
  std::function<void(const std::string&)> on_log;
};

struct CoordinatorSummary {
  int64_t first_round = 1;  // > 1 when resumed from a ledger
  int64_t rounds_completed = 0;
  int64_t replies = 0, late = 0, rejects = 0, reopened = 0;
  int64_t rejects_not_logged = 0;  // refusals counted but over the log's rate limit
  // Reports that disagreed with the majority of a round's reporters (or with
  // the run's base), one per quarantined client.
  int64_t fingerprint_mismatches = 0;
  // Clients quarantined for such a report, with the reason; refused from
  // then on, and left out of every later round.
  std::map<int, std::string> quarantined;
  // Rounds whose reporters disagree with no strict majority: the run cannot
  // tell which copy is right (a failure of the run).
  std::vector<int64_t> unresolved_rounds;
  // The majority's fingerprint after the last round (empty when no client
  // reported it), and the last report of each client: (round, fingerprint).
  std::string final_fingerprint;
  std::map<int, std::pair<int64_t, std::string>> client_fingerprints;
  // Algorithm payload (as the papers count it, summed like `simulate`) and
  // serialized message bytes of every call, both directions.
  uint64_t payload_up_bits = 0, payload_down_bits = 0;
  uint64_t wire_up_bytes = 0, wire_down_bytes = 0;
  std::string metrics_json;  // the summary as one JSON object
};

class CoordinatorServer {
 public:
  // Opens (or resumes) the ledger, binds `listen` and starts serving and
  // running rounds. A bad option, ledger or address is an error here.
  static StatusOr<std::unique_ptr<CoordinatorServer>> Start(CoordinatorOptions options);
  ~CoordinatorServer();
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  int port() const;
  // Blocks until the run is over (every round published and every live
  // client's final fingerprint reported, or finish_timeout_s), or failed
  // (ledger write error); then stops serving.
  StatusOr<CoordinatorSummary> Wait();
  // Ends the run early; Wait returns what was done.
  void Stop();

  struct Impl;

 private:
  explicit CoordinatorServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedtune
