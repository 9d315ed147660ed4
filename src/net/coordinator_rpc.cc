// The coordinator's RPC handlers: each call is admitted (token, protocol
// version, client id), checked field by field, and only then touches state. A
// refused call is counted and logged; it never reaches the ledger.
#include <algorithm>

#include "net/coordinator_impl.h"

namespace seedtune {

namespace {

constexpr uint32_t kMaxWaitMs = 30000;  // long-poll cap

bool SameReply(const ClientReply& a, const ClientReply& b) {
  return a.loss == b.loss && a.sign == b.sign && a.scalar == b.scalar && a.pairs == b.pairs;
}

grpc::Status Invalid(const std::string& message) { return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message); }

}  // namespace

void CoordinatorServer::Impl::CountBytes(const char* call, size_t up, size_t down) {
  CallBytes& b = call_bytes[call];
  ++b.calls;
  b.up += up;
  b.down += down;
}

grpc::Status CoordinatorServer::Impl::Refuse(const grpc::ServerContext* ctx, const char* call,
                                              std::optional<int> client, grpc::Status status) {
  ++counters.rejects;
  std::string note;
  const bool log = refusal_log.Allow(&note);
  if (!note.empty()) Log(note);
  if (log)
    Log(fmt::format("refused {} from {} ({}): {}", call, client ? fmt::format("client {}", *client) : "a caller",
                    ctx->peer(), status.error_message()));
  counters.rejects_not_logged = static_cast<int64_t>(refusal_log.suppressed_total());
  return status;
}

grpc::Status CoordinatorServer::Impl::Admit(const grpc::ServerContext* ctx, const char* call, uint32_t version,
                                             std::optional<int> id, bool joined) {
  int token_client = -1;
  grpc::Status auth = AuthenticateCall(*ctx, o.tokens, &token_client);
  if (!auth.ok()) return Refuse(ctx, call, id, auth);
  Status v = CheckProtocolVersion(version);
  if (!v.ok()) return Refuse(ctx, call, id, ToGrpc(v));
  if (!id) return grpc::Status::OK;  // GetRunConfig: any authenticated caller
  const int client = *id;
  if (client < 0 || client >= o.run.clients())
    return Refuse(ctx, call, client,
                  Invalid(fmt::format("unknown client {}: this run has clients 0..{}", client, o.run.clients() - 1)));
  if (token_client >= 0 && token_client != client)
    return Refuse(ctx, call, client,
                  grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                               fmt::format("the bearer token belongs to client {}, not {}", token_client, client)));
  if (auto q = counters.quarantined.find(client); q != counters.quarantined.end())
    return Refuse(ctx, call, client,
                  grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                               fmt::format("client {} is quarantined: {}", client, q->second)));
  Client& c = clients[static_cast<size_t>(client)];
  if (joined && !c.joined)  // normal after a coordinator restart: not counted as a bad message
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        fmt::format("client {} has not joined this coordinator (it may have restarted): Join first", client));
  c.last_seen = Clock::now();
  return grpc::Status::OK;
}

grpc::Status CoordinatorServer::Impl::GetRunConfig(grpc::ServerContext* ctx, const wire::GetRunConfigRequest* req,
                                                   wire::GetRunConfigResponse* resp) {
  std::lock_guard<std::mutex> lock(mu);
  grpc::Status a = Admit(ctx, "GetRunConfig", req->protocol_version(), std::nullopt, false);
  if (!a.ok()) return a;
  ToWire(o.run, resp->mutable_config());
  CountBytes("GetRunConfig", req->ByteSizeLong(), resp->ByteSizeLong());
  return grpc::Status::OK;
}

grpc::Status CoordinatorServer::Impl::Join(grpc::ServerContext* ctx, const wire::JoinRequest* req,
                                           wire::JoinResponse* resp) {
  std::lock_guard<std::mutex> lock(mu);
  const int k = req->client_id();
  const bool id_in_range = k >= 0 && k < o.run.clients();
  const Clock::time_point seen_before = id_in_range ? clients[static_cast<size_t>(k)].last_seen : Clock::time_point{};
  grpc::Status a = Admit(ctx, "Join", req->protocol_version(), k, false);
  if (!a.ok()) return a;
  {
    // A second live process with this id: the first keeps its slot.
    Client& held = clients[static_cast<size_t>(k)];
    const bool alive = held.joined && Clock::now() - seen_before <= Seconds(o.heartbeat_timeout_s);
    if (alive && held.session != 0 && req->session() != 0 && held.session != req->session()) {
      held.last_seen = seen_before;  // the refused call is not the holder's contact
      return Refuse(ctx, "Join", k,
                    grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                                 fmt::format("client id {} is held by another live client (its last call {:.1f} s "
                                             "ago): give this one another --client-id, or stop the other (its slot "
                                             "frees {:g} s after its last call)",
                                             k, SecondsSince(seen_before), o.heartbeat_timeout_s)));
    }
  }
  const int64_t shard = shard_sizes[static_cast<size_t>(k)];
  if (req->num_examples() != shard)
    return Refuse(ctx, "Join", k,
                  grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               fmt::format("client {} reports {} training examples, but shard {} of this run holds {}: "
                                           "load the run's data (task, partition, train-n)",
                                           k, req->num_examples(), k, shard)));
  if (!IsFingerprintHex(req->base_fingerprint()))
    return Refuse(ctx, "Join", k, Invalid(fmt::format("base fingerprint '{}' is not 16 hex digits", req->base_fingerprint())));
  if (o.run.base_fingerprint.empty()) {
    // The first client to join names the base model (the coordinator has none).
    Status s = OpenLedgerLocked(req->base_fingerprint());
    if (!s.ok()) {
      Log("cannot create the ledger: " + s.ToString());
      return ToGrpc(s);
    }
  } else if (req->base_fingerprint() != o.run.base_fingerprint) {
    return Refuse(ctx, "Join", k,
                  grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                               fmt::format("client {}'s base model has fingerprint {}, the run's is {}: load the same "
                                           "base model",
                                           k, req->base_fingerprint(), o.run.base_fingerprint)));
  }
  Client& c = clients[static_cast<size_t>(k)];
  Log(fmt::format("client {} joined{} ({} examples)", k, c.joined ? " again" : "", shard));
  c.joined = true;
  c.session = req->session();
  c.reported_alive = true;  // AliveLocked logs only later changes
  ToWire(o.run, resp->mutable_config());
  resp->set_completed_round(completed);
  CountBytes("Join", req->ByteSizeLong(), resp->ByteSizeLong());
  cv.notify_all();
  return grpc::Status::OK;
}

grpc::Status CoordinatorServer::Impl::Heartbeat(grpc::ServerContext* ctx, const wire::HeartbeatRequest* req,
                                                wire::HeartbeatResponse* resp) {
  std::lock_guard<std::mutex> lock(mu);
  grpc::Status a = Admit(ctx, "Heartbeat", req->protocol_version(), req->client_id(), true);
  if (!a.ok()) return a;
  resp->set_completed_round(completed);
  CountBytes("Heartbeat", req->ByteSizeLong(), resp->ByteSizeLong());
  return grpc::Status::OK;
}

grpc::Status CoordinatorServer::Impl::GetTask(grpc::ServerContext* ctx, const wire::GetTaskRequest* req,
                                              wire::GetTaskResponse* resp) {
  std::unique_lock<std::mutex> lock(mu);
  const int k = req->client_id();
  grpc::Status a = Admit(ctx, "GetTask", req->protocol_version(), k, true);
  if (!a.ok()) return a;
  if (req->applied_round() < 0 || req->applied_round() > completed)
    return Refuse(ctx, "GetTask", k,
                  Invalid(fmt::format("client {} claims to hold round {}, but {} rounds are published", k,
                                      req->applied_round(), completed)));
  if (!req->fingerprint().empty()) {
    if (!IsFingerprintHex(req->fingerprint()))
      return Refuse(ctx, "GetTask", k, Invalid(fmt::format("fingerprint '{}' is not 16 hex digits", req->fingerprint())));
    RecordFingerprintLocked(k, req->applied_round(), req->fingerprint());
    cv.notify_all();  // FinishLocked waits for these reports
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::min(req->wait_ms(), kMaxWaitMs));
  for (;;) {
    resp->set_completed_round(completed);
    if (req->applied_round() < completed) {
      resp->set_action(wire::GetTaskResponse::FETCH);
    } else if (completed >= o.run.rounds) {
      resp->set_action(wire::GetTaskResponse::DONE);
    } else if (open_plan && open_plan->round == completed + 1 &&
               std::binary_search(open_plan->participants.begin(), open_plan->participants.end(), k) &&
               replies.count(k) == 0) {
      resp->set_action(wire::GetTaskResponse::TRAIN);
      ToWire(*open_plan, resp->mutable_plan());
      round_task_bytes[k] = resp->ByteSizeLong();
    } else if (!finished && !stopping && !ctx->IsCancelled() && Clock::now() < deadline) {
      cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(250)));
      continue;
    } else {
      resp->set_action(wire::GetTaskResponse::WAIT);
    }
    break;
  }
  clients[static_cast<size_t>(k)].last_seen = Clock::now();  // a long poll is contact too
  CountBytes("GetTask", req->ByteSizeLong(), resp->ByteSizeLong());
  return grpc::Status::OK;
}

grpc::Status CoordinatorServer::Impl::SubmitReply(grpc::ServerContext* ctx, const wire::SubmitReplyRequest* req,
                                                  wire::SubmitReplyResponse* resp) {
  std::lock_guard<std::mutex> lock(mu);
  const int k = req->client_id();
  grpc::Status a = Admit(ctx, "SubmitReply", req->protocol_version(), k, true);
  if (!a.ok()) return a;
  CountBytes("SubmitReply", req->ByteSizeLong(), 0);
  if (req->round() >= 1 && req->round() <= completed) {
    ++counters.late;
    Log(fmt::format("late reply from client {} for round {} (closed); dropped", k, req->round()));
    resp->set_accepted(false);
    resp->set_detail(fmt::format("round {} closed before this reply arrived", req->round()));
    return grpc::Status::OK;
  }
  if (req->round() != completed + 1)
    return Refuse(ctx, "SubmitReply", k,
                  Invalid(fmt::format("reply for round {}, but round {} is the next ({} published)", req->round(),
                                      completed + 1, completed)));
  if (!open_plan || !std::binary_search(open_plan->participants.begin(), open_plan->participants.end(), k)) {
    // Honest after a coordinator restart or a re-plan: the reply was for a
    // plan this coordinator no longer has. Dropped like a late one.
    ++counters.late;
    Log(fmt::format("reply from client {} for round {} matches no open plan; dropped", k, req->round()));
    resp->set_accepted(false);
    resp->set_detail(fmt::format("round {} is not open with client {} taking part; ask for a task again",
                                 req->round(), k));
    return grpc::Status::OK;
  }
  auto reply = FromWire(*req, o.run.fed);
  if (!reply.ok()) return Refuse(ctx, "SubmitReply", k, ToGrpc(reply.status()));
  Status valid = strategy->ValidateReply(*open_plan, *reply);
  if (!valid.ok()) return Refuse(ctx, "SubmitReply", k, ToGrpc(valid));
  auto prev = replies.find(k);
  if (prev != replies.end()) {
    if (!SameReply(prev->second, *reply))
      return Refuse(ctx, "SubmitReply", k, Invalid(fmt::format("client {} sent a second, different reply for round {}", k,
                                                          req->round())));
    resp->set_accepted(true);
    resp->set_detail("duplicate of the reply already received");
    return grpc::Status::OK;
  }
  replies.emplace(k, std::move(*reply));
  round_up_bytes[k] = req->ByteSizeLong();
  ++counters.replies;
  resp->set_accepted(true);
  cv.notify_all();
  return grpc::Status::OK;
}

grpc::Status CoordinatorServer::Impl::FetchUpdates(grpc::ServerContext* ctx, const wire::FetchUpdatesRequest* req,
                                                   wire::FetchUpdatesResponse* resp) {
  std::lock_guard<std::mutex> lock(mu);
  const int k = req->client_id();
  grpc::Status a = Admit(ctx, "FetchUpdates", req->protocol_version(), k, true);
  if (!a.ok()) return a;
  if (req->since_round() < 0 || req->since_round() > completed)
    return Refuse(ctx, "FetchUpdates", k,
                  Invalid(fmt::format("updates since round {} asked, but {} rounds are published", req->since_round(),
                                      completed)));
  size_t bytes = 0;
  for (int64_t r = req->since_round() + 1; r <= completed; ++r) {
    const wire::RoundRecord& rec = published[static_cast<size_t>(r - 1)];
    if (resp->records_size() > 0 && bytes + rec.ByteSizeLong() > kFetchBudgetBytes) break;
    bytes += rec.ByteSizeLong();
    *resp->add_records() = rec;
  }
  resp->set_completed_round(completed);
  CountBytes("FetchUpdates", req->ByteSizeLong(), resp->ByteSizeLong());
  return grpc::Status::OK;
}

}  // namespace seedtune
