// The ledger header of a federated run: its identity, built in one place for
// `seedtune simulate` and the coordinator, so a networked ledger and a
// simulated one of the same options describe the same run (and a resume on
// other options or other data is refused, naming the field: ledger/resume.h).
#pragma once

#include <cstdint>
#include <string>

#include "fed/federated_data.h"
#include "fed/strategy.h"
#include "ledger/ledger.h"

namespace seedtune {

// `aggregate`: the ZO-FedSGD rule as given (mean | median | trimmed:F).
// `data_digest`: DescribeFederatedShards' digest (LoadFederatedData's
// data_digest) of the examples every shard and the dev set hold.
// `tokens_digest`: LoadFederatedData's tokens_digest of them as encoded
// (recorded as "tokens"); empty for a server run without --tokenizer.
LedgerHeader FederatedLedgerHeader(const FedOptions& fed, const FederatedDataOptions& data,
                                   const std::string& aggregate, int64_t rounds, const std::string& data_digest,
                                   const std::string& base_fingerprint, const std::string& tokens_digest = "");

}  // namespace seedtune
