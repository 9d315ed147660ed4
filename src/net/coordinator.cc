#include "net/coordinator.h"

#include <fmt/ranges.h>
#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/limits.h"
#include "fed/algorithms/fedkseed.h"
#include "ledger/resume.h"
#include "net/address.h"
#include "net/coordinator_impl.h"

namespace seedtune {

CoordinatorServer::Impl::Impl(CoordinatorOptions options) : o(std::move(options)) {
  clients.resize(static_cast<size_t>(o.run.clients()));
  if (IsFedKSeed(o.run.fed.algo)) candidates = FedKSeedCandidates(o.run.fed.seed, FedKSeedNumSeeds(o.run.fed));
}

void CoordinatorServer::Impl::Emit(const nlohmann::ordered_json& j) {
  if (o.on_metrics) o.on_metrics(j.dump());
}

void CoordinatorServer::Impl::Log(const std::string& line) {
  if (o.on_log) return o.on_log(line);
  std::fprintf(stderr, "server [%.2f s]: %s\n", SecondsSince(started), line.c_str());
}

int CoordinatorServer::Impl::MinClients() const { return o.min_clients > 0 ? o.min_clients : o.run.clients(); }

Status CoordinatorServer::Impl::OpenLedgerLocked(const std::string& base_fingerprint) {
  o.run.base_fingerprint = base_fingerprint;
  ASSIGN_OR_RETURN(ledger, LedgerWriter::Create(o.ledger_path, RunLedgerHeader(o.run), o.durability));
  Log(fmt::format("ledger {} created (base model {})", o.ledger_path, base_fingerprint));
  return Status::Ok();
}

Status CoordinatorServer::Impl::Open() {
  std::lock_guard<std::mutex> lock(mu);
  // The clients' shard sizes, derived here from the run's data options: a
  // client's reported count is checked against them, never trusted (it
  // weights FedKSeed's aggregate).
  auto plan = DescribeFederatedShards(o.run.data);
  if (!plan.ok())
    return plan.status().WithContext("the coordinator derives each client's shard size from the task (--data names "
                                     "its dataset root)");
  shard_sizes = std::move(plan->sizes);
  o.run.data_digest = plan->digest;
  if (std::filesystem::exists(o.ledger_path)) {
    ASSIGN_OR_RETURN(LedgerContents contents, ReadLedgerForResume(o.ledger_path, RunLedgerHeader(o.run)));
    o.run.base_fingerprint = contents.header.base_fingerprint;
    if (!contents.tail_problem.empty())
      Log(fmt::format("{}: {}; dropping it and continuing after the valid prefix", o.ledger_path,
                      contents.tail_problem));
    for (size_t i = 0; i < contents.records.size(); ++i) {
      const LedgerRecord& r = contents.records[i];
      published.emplace_back();
      ToWire(r, candidates, &published.back());
      aux_history.push_back(r.aux);
    }
    completed = static_cast<int64_t>(contents.records.size());
    first_round = completed + 1;
    ASSIGN_OR_RETURN(ledger, LedgerWriter::Append(o.ledger_path, o.durability));
    if (completed >= o.run.rounds)
      Log(fmt::format("{}: the run is complete ({} of {} rounds); nothing to do. The coordinator holds no weights: "
                      "`seedtune ledger verify {} -m BASE` rebuilds and checks the final model",
                      o.ledger_path, completed, o.run.rounds, o.ledger_path));
    else
      Log(fmt::format("resumed {}: {} rounds published; continuing at round {}", o.ledger_path, completed,
                      completed + 1));
  } else if (!o.run.base_fingerprint.empty()) {
    RETURN_IF_ERROR(OpenLedgerLocked(o.run.base_fingerprint));
  }
  // Builds the strategy once now: checks the options and every record's aux.
  return EnsureStrategyLocked();
}

Status CoordinatorServer::Impl::EnsureStrategyLocked() {
  if (strategy) return Status::Ok();
  ASSIGN_OR_RETURN(auto s, Strategy::Create(o.run.fed, shard_sizes));
  for (size_t i = 0; i < aux_history.size(); ++i) {
    Status r = s->Restore(aux_history[i]);
    if (!r.ok()) return DataLoss("{}: strategy state of round {}: {}", o.ledger_path, i + 1, r.message());
  }
  strategy = std::move(s);
  return Status::Ok();
}

std::vector<int> CoordinatorServer::Impl::AliveLocked() {
  std::vector<int> alive;
  const auto now = Clock::now();
  for (int k = 0; k < static_cast<int>(clients.size()); ++k) {
    Client& c = clients[static_cast<size_t>(k)];
    const bool is_alive =
        c.joined && !counters.quarantined.count(k) && now - c.last_seen <= Seconds(o.heartbeat_timeout_s);
    if (is_alive) alive.push_back(k);
    if (c.joined && is_alive != c.reported_alive) {
      Log(is_alive ? fmt::format("client {} is back", k)
                   : fmt::format("client {} lost: silent for {:.1f} s", k, SecondsSince(c.last_seen)));
      c.reported_alive = is_alive;
    }
  }
  return alive;
}

void CoordinatorServer::Impl::QuarantineLocked(int client, const std::string& reason) {
  if (counters.quarantined.count(client)) return;
  counters.quarantined[client] = reason;
  ++counters.fingerprint_mismatches;
  Log(fmt::format("FINGERPRINT MISMATCH: {}; client {} is quarantined (refused and left out of later rounds)", reason,
                  client));
  replies.erase(client);  // an open round's reply from it is dropped
  cv.notify_all();
}

void CoordinatorServer::Impl::RecordFingerprintLocked(int client, int64_t round, const std::string& fp) {
  Client& c = clients[static_cast<size_t>(client)];
  if (round == c.reported_round && fp == c.reported_fingerprint) return;
  c.reported_round = round;
  c.reported_fingerprint = fp;
  if (round == 0) {  // the base is known: no vote needed
    if (fp != o.run.base_fingerprint)
      QuarantineLocked(client, fmt::format("client {} holds {} before round 1, but the run's base is {}", client, fp,
                                           o.run.base_fingerprint));
    return;
  }
  auto& groups = round_reports[round];
  for (auto& [other, members] : groups) std::erase(members, client);  // its latest report counts
  std::vector<int>& members = groups[fp];
  if (members.empty())
    Emit({{"event", "fingerprint"}, {"round", round}, {"fingerprint", fp}, {"client", client}});
  members.push_back(client);
  JudgeRoundLocked(round);
}

void CoordinatorServer::Impl::JudgeRoundLocked(int64_t round) {
  // A strict majority of the round's reporters decides which copy is right:
  // the first reporter is no more trusted than the others, so one client
  // cannot make the honest ones look wrong.
  const auto& groups = round_reports[round];
  size_t total = 0, best = 0;
  std::string majority;
  for (const auto& [fp, members] : groups) {
    total += members.size();
    if (members.size() > best) {
      best = members.size();
      majority = fp;
    }
  }
  if (2 * best <= total) {
    round_majority.erase(round);
    return;  // no strict majority (yet)
  }
  round_majority[round] = majority;
  const std::vector<int>& holders = groups.at(majority);
  for (const auto& [fp, members] : groups) {
    if (fp == majority) continue;
    for (int k : members) {
      QuarantineLocked(k, fmt::format("client {} holds {} after round {}, but the majority of its reporters ({} of "
                                      "{}: clients {}) hold {}",
                                      k, fp, round, best, total, fmt::join(holders, ","), majority));
      Emit({{"event", "fingerprint_mismatch"}, {"round", round}, {"client", k}, {"fingerprint", fp},
            {"expected", majority}});
    }
  }
}

void CoordinatorServer::Impl::RoundLoop() {
  std::unique_lock<std::mutex> lock(mu);
  for (int64_t t = completed + 1; t <= o.run.rounds && !stopping; ++t) {
    Status s = RunRoundLocked(t, lock);
    if (!s.ok()) {
      failure = s;
      Log("stopping: " + s.ToString());
      break;
    }
  }
  FinishLocked(lock);
}

Status CoordinatorServer::Impl::RunRoundLocked(int64_t t, std::unique_lock<std::mutex>& lock) {
  // Open: at once when enough clients are alive, else after round_timeout
  // with at least a quorum.
  const auto waiting_since = Clock::now();
  std::vector<int> alive;
  for (;;) {
    if (stopping) return Status::Ok();
    alive = AliveLocked();
    const size_t n = alive.size();
    if (n >= static_cast<size_t>(MinClients())) break;
    if (n >= static_cast<size_t>(o.quorum) && SecondsSince(waiting_since) >= o.round_timeout_s) break;
    cv.wait_for(lock, std::chrono::milliseconds(100));
  }
  RETURN_IF_ERROR(EnsureStrategyLocked());
  const auto opened = Clock::now();
  open_plan = strategy->ConfigureRound(t, alive);
  replies.clear();
  round_up_bytes.clear();
  round_task_bytes.clear();
  int reopened = 0;
  auto deadline = opened + Seconds(o.round_timeout_s);
  // A round that waits longer than a few heartbeat intervals says so, naming
  // who it waits for (then again at each further multiple).
  const double waiting_note_s = 3.0 * o.run.heartbeat_interval_s;
  double next_note_s = waiting_note_s;
  cv.notify_all();
  // Close: every participant replied, or the deadline passed with a quorum;
  // without a quorum the round is planned again over the clients alive then.
  for (;;) {
    if (stopping) return Status::Ok();
    if (replies.size() == open_plan->participants.size()) break;
    if (const double waited = SecondsSince(opened); waited >= next_note_s) {
      std::vector<int> missing;
      for (int k : open_plan->participants)
        if (!replies.count(k)) missing.push_back(k);
      Log(fmt::format("round {}: waiting {:.1f} s for client(s) {} ({} of {} replied; the round closes at its deadline "
                      "in {:.1f} s with a quorum of {})",
                      t, waited, fmt::join(missing, ","), replies.size(), open_plan->participants.size(),
                      std::max(0.0, std::chrono::duration<double>(deadline - Clock::now()).count()), o.quorum));
      next_note_s += waiting_note_s;
    }
    if (Clock::now() >= deadline) {
      const size_t quorum = std::min(static_cast<size_t>(o.quorum), open_plan->participants.size());
      if (!replies.empty() && replies.size() >= quorum) break;
      alive = AliveLocked();
      if (!alive.empty()) {
        open_plan = strategy->ConfigureRound(t, alive);
        for (auto it = replies.begin(); it != replies.end();)
          it = std::binary_search(open_plan->participants.begin(), open_plan->participants.end(), it->first)
                   ? std::next(it)
                   : replies.erase(it);
        ++reopened;
        ++counters.reopened;
        Log(fmt::format("round {}: {} of the quorum {} replied by the deadline; planned again over {} alive clients", t,
                        replies.size(), quorum, alive.size()));
      }
      deadline = Clock::now() + Seconds(o.round_timeout_s);
      cv.notify_all();
    }
    cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(200)));
  }
  std::vector<ClientReply> got;
  for (auto& [k, r] : replies) got.push_back(r);
  const RoundPlan plan = *open_plan;
  ASSIGN_OR_RETURN(AggregatedRound agg, strategy->Aggregate(plan, std::move(got)));
  return PublishLocked(plan, std::move(agg), reopened, SecondsSince(opened));
}

Status CoordinatorServer::Impl::PublishLocked(const RoundPlan& plan, AggregatedRound agg, int reopened, double seconds) {
  LedgerRecord rec;
  rec.round = static_cast<uint64_t>(plan.round);
  rec.updates = agg.updates;
  for (int c : agg.contributors) rec.participants.push_back(static_cast<uint32_t>(c));
  rec.aux = agg.aux;
  // Write-ahead: the record is durable before any client can fetch it. The
  // coordinator has no weights, so the record carries no fingerprint; the
  // clients report theirs (RecordFingerprintLocked).
  if (!ledger) return InternalError("round {}: no ledger open (no base fingerprint known)", plan.round);
  RETURN_IF_ERROR(ledger->Write(rec));
  aux_history.push_back(agg.aux);
  published.emplace_back();
  ToWire(rec, candidates, &published.back());
  completed = plan.round;
  open_plan.reset();

  double loss = 0.0;
  int losses = 0;
  for (const auto& [k, r] : replies)
    if (strategy->ReplyHasLoss(r)) {
      loss += r.loss;
      ++losses;
    }
  const uint64_t contributors = agg.contributors.size();
  counters.payload_up_bits += agg.traffic.up_bits * contributors;
  counters.payload_down_bits += agg.traffic.down_bits * static_cast<uint64_t>(o.run.clients());
  auto mean = [](const std::map<int, uint64_t>& m) {
    uint64_t s = 0;
    for (const auto& [k, v] : m) s += v;
    return m.empty() ? 0.0 : static_cast<double>(s) / static_cast<double>(m.size());
  };
  const size_t record_bytes = published.back().ByteSizeLong();
  // As it travels inside FetchUpdatesResponse: tag + length + the record.
  const size_t record_wire =
      1 + google::protobuf::io::CodedOutputStream::VarintSize64(record_bytes) + record_bytes;
  size_t alive = 0;
  for (const Client& c : clients) alive += c.reported_alive ? 1 : 0;
  Emit({{"event", "round"},
        {"round", plan.round},
        {"clients_alive", alive},
        {"participants", plan.participants},
        {"replies", replies.size()},
        {"late", counters.late},
        {"rejects", counters.rejects},
        {"reopened", reopened},
        {"loss", losses > 0 ? loss / losses : 0.0},
        {"vote", agg.vote},
        {"updates", agg.updates.size()},
        {"payload_up_bits", agg.traffic.up_bits},
        {"payload_down_bits", agg.traffic.down_bits},
        {"wire_up_bytes", mean(round_up_bytes)},
        {"wire_task_bytes", mean(round_task_bytes)},
        {"wire_down_bytes", record_wire},
        {"seconds", seconds}});
  Log(fmt::format("round {}: {} of {} participants replied, {} updates, {:.2f} s", plan.round, replies.size(),
                  plan.participants.size(), agg.updates.size(), seconds));
  replies.clear();
  cv.notify_all();
  return Status::Ok();
}

void CoordinatorServer::Impl::FinishLocked(std::unique_lock<std::mutex>& lock) {
  // Every client still alive reports the fingerprint of the last round in the
  // call that tells it the run is over; wait for those reports.
  const auto until = Clock::now() + Seconds(o.finish_timeout_s);
  while (failure.ok() && !stopping && Clock::now() < until) {
    bool all = true;
    for (int k : AliveLocked())
      if (clients[static_cast<size_t>(k)].reported_round < completed) all = false;
    if (all) break;
    cv.wait_until(lock, std::min(until, Clock::now() + std::chrono::milliseconds(100)));
  }
  if (std::string note = refusal_log.Flush(); !note.empty()) Log(note);
  const CoordinatorSummary s = SummaryLocked();
  if (o.on_metrics) o.on_metrics(s.metrics_json);
  finished = true;
  cv.notify_all();
}

CoordinatorSummary CoordinatorServer::Impl::SummaryLocked() const {
  CoordinatorSummary s = counters;
  s.first_round = first_round;
  s.rounds_completed = completed;
  auto it = round_majority.find(completed);
  if (it != round_majority.end()) s.final_fingerprint = it->second;
  nlohmann::ordered_json quarantined = nlohmann::ordered_json::object();
  for (const auto& [k, why] : s.quarantined) quarantined[std::to_string(k)] = why;
  for (const auto& [round, groups] : round_reports) {
    size_t distinct = 0;
    for (const auto& [fp, members] : groups) distinct += members.empty() ? 0 : 1;
    if (distinct > 1 && !round_majority.count(round)) s.unresolved_rounds.push_back(round);
  }
  nlohmann::ordered_json per_client = nlohmann::ordered_json::object();
  for (int k = 0; k < static_cast<int>(clients.size()); ++k) {
    const Client& c = clients[static_cast<size_t>(k)];
    if (c.reported_round < 0) continue;
    s.client_fingerprints[k] = {c.reported_round, c.reported_fingerprint};
    per_client[std::to_string(k)] = {{"round", c.reported_round}, {"fingerprint", c.reported_fingerprint}};
  }
  nlohmann::ordered_json calls = nlohmann::ordered_json::object();
  for (const auto& [name, b] : call_bytes) {
    s.wire_up_bytes += b.up;
    s.wire_down_bytes += b.down;
    calls[name] = {{"calls", b.calls}, {"up_bytes", b.up}, {"down_bytes", b.down}};
  }
  const int64_t rounds_here = std::max<int64_t>(completed - first_round + 1, 1);
  const double per = static_cast<double>(o.run.clients()) * static_cast<double>(rounds_here);
  nlohmann::ordered_json j = {{"event", "summary"},
                              {"algorithm", FedAlgorithmName(o.run.fed.algo)},
                              {"clients", o.run.clients()},
                              {"first_round", first_round},
                              {"rounds", completed},
                              {"replies", s.replies},
                              {"late", s.late},
                              {"rejects", s.rejects},
                              {"rejects_not_logged", s.rejects_not_logged},
                              {"reopened", s.reopened},
                              {"fingerprint_mismatches", s.fingerprint_mismatches},
                              {"quarantined", quarantined},
                              {"unresolved_fingerprint_rounds", s.unresolved_rounds},
                              {"final_fingerprint", s.final_fingerprint},
                              {"client_fingerprints", per_client},
                              {"payload_up_bits", s.payload_up_bits},
                              {"payload_down_bits", s.payload_down_bits},
                              {"wire_up_bytes", s.wire_up_bytes},
                              {"wire_down_bytes", s.wire_down_bytes},
                              {"payload_up_bytes_per_client_round", static_cast<double>(s.payload_up_bits) / 8.0 / per},
                              {"payload_down_bytes_per_client_round", static_cast<double>(s.payload_down_bits) / 8.0 / per},
                              {"wire_up_bytes_per_client_round", static_cast<double>(s.wire_up_bytes) / per},
                              {"wire_down_bytes_per_client_round", static_cast<double>(s.wire_down_bytes) / per},
                              {"calls", calls}};
  if (!failure.ok()) j["error"] = failure.ToString();
  s.metrics_json = j.dump();
  return s;
}

CoordinatorServer::CoordinatorServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CoordinatorServer::~CoordinatorServer() {
  if (impl_ && impl_->loop.joinable()) {
    Stop();
    (void)Wait();
  }
}

StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(CoordinatorOptions options) {
  RETURN_IF_ERROR(ValidateRunSpec(options.run));
  const int n = options.run.clients();
  if (options.ledger_path.empty()) return InvalidArgument("the coordinator needs a ledger file (its write-ahead log)");
  if (options.quorum < 1 || options.quorum > n)
    return InvalidArgument("quorum must be in [1, {}] (clients), not {}", n, options.quorum);
  if (options.min_clients < 0 || options.min_clients > n)
    return InvalidArgument("min clients must be in [0, {}], not {}", n, options.min_clients);
  if (!IsValidTimeout(options.round_timeout_s) || !IsValidTimeout(options.heartbeat_timeout_s) ||
      !(options.finish_timeout_s == 0.0 || IsValidTimeout(options.finish_timeout_s)))
    return InvalidArgument("round timeout {} s, heartbeat timeout {} s, finish timeout {} s: each must be in (0, {:g}] "
                           "(finish: 0 allowed)",
                           options.round_timeout_s, options.heartbeat_timeout_s, options.finish_timeout_s,
                           kMaxTimeoutSeconds);
  if (!IsValidTimeout(options.limits.handshake_timeout_s) || !IsValidTimeout(options.limits.idle_timeout_s))
    return InvalidArgument("handshake timeout {} s and idle timeout {} s must be in (0, {:g}]",
                           options.limits.handshake_timeout_s, options.limits.idle_timeout_s, kMaxTimeoutSeconds);
  if (options.limits.idle_timeout_s <= options.run.heartbeat_interval_s)
    return InvalidArgument("the idle timeout ({} s) must exceed the heartbeat interval ({} s)",
                           options.limits.idle_timeout_s, options.run.heartbeat_interval_s);
  if (options.heartbeat_timeout_s <= options.run.heartbeat_interval_s)
    return InvalidArgument("heartbeat timeout ({} s) must exceed the heartbeat interval ({} s)",
                           options.heartbeat_timeout_s, options.run.heartbeat_interval_s);
  RETURN_IF_ERROR(CheckHostPort(options.listen, "--listen", 0));
  ASSIGN_OR_RETURN(auto creds, MakeServerCredentials(options.tls_cert_path, options.tls_key_path));
  auto impl = std::make_unique<Impl>(std::move(options));
  RETURN_IF_ERROR(impl->Open());
  const uint64_t open_files = RaiseOpenFileLimit();
  grpc::ServerBuilder builder;
  ApplyServerLimits(impl->o.limits, &builder);
  builder.AddListeningPort(impl->o.listen, creds, &impl->port);
  builder.RegisterService(impl.get());
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.SetMaxSendMessageSize(kMaxResponseBytes);
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0)
    return IoError("cannot listen on {}: the port is in use (another server?) or the host is not this machine's",
                   impl->o.listen);
  impl->Log(fmt::format("{} run, {} clients, {} rounds; listening on port {}{}; connections: handshake within {:g} s, "
                        "closed after {:g} s idle, up to {} open files",
                        FedAlgorithmName(impl->o.run.fed.algo), n, impl->o.run.rounds, impl->port,
                        impl->o.tls_cert_path.empty() ? "" : " (TLS)", impl->o.limits.handshake_timeout_s,
                        impl->o.limits.idle_timeout_s, open_files));
  impl->loop = std::thread(&Impl::RoundLoop, impl.get());
  return std::unique_ptr<CoordinatorServer>(new CoordinatorServer(std::move(impl)));
}

int CoordinatorServer::port() const { return impl_->port; }

void CoordinatorServer::Stop() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->stopping = true;
  impl_->cv.notify_all();
}

StatusOr<CoordinatorSummary> CoordinatorServer::Wait() {
  if (impl_->loop.joinable()) impl_->loop.join();
  // Long polls see `finished` and return; give in-flight calls a moment.
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->server->Wait();
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->ledger) {
    Status s = impl_->ledger->Close();
    impl_->ledger.reset();
    if (!s.ok() && impl_->failure.ok()) impl_->failure = s;
  }
  if (!impl_->failure.ok()) return impl_->failure;
  return impl_->SummaryLocked();
}

}  // namespace seedtune
