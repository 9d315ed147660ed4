// Internals of CoordinatorServer (net/coordinator.h): the shared state, the
// round loop (coordinator.cc) and the RPC handlers (coordinator_rpc.cc).
// One mutex guards everything; long polls and the round loop wait on one
// condition variable.
#pragma once

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fed/strategy.h"
#include "ledger/ledger.h"
#include "net/coordinator.h"
#include "net/wire.h"
#include "seedtune/v1/federation.grpc.pb.h"

namespace seedtune {

using Clock = std::chrono::steady_clock;
inline double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
inline Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

struct CoordinatorServer::Impl final : public wire::Coordinator::Service {
  struct Client {
    bool joined = false;
    std::string base_fingerprint;
    Clock::time_point last_seen{};
    bool reported_alive = false;  // for the "lost" / "back" log lines
    int64_t reported_round = -1;  // last fingerprint report
    std::string reported_fingerprint;
    uint64_t session = 0;  // of the process that joined as this client
  };
  struct CallBytes {
    uint64_t calls = 0, up = 0, down = 0;
  };

  explicit Impl(CoordinatorOptions options);

  // Start: ledger (create or resume), strategy check, then the gRPC server.
  Status Open();
  Status OpenLedgerLocked(const std::string& base_fingerprint);
  void RoundLoop();
  Status RunRoundLocked(int64_t round, std::unique_lock<std::mutex>& lock);
  Status PublishLocked(const RoundPlan& plan, AggregatedRound agg, int reopened, double seconds);
  void FinishLocked(std::unique_lock<std::mutex>& lock);

  std::vector<int> AliveLocked();
  Status EnsureStrategyLocked();
  int MinClients() const;
  void RecordFingerprintLocked(int client, int64_t round, const std::string& fingerprint);
  void JudgeRoundLocked(int64_t round);
  void QuarantineLocked(int client, const std::string& reason);
  CoordinatorSummary SummaryLocked() const;

  // Every call passes Admit: bearer token, protocol version, client id known
  // (and joined when `joined`); the client counts as alive from then on.
  // `client` is nullopt for calls that name none (GetRunConfig).
  grpc::Status Admit(const grpc::ServerContext* ctx, const char* call, uint32_t version, std::optional<int> client,
                     bool joined);
  grpc::Status Refuse(const grpc::ServerContext* ctx, const char* call, std::optional<int> client, grpc::Status status);
  void CountBytes(const char* call, size_t up, size_t down);

  void Emit(const nlohmann::ordered_json& j);
  void Log(const std::string& line);

  // RPCs.
  grpc::Status GetRunConfig(grpc::ServerContext* ctx, const wire::GetRunConfigRequest* req,
                            wire::GetRunConfigResponse* resp) override;
  grpc::Status Join(grpc::ServerContext* ctx, const wire::JoinRequest* req, wire::JoinResponse* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const wire::HeartbeatRequest* req,
                         wire::HeartbeatResponse* resp) override;
  grpc::Status GetTask(grpc::ServerContext* ctx, const wire::GetTaskRequest* req, wire::GetTaskResponse* resp) override;
  grpc::Status SubmitReply(grpc::ServerContext* ctx, const wire::SubmitReplyRequest* req,
                           wire::SubmitReplyResponse* resp) override;
  grpc::Status FetchUpdates(grpc::ServerContext* ctx, const wire::FetchUpdatesRequest* req,
                            wire::FetchUpdatesResponse* resp) override;

  CoordinatorOptions o;
  const Clock::time_point started = Clock::now();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Client> clients;
  std::vector<uint64_t> candidates;      // FedKSeed's K seeds: records travel as candidate indices
  std::unique_ptr<LedgerWriter> ledger;
  std::vector<std::string> aux_history;  // per published round (strategy rebuilds)
  std::vector<wire::RoundRecord> published;  // per round (index round - 1)
  int64_t completed = 0;                 // last published round
  int64_t first_round = 1;
  std::unique_ptr<Strategy> strategy;
  std::vector<int64_t> shard_sizes;      // per client, derived from the run's data options
  std::optional<RoundPlan> open_plan;
  std::map<int, ClientReply> replies;    // of the open round
  std::map<int, uint64_t> round_up_bytes, round_task_bytes;
  // Per round: fingerprint -> the clients that reported it (judged by
  // majority in JudgeRoundLocked).
  std::map<int64_t, std::map<std::string, std::vector<int>>> round_reports;
  std::map<int64_t, std::string> round_majority;  // rounds with a strict majority
  std::map<std::string, CallBytes> call_bytes;
  CoordinatorSummary counters;           // counters and payload totals
  LogRateLimiter refusal_log{20, std::chrono::seconds(10)};  // a flood of refusals is counted, not all logged
  bool stopping = false, finished = false;
  Status failure;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::thread loop;
};

}  // namespace seedtune
