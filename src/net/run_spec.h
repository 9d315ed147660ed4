// What every participant of a networked run agrees on (the wire's RunConfig):
// the algorithm and its hyperparameters, and the data every client derives its
// shard from. The coordinator owns it; a client checks it against its own
// options and refuses a mismatched run.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "fed/federated_data.h"
#include "fed/strategy.h"
#include "ledger/ledger.h"

namespace seedtune {

inline constexpr uint32_t kFederationProtocolVersion = 1;

struct RunSpec {
  FedOptions fed;                 // algo, lr, eps, batch, seed, dist, rule, K, tau, fraction
  std::string aggregate = "mean"; // ZO-FedSGD rule as given (mean | median | trimmed:F)
  int64_t rounds = 0;
  // task, partition, clients, train_n, dev_n, max_length, min_per_client;
  // data.seed is fed.seed. data_dir and eval_n are each client's own.
  FederatedDataOptions data;
  std::string base_fingerprint;   // 16 hex digits; empty until known
  // The coordinator's DescribeFederatedShards digest of the data (the ledger
  // header's "data"); not on the wire: each client derives its own shard.
  std::string data_digest;
  // The digest of every shard's and the dev set's tokens (LoadFederatedData's
  // tokens_digest) when the coordinator was given the tokenizer; each client
  // checks its own encoding against it. Empty: not pinned.
  std::string tokens_digest;
  double heartbeat_interval_s = 1.0;

  int clients() const { return data.clients; }
};

// Checks what a coordinator needs: a networked algorithm, valid options.
Status ValidateRunSpec(const RunSpec& spec);

// The ledger header of the run: fed/run_header.h's FederatedLedgerHeader, the
// one `seedtune simulate` writes, so a networked ledger and a simulated one of
// the same options describe the same run.
LedgerHeader RunLedgerHeader(const RunSpec& spec);

// 16 lowercase hex digits, as FingerprintHex prints.
bool IsFingerprintHex(const std::string& s);

}  // namespace seedtune
