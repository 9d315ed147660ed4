#include "net/participant.h"

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <algorithm>
#include <thread>

#include "core/limits.h"
#include "fed/algorithms/fedkseed.h"
#include "fed/algorithms/strategies.h"
#include "fed/client_trainer.h"
#include "net/address.h"
#include "net/auth.h"
#include "net/wire.h"
#include "seedtune/v1/federation.grpc.pb.h"
#include "zo/fingerprint.h"
#include "zo/update.h"

namespace seedtune {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxRejoins = 5;  // consecutive "join first" answers before giving up

}  // namespace

struct ParticipantSession::Impl {
  ParticipantOptions o;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<wire::Coordinator::Stub> stub;
  RunSpec run;
  const Clock::time_point started = Clock::now();
  Clock::time_point last_contact = started;
  int64_t reconnects = 0;
  // Random per process: the coordinator refuses a second live process with this id.
  uint64_t session = std::random_device{}() * 0x100000000ull + std::random_device{}() + 1;
  // Heartbeats run beside training (FedKSeed's tau local steps can be long).
  std::thread heartbeat;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;

  void Emit(const nlohmann::ordered_json& j) {
    if (o.on_metrics) o.on_metrics(j.dump());
  }
  void Log(const std::string& line) {
    if (o.on_log) return o.on_log(line);
    const double t = std::chrono::duration<double>(Clock::now() - started).count();
    std::fprintf(stderr, "client %d [%.2f s]: %s\n", o.client_id, t, line.c_str());
  }

  void Prepare(grpc::ClientContext* ctx, double timeout_s) const {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000.0)));
    if (!o.token.empty()) ctx->AddMetadata("authorization", "Bearer " + o.token);
  }

  // Runs `call` until it succeeds or fails for a reason other than the
  // coordinator being unreachable, waiting with backoff in between. Gives up
  // after connect_timeout_s without contact.
  template <typename Fn>
  Status WithRetry(const char* name, Fn&& call) {
    auto backoff = std::chrono::milliseconds(100);
    for (;;) {
      grpc::Status s = call();
      if (s.ok()) {
        last_contact = Clock::now();
        return Status::Ok();
      }
      if (!IsTransient(s)) return FromGrpc(s, name);
      const double silent = std::chrono::duration<double>(Clock::now() - last_contact).count();
      if (silent > o.connect_timeout_s)
        return IoError("coordinator {} unreachable for {:.0f} s (last: {})", o.server, silent,
                       FromGrpc(s, name).message());
      if (backoff == std::chrono::milliseconds(100)) {
        ++reconnects;
        Log(fmt::format("{} failed ({}); retrying", name, s.error_message()));
        Emit({{"event", "reconnect"}, {"call", name}, {"error", s.error_message()}});
      }
      // Wait on the channel, not in a sleep: only a waiting call polls the
      // connection attempt (otherwise gRPC's backup poller sees it every 5 s).
      channel->GetState(/*try_to_connect=*/true);
      channel->WaitForConnected(std::chrono::system_clock::now() + backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }

  Status Join(int64_t examples, const std::string& base_fingerprint, int64_t* completed) {
    wire::JoinRequest req;
    req.set_protocol_version(kFederationProtocolVersion);
    req.set_client_id(o.client_id);
    req.set_session(session);
    req.set_num_examples(examples);
    req.set_base_fingerprint(base_fingerprint);
    wire::JoinResponse resp;
    RETURN_IF_ERROR(WithRetry("Join", [&] {
      grpc::ClientContext ctx;
      Prepare(&ctx, 10.0);
      return stub->Join(&ctx, req, &resp);
    }));
    ASSIGN_OR_RETURN(RunSpec joined, FromWire(resp.config()));
    // The run must not change under a client (a restarted coordinator with other options).
    if (RunLedgerHeader(joined).hyperparameters != RunLedgerHeader(run).hyperparameters ||
        joined.fed.seed != run.fed.seed)
      return FailedPrecondition("the coordinator now runs another configuration than the one this client joined");
    *completed = resp.completed_round();
    return Status::Ok();
  }

  void HeartbeatLoop() {
    std::unique_lock<std::mutex> lock(mu);
    const auto every = std::chrono::milliseconds(static_cast<int64_t>(run.heartbeat_interval_s * 1000.0));
    while (!cv.wait_for(lock, every, [&] { return stop; })) {
      lock.unlock();
      wire::HeartbeatRequest req;
      req.set_protocol_version(kFederationProtocolVersion);
      req.set_client_id(o.client_id);
      wire::HeartbeatResponse resp;
      grpc::ClientContext ctx;
      Prepare(&ctx, 2.0);
      (void)stub->Heartbeat(&ctx, req, &resp);  // failures surface in the main loop's calls
      lock.lock();
    }
  }

  void StopHeartbeat() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }
};

ParticipantSession::ParticipantSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ParticipantSession::~ParticipantSession() {
  if (impl_) impl_->StopHeartbeat();
}

const RunSpec& ParticipantSession::run() const { return impl_->run; }

StatusOr<std::unique_ptr<ParticipantSession>> ParticipantSession::Connect(const ParticipantOptions& options) {
  if (options.client_id < 0) return InvalidArgument("client id must be >= 0, not {}", options.client_id);
  if (!IsValidTimeout(options.connect_timeout_s))
    return InvalidArgument("connect timeout {} s must be in (0, {:g}]", options.connect_timeout_s, kMaxTimeoutSeconds);
  RETURN_IF_ERROR(CheckReachableAddress(options.server, "--server"));
  ASSIGN_OR_RETURN(auto creds, MakeChannelCredentials(options.ca_path));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxResponseBytes);
  args.SetMaxSendMessageSize(kMaxRequestBytes);
  // Reconnect quickly after a coordinator restart. (The minimum backoff is
  // also gRPC's connect timeout: left at its default.)
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  impl->channel = grpc::CreateCustomChannel(options.server, creds, args);
  impl->stub = wire::Coordinator::NewStub(impl->channel);
  wire::GetRunConfigRequest req;
  req.set_protocol_version(kFederationProtocolVersion);
  wire::GetRunConfigResponse resp;
  RETURN_IF_ERROR(impl->WithRetry("GetRunConfig", [&] {
    grpc::ClientContext ctx;
    impl->Prepare(&ctx, 10.0);
    return impl->stub->GetRunConfig(&ctx, req, &resp);
  }));
  ASSIGN_OR_RETURN(impl->run, FromWire(resp.config()));
  if (options.client_id >= impl->run.clients())
    return InvalidArgument("client id {} is outside this run's clients 0..{}", options.client_id,
                           impl->run.clients() - 1);
  return std::unique_ptr<ParticipantSession>(new ParticipantSession(std::move(impl)));
}

StatusOr<ParticipantResult> ParticipantSession::Run(ModelWeights* model, std::span<const EncodedExample> shard,
                                                    Objective objective, ThreadingContext& ctx) {
  Impl& s = *impl_;
  const RunSpec& run = s.run;
  const int id = s.o.client_id;
  if (shard.empty()) return FailedPrecondition("client {} has no training examples", id);
  const ClientTrainer trainer(id, shard, objective, run.fed, /*byzantine=*/false);
  // Serves the model for the whole session: it is updated in place as rounds are applied.
  ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> view, MakeBackend(s.o.backend, *model, ctx));
  ParticipantResult result;
  result.fingerprint = FingerprintHex(view->Fingerprint(*model));
  if (!run.base_fingerprint.empty() && run.base_fingerprint != result.fingerprint)
    return FailedPrecondition("this base model has fingerprint {}, the run's is {}: load the same base model",
                              result.fingerprint, run.base_fingerprint);
  const std::string base_fingerprint = result.fingerprint;
  const bool fedkseed = IsFedKSeed(run.fed.algo);
  const std::vector<uint64_t> candidates = fedkseed ? FedKSeedCandidates(run.fed.seed, FedKSeedNumSeeds(run.fed))
                                                    : std::vector<uint64_t>{};
  const StrategyRegistration* algo = FindStrategyRegistration(run.fed.algo);
  const bool local_copy = algo != nullptr && algo->local_copy;
  ModelWeights work;
  if (local_copy) work = model->Clone();

  int64_t completed = 0;
  RETURN_IF_ERROR(s.Join(trainer.num_examples(), base_fingerprint, &completed));
  s.Log(fmt::format("joined ({} examples); {} rounds published", trainer.num_examples(), completed));
  s.Emit({{"event", "join"}, {"client", id}, {"examples", trainer.num_examples()}, {"completed_round", completed}});
  s.heartbeat = std::thread(&Impl::HeartbeatLoop, &s);

  // Calls that answer "join first" (the coordinator restarted) join again.
  int rejoins = 0;
  auto rejoin_on = [&](const Status& st) -> Status {
    if (st.code() != StatusCode::kFailedPrecondition || ++rejoins > kMaxRejoins) return st;
    s.Log("coordinator lost this client (" + st.message() + "); joining again");
    return s.Join(trainer.num_examples(), base_fingerprint, &completed);
  };

  for (;;) {
    wire::GetTaskRequest treq;
    treq.set_protocol_version(kFederationProtocolVersion);
    treq.set_client_id(id);
    treq.set_applied_round(result.rounds_applied);
    treq.set_fingerprint(result.fingerprint);
    treq.set_wait_ms(s.o.poll_ms);
    wire::GetTaskResponse task;
    Status st = s.WithRetry("GetTask", [&] {
      grpc::ClientContext c;
      s.Prepare(&c, s.o.poll_ms / 1000.0 + 30.0);
      return s.stub->GetTask(&c, treq, &task);
    });
    if (!st.ok()) {
      RETURN_IF_ERROR(rejoin_on(st));
      continue;
    }
    rejoins = 0;
    if (task.action() == wire::GetTaskResponse::DONE) break;
    if (task.action() == wire::GetTaskResponse::WAIT) continue;

    if (task.action() == wire::GetTaskResponse::FETCH) {
      // Replay every published round in order, one list at a time (never merged).
      wire::FetchUpdatesRequest freq;
      freq.set_protocol_version(kFederationProtocolVersion);
      freq.set_client_id(id);
      freq.set_since_round(result.rounds_applied);
      wire::FetchUpdatesResponse fresp;
      st = s.WithRetry("FetchUpdates", [&] {
        grpc::ClientContext c;
        s.Prepare(&c, 60.0);
        return s.stub->FetchUpdates(&c, freq, &fresp);
      });
      if (!st.ok()) {
        RETURN_IF_ERROR(rejoin_on(st));
        continue;
      }
      if (fresp.records_size() == 0 && fresp.completed_round() > result.rounds_applied)
        return DataLoss("the coordinator published round {} but sent no records after round {}",
                        fresp.completed_round(), result.rounds_applied);
      size_t updates = 0;
      for (const wire::RoundRecord& w : fresp.records()) {
        ASSIGN_OR_RETURN(LedgerRecord rec, FromWire(w, candidates));
        if (static_cast<int64_t>(rec.round) != result.rounds_applied + 1)
          return DataLoss("the coordinator sent round {} after round {}", rec.round, result.rounds_applied);
        view->ApplyUpdates(model, rec.updates, run.fed.dist);
        result.rounds_applied = static_cast<int64_t>(rec.round);
        updates += rec.updates.size();
        if (rec.has_fingerprint) {
          result.fingerprint = FingerprintHex(view->Fingerprint(*model));
          if (result.fingerprint != FingerprintHex(rec.fingerprint))
            return DataLoss("after round {} this client holds {}, but the ledger records {}", rec.round,
                            result.fingerprint, FingerprintHex(rec.fingerprint));
        }
      }
      result.fingerprint = FingerprintHex(view->Fingerprint(*model));
      s.Emit({{"event", "apply"}, {"round", result.rounds_applied}, {"records", fresp.records_size()},
              {"updates", updates}, {"fingerprint", result.fingerprint}});
      continue;
    }

    // TRAIN: the plan must be for the round after the one this model holds.
    ASSIGN_OR_RETURN(RoundPlan plan, FromWire(task.plan(), run));
    if (plan.round != result.rounds_applied + 1 ||
        !std::binary_search(plan.participants.begin(), plan.participants.end(), id))
      return DataLoss("the coordinator asked this client (holding round {}) to train round {} with participants {}",
                      result.rounds_applied, plan.round, fmt::join(plan.participants, ","));
    const auto t0 = Clock::now();
    ASSIGN_OR_RETURN(ClientReply reply, trainer.Train(plan, *model, *view, local_copy ? &work : nullptr, ctx));
    wire::SubmitReplyRequest sreq;
    ToWire(reply, &sreq);
    wire::SubmitReplyResponse sresp;
    for (;;) {
      st = s.WithRetry("SubmitReply", [&] {
        grpc::ClientContext c;
        s.Prepare(&c, 30.0);
        return s.stub->SubmitReply(&c, sreq, &sresp);
      });
      if (st.ok()) break;
      RETURN_IF_ERROR(rejoin_on(st));  // joined again: the same reply is still the right one
    }
    rejoins = 0;
    if (sresp.accepted()) ++result.rounds_trained;
    else ++result.late_replies;
    s.Emit({{"event", "train"}, {"round", plan.round}, {"loss", reply.loss}, {"pairs", reply.pairs.size()},
            {"sign", reply.sign}, {"accepted", sresp.accepted()}, {"wire_up_bytes", sreq.ByteSizeLong()},
            {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}});
    if (!sresp.accepted()) s.Log(fmt::format("reply for round {} not accepted: {}", plan.round, sresp.detail()));
  }
  s.StopHeartbeat();
  result.reconnects = s.reconnects;
  s.Emit({{"event", "done"}, {"client", id}, {"round", result.rounds_applied}, {"fingerprint", result.fingerprint},
          {"trained", result.rounds_trained}, {"late", result.late_replies}, {"reconnects", result.reconnects}});
  return result;
}

}  // namespace seedtune
