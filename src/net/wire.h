// Conversions between the wire messages (proto/seedtune/v1/federation.proto)
// and the plain structs of fed/strategy.h, with the checks every received
// message goes through before anything else looks at it. Status codes map to
// gRPC codes here too.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "core/status.h"
#include "fed/strategy.h"
#include "ledger/ledger.h"
#include "net/run_spec.h"
#include "seedtune/v1/federation.pb.h"

namespace seedtune {

// Limits on what one message may carry (the transport refuses larger ones).
inline constexpr int kMaxRequestBytes = 1 << 20;          // client -> server
inline constexpr int kMaxResponseBytes = 16 << 20;        // server -> client
inline constexpr size_t kFetchBudgetBytes = 4u << 20;     // records per FetchUpdates reply

namespace wire = ::seedtune::v1;

void ToWire(const RunSpec& spec, wire::RunConfig* out);
// Rebuilds a RunSpec from the wire, validating every field.
StatusOr<RunSpec> FromWire(const wire::RunConfig& config);

void ToWire(const RoundPlan& plan, wire::RoundPlan* out);
// Checks the plan against the run: round, participants ascending and in
// range, K finite non-negative probabilities for FedKSeed-Pro.
StatusOr<RoundPlan> FromWire(const wire::RoundPlan& plan, const RunSpec& spec);

void ToWire(const ClientReply& reply, wire::SubmitReplyRequest* out);
// Decodes a reply: only the algorithm's field is set, values finite, seed
// indices below K. Strategy::ValidateReply then checks it against the plan.
StatusOr<ClientReply> FromWire(const wire::SubmitReplyRequest& request, const FedOptions& options);

// A ledger record as it travels. With FedKSeed's K candidate seeds given,
// an update list made only of candidates with decay 1 travels as (u16 index,
// f32 alpha) pairs (6 bytes per update instead of 16); otherwise packed as
// n x (u64 seed, f32 alpha, f32 decay). Either way the same bits arrive.
void ToWire(const LedgerRecord& record, const std::vector<uint64_t>& candidates, wire::RoundRecord* out);
StatusOr<LedgerRecord> FromWire(const wire::RoundRecord& record, const std::vector<uint64_t>& candidates);

std::string PackUpdates(const std::vector<ZUpdate>& updates);
StatusOr<std::vector<ZUpdate>> UnpackUpdates(const std::string& bytes);

// FailedPrecondition unless `version` is the one this build speaks.
Status CheckProtocolVersion(uint32_t version);

grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status, const std::string& call);
// Whether a failed call may succeed later against the same server (it is
// down, restarting or overloaded).
bool IsTransient(const grpc::Status& status);

}  // namespace seedtune
