#include "net/peer.h"

#include <fmt/ranges.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/limits.h"
#include "net/address.h"
#include "net/server_limits.h"
#include "net/wire.h"
#include "seedtune/v1/peer.grpc.pb.h"
#include "zo/fingerprint.h"
#include "zo/update.h"

namespace seedtune {

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMaxWaitMs = 10000;  // a long poll never holds a server thread longer

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::chrono::system_clock::time_point DeadlineIn(double s) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0));
}

// The address others reach a peer at: the listen address with the bound
// port, a wildcard host replaced by loopback.
std::string AdvertisedAddress(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host = "127.0.0.1";
  return host + ":" + std::to_string(port);
}

nlohmann::json MembersJson(const std::map<int, PeerMember>& members) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, m] : members)
    out.push_back({{"id", id}, {"address", m.address}, {"join_iteration", m.join_iteration},
                   {"last_iteration", m.last_iteration}});
  return out;
}

}  // namespace

struct PeerNode::Impl final : public pwire::Peer::Service {
  PeerOptions o;
  PeerRunSpec run;
  std::string address;         // advertised
  std::string base_fingerprint;
  int port = 0;
  int64_t join_iteration = 1;  // first iteration this peer contributes to
  int64_t last = 0;            // last iteration it contributes to
  std::unique_ptr<grpc::Server> server;
  const Clock::time_point started = Clock::now();

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool ready = false;                          // run, join_iteration and last are set (then immutable)
  std::map<int64_t, pwire::PeerBytes> own;     // published bytes by iteration
  int64_t published_upto = -1;                 // last iteration whose bytes are published
  std::vector<pwire::Join> pending;            // joins accepted, not yet announced
  std::vector<pwire::HistoryEntry> history;    // iteration i at index i (0..completed)
  PeerMembership membership{0, "unset:0"};     // members of completed + 1
  std::map<int64_t, std::set<int>> fetched;    // who fetched our bytes of an iteration
  uint64_t served_response_bytes = 0, served_request_bytes = 0;

  // Channels to other peers, by address.
  std::map<std::string, std::unique_ptr<pwire::Peer::Stub>> stubs;

  void Emit(const nlohmann::ordered_json& j) {
    if (o.on_metrics) o.on_metrics(j.dump());
  }
  void Log(const std::string& line) {
    if (o.on_log) return o.on_log(line);
    std::fprintf(stderr, "peer %d [%.2f s]: %s\n", o.id, Since(started), line.c_str());
  }
  // Refused calls are logged at most 20 per 10 s (a stranger's flood must
  // not fill the disk); the next line let through says how many were not.
  std::mutex refusal_mu;
  LogRateLimiter refusal_log{20, std::chrono::seconds(10)};
  void LogRefusal(const std::string& line) {
    std::lock_guard<std::mutex> lock(refusal_mu);
    std::string note;
    const bool show = refusal_log.Allow(&note);
    if (!note.empty()) Log(note);
    if (show) Log(line);
  }

  pwire::Peer::Stub* StubFor(const std::string& addr) {
    auto& s = stubs[addr];
    if (!s) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(kMaxPeerResponseBytes);
      args.SetMaxSendMessageSize(kMaxPeerRequestBytes);
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      s = pwire::Peer::NewStub(grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args));
    }
    return s.get();
  }

  // ---- server side ----

  // The run and the members this peer knows (mu held).
  void FillHello(pwire::HelloResponse* resp) const {
    ToWire(run, resp->mutable_config());
    resp->set_completed_iteration(static_cast<int64_t>(history.size()) - 1);
    for (const auto& [id, m] : membership.members()) {
      auto* w = resp->add_members();
      w->set_id(id);
      w->set_address(m.address);
      w->set_join_iteration(m.join_iteration);
      w->set_last_iteration(m.last_iteration);
    }
  }

  // UNAVAILABLE (callers retry) until the run and this peer's iterations are set.
  bool Ready() {
    std::lock_guard<std::mutex> lock(mu);
    return ready;
  }
  static grpc::Status Starting() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this peer is still starting"); }

  grpc::Status Hello(grpc::ServerContext* ctx, const pwire::HelloRequest* req, pwire::HelloResponse* resp) override {
    if (!Ready()) return Starting();
    Status s = HelloChecked(*req, resp);
    if (!s.ok()) LogRefusal(fmt::format("refused Hello from {}: {}", ctx->peer(), s.message()));
    return ToGrpc(s);
  }
  Status HelloChecked(const pwire::HelloRequest& req, pwire::HelloResponse* resp) {
    RETURN_IF_ERROR(CheckPeerProtocolVersion(req.protocol_version()));
    if (req.id() < 0 || req.id() >= run.data.clients)
      return InvalidArgument("unknown peer {} (ids are 0..{})", req.id(), run.data.clients - 1);
    if (req.probe()) {
      std::lock_guard<std::mutex> lock(mu);
      FillHello(resp);
      return Status::Ok();
    }
    RETURN_IF_ERROR(CheckPeerAddress(req.address()));
    if (req.base_fingerprint() != run.base_fingerprint)
      return FailedPrecondition("the base model's fingerprint is {}, not {}", run.base_fingerprint,
                                req.base_fingerprint());
    std::lock_guard<std::mutex> lock(mu);
    if (req.id() == o.id || membership.EverMember(req.id()))
      return FailedPrecondition("peer {} is or was a member of this run: ids are not reused", req.id());
    for (const auto& j : pending)
      if (j.id() == req.id()) return FailedPrecondition("peer {} is already joining", req.id());
    const int64_t announce = published_upto + 1;  // our next PeerBytes carries the join
    const int64_t t0 = announce + 1;
    if (t0 > run.onebyte.iterations)
      return FailedPrecondition("too late to join: the run ends at iteration {}", run.onebyte.iterations);
    if (last <= announce) {
      std::vector<std::string> others;
      for (const auto& [id, m] : membership.members())
        if (id != o.id) others.push_back(m.address);
      return FailedPrecondition("this peer leaves after iteration {}: join through another member ({})", last,
                                fmt::join(others, ", "));
    }
    pwire::Join j;
    j.set_id(req.id());
    j.set_address(req.address());
    pending.push_back(j);
    cv.notify_all();  // the founder waits for --min-peers
    FillHello(resp);
    resp->set_join_iteration(t0);
    Log(fmt::format("peer {} ({}) joins from iteration {}", req.id(), req.address(), t0));
    Emit({{"event", "accepted_join"}, {"peer", o.id}, {"joiner", req.id()}, {"join_iteration", t0}});
    return Status::Ok();
  }

  grpc::Status GetBytes(grpc::ServerContext* ctx, const pwire::GetBytesRequest* req,
                        pwire::GetBytesResponse* resp) override {
    if (!Ready()) return Starting();
    Status s = GetBytesChecked(*req, resp);
    if (!s.ok()) LogRefusal(fmt::format("refused GetBytes from {}: {}", ctx->peer(), s.message()));
    return ToGrpc(s);
  }
  Status GetBytesChecked(const pwire::GetBytesRequest& req, pwire::GetBytesResponse* resp) {
    RETURN_IF_ERROR(CheckPeerProtocolVersion(req.protocol_version()));
    if (req.requester() < 0 || req.requester() >= run.data.clients || req.requester() == o.id)
      return InvalidArgument("unknown peer {}", req.requester());
    const int64_t t = req.iteration();
    if (t < 0 || t > run.onebyte.iterations)
      return InvalidArgument("iteration {} is outside the run (0..{})", t, run.onebyte.iterations);
    const int64_t first = o.bootstrap.empty() ? 0 : join_iteration;
    if (t < first || t > last)
      return FailedPrecondition("peer {} contributes to iterations {}..{}, not {}", o.id, first, last, t);
    const auto wait = std::chrono::milliseconds(std::min(req.wait_ms(), kMaxWaitMs));
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, wait, [&] { return stopping || own.count(t) != 0; });
    served_request_bytes += req.ByteSizeLong();
    auto it = own.find(t);
    if (it != own.end()) {
      resp->set_ready(true);
      *resp->mutable_bytes() = it->second;
      fetched[t].insert(req.requester());
      cv.notify_all();
    }
    served_response_bytes += resp->ByteSizeLong();
    return Status::Ok();
  }

  grpc::Status GetHistory(grpc::ServerContext* ctx, const pwire::GetHistoryRequest* req,
                          pwire::GetHistoryResponse* resp) override {
    if (!Ready()) return Starting();
    Status s = GetHistoryChecked(*req, resp);
    if (!s.ok()) LogRefusal(fmt::format("refused GetHistory from {}: {}", ctx->peer(), s.message()));
    return ToGrpc(s);
  }
  Status GetHistoryChecked(const pwire::GetHistoryRequest& req, pwire::GetHistoryResponse* resp) {
    RETURN_IF_ERROR(CheckPeerProtocolVersion(req.protocol_version()));
    if (req.requester() < 0 || req.requester() >= run.data.clients)
      return InvalidArgument("unknown peer {}", req.requester());
    if (req.since_iteration() < -1 || req.since_iteration() > run.onebyte.iterations)
      return InvalidArgument("since_iteration {} is outside the run", req.since_iteration());
    const auto wait = std::chrono::milliseconds(std::min(req.wait_ms(), kMaxWaitMs));
    std::unique_lock<std::mutex> lock(mu);
    const auto since = req.since_iteration();
    cv.wait_for(lock, wait, [&] { return stopping || static_cast<int64_t>(history.size()) - 1 > since; });
    size_t budget = 0;
    for (int64_t t = since + 1; t < static_cast<int64_t>(history.size()); ++t) {
      budget += history[t].ByteSizeLong();
      if (budget > kHistoryBudgetBytes && resp->entries_size() > 0) break;
      *resp->add_entries() = history[t];
    }
    resp->set_completed_iteration(static_cast<int64_t>(history.size()) - 1);
    return Status::Ok();
  }

  // ---- client side ----

  // Retries transient failures until `deadline`.
  template <typename Fn>
  Status Call(const char* name, const std::string& addr, Clock::time_point deadline, Fn&& fn) {
    auto backoff = std::chrono::milliseconds(100);
    for (;;) {
      grpc::ClientContext ctx;
      ctx.set_deadline(DeadlineIn(o.poll_ms / 1000.0 + 5.0));
      grpc::Status s = fn(&ctx);
      if (s.ok()) return Status::Ok();
      if (!IsTransient(s)) return FromGrpc(s, fmt::format("{} {}", name, addr));
      if (Clock::now() > deadline)
        return IoError("{} {}: unreachable for {:.0f} s ({})", name, addr, o.peer_timeout_s, s.error_message());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }

  // One member's bytes for t (long polls until ready or peer_timeout_s).
  StatusOr<pwire::PeerBytes> Fetch(const PeerMember& m, int64_t t, uint64_t* sent, uint64_t* received) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.peer_timeout_s * 1000));
    pwire::GetBytesRequest req;
    req.set_protocol_version(kPeerProtocolVersion);
    req.set_requester(o.id);
    req.set_iteration(t);
    req.set_wait_ms(o.poll_ms);
    for (;;) {
      pwire::GetBytesResponse resp;
      RETURN_IF_ERROR(Call("GetBytes", m.address, deadline, [&](grpc::ClientContext* ctx) {
        return StubFor(m.address)->GetBytes(ctx, req, &resp);
      }));
      *sent += req.ByteSizeLong();
      *received += resp.ByteSizeLong();
      if (resp.ready()) {
        RETURN_IF_ERROR(CheckPeerBytes(resp.bytes(), t, m.id, run.onebyte.samples, run.data.clients));
        return resp.bytes();
      }
      if (Clock::now() > deadline)
        return IoError("peer {} ({}) has not published its bytes for iteration {} after {:.0f} s; a peer that stops "
                       "without announcing its leave is not handled",
                       m.id, m.address, t, o.peer_timeout_s);
    }
  }

  Status SayHello() {
    pwire::HelloRequest req;
    req.set_protocol_version(kPeerProtocolVersion);
    req.set_id(o.id);
    req.set_address(address);
    req.set_base_fingerprint(base_fingerprint);
    req.set_probe(true);
    pwire::HelloResponse resp;
    const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.peer_timeout_s * 1000));
    RETURN_IF_ERROR(Call("Hello", o.bootstrap, deadline, [&](grpc::ClientContext* ctx) {
      return StubFor(o.bootstrap)->Hello(ctx, req, &resp);
    }));
    ASSIGN_OR_RETURN(run, FromWire(resp.config()));
    if (run.base_fingerprint != base_fingerprint)
      return FailedPrecondition("the run's base model is {}, this peer holds {}", run.base_fingerprint,
                                base_fingerprint);
    if (o.id >= run.data.clients) return InvalidArgument("peer id {} is outside the run's 0..{}", o.id, run.data.clients - 1);
    if (o.check_run) RETURN_IF_ERROR(o.check_run(run));
    // Now join for real (the run cannot change: it is fixed by the founder).
    req.set_probe(false);
    resp.Clear();
    RETURN_IF_ERROR(Call("Hello", o.bootstrap, deadline, [&](grpc::ClientContext* ctx) {
      return StubFor(o.bootstrap)->Hello(ctx, req, &resp);
    }));
    ASSIGN_OR_RETURN(PeerRunSpec joined, FromWire(resp.config()));
    pwire::PeerRunConfig a, b;
    ToWire(run, &a);
    ToWire(joined, &b);
    if (a.SerializeAsString() != b.SerializeAsString())
      return FailedPrecondition("the bootstrap peer answered two different run configurations");
    join_iteration = resp.join_iteration();
    if (join_iteration < 1 || join_iteration > run.onebyte.iterations)
      return InvalidArgument("bootstrap answered join iteration {} outside 1..{}", join_iteration,
                             run.onebyte.iterations);
    return Status::Ok();
  }

  // A joiner: replays every iteration before join_iteration from the base,
  // fetched from the bootstrap peer, checking each fingerprint.
  Status CatchUp(ModelWeights* model, ComputeBackend& backend, PeerResult* result) {
    PeerMembership m(run.founder_id, run.founder_address);
    int64_t since = -1;
    while (m.iteration() < join_iteration) {
      pwire::GetHistoryRequest req;
      req.set_protocol_version(kPeerProtocolVersion);
      req.set_requester(o.id);
      req.set_since_iteration(since);
      req.set_wait_ms(o.poll_ms);
      pwire::GetHistoryResponse resp;
      const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.peer_timeout_s * 1000));
      RETURN_IF_ERROR(Call("GetHistory", o.bootstrap, deadline, [&](grpc::ClientContext* c) {
        return StubFor(o.bootstrap)->GetHistory(c, req, &resp);
      }));
      result->catchup_wire_bytes += resp.ByteSizeLong();
      for (const auto& e : resp.entries()) {
        if (m.iteration() >= join_iteration) break;
        if (e.iteration() != m.iteration())
          return InvalidArgument("history: entry for iteration {} where {} was due", e.iteration(), m.iteration());
        std::vector<pwire::PeerBytes> contribs(e.contributions().begin(), e.contributions().end());
        const auto ids = m.ids();
        if (contribs.size() != ids.size())
          return InvalidArgument("history: iteration {} has {} contributions for {} members", e.iteration(),
                                 contribs.size(), ids.size());
        for (size_t i = 0; i < ids.size(); ++i)
          RETURN_IF_ERROR(CheckPeerBytes(contribs[i], e.iteration(), ids[i], run.onebyte.samples, run.data.clients));
        if (e.iteration() > 0)
          backend.ApplyUpdates(model, OneByteUpdates(PeerRecords(contribs, run.onebyte.seed), run.onebyte.lr),
                               run.onebyte.dist);
        const uint64_t fp = backend.Fingerprint(*model);
        if (fp != e.fingerprint_after())
          return DataLoss("catch-up: after replaying iteration {} this peer holds {}, the bootstrap peer reports {}",
                          e.iteration(), FingerprintHex(fp), FingerprintHex(e.fingerprint_after()));
        RETURN_IF_ERROR(m.Advance(contribs));
        {
          std::lock_guard<std::mutex> lock(mu);
          history.push_back(e);
          membership = m;
        }
        cv.notify_all();
        since = e.iteration();
        if (e.iteration() > 0) ++result->replayed;
        Emit({{"event", "replayed"}, {"peer", o.id}, {"iteration", e.iteration()}, {"fingerprint", FingerprintHex(fp)},
              {"bootstrap_fingerprint", FingerprintHex(e.fingerprint_after())}});
      }
    }
    const PeerMember* me = m.Find(o.id);
    if (!m.IsMember(o.id) || me == nullptr || me->address != address)
      return FailedPrecondition("peer id {} was announced twice; another peer took it at iteration {}", o.id,
                                join_iteration);
    Log(fmt::format("caught up: replayed {} iterations from {}; every fingerprint matches the bootstrap's",
                    join_iteration - 1, o.bootstrap));
    return Status::Ok();
  }

  // Publishes this peer's bytes for t (carrying the pending joins).
  void Publish(pwire::PeerBytes bytes) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& j : pending) *bytes.add_joins() = std::move(j);
    pending.clear();
    own[bytes.iteration()] = std::move(bytes);
    published_upto = own.rbegin()->first;
    cv.notify_all();
  }

  Status Founder(ModelWeights* model, ComputeBackend& backend) {
    {
      std::unique_lock<std::mutex> lock(mu);
      const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.peer_timeout_s * 1000));
      if (!cv.wait_until(lock, deadline, [&] { return static_cast<int>(pending.size()) + 1 >= o.min_peers; }))
        return FailedPrecondition("only {} of {} peers joined within {:.0f} s", pending.size() + 1, o.min_peers,
                                  o.peer_timeout_s);
    }
    pwire::PeerBytes genesis;
    genesis.set_iteration(0);
    genesis.set_machine(o.id);
    genesis.set_fingerprint_before(backend.Fingerprint(*model));
    Publish(genesis);
    std::lock_guard<std::mutex> lock(mu);
    pwire::HistoryEntry e;
    e.set_iteration(0);
    *e.add_contributions() = own[0];
    e.set_fingerprint_after(genesis.fingerprint_before());
    RETURN_IF_ERROR(membership.Advance({own[0]}));
    history.push_back(std::move(e));
    cv.notify_all();
    return Status::Ok();
  }

  StatusOr<PeerResult> Run(ModelWeights* model, std::span<const EncodedExample> shard, Objective objective,
                           ThreadingContext& ctx) {
    PeerResult r;
    r.join_iteration = join_iteration;
    if (shard.size() < static_cast<size_t>(run.onebyte.batch_size))
      return InvalidArgument("batch {} exceeds this peer's {} training examples", run.onebyte.batch_size, shard.size());
    // Serves the model for the whole run: iterations update it in place.
    ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> backend, MakeBackend(o.backend, *model, ctx));
    const std::string base_fp = FingerprintHex(backend->Fingerprint(*model));
    if (base_fp != run.base_fingerprint)
      return FailedPrecondition("this peer's model is {}, the run's base is {}", base_fp, run.base_fingerprint);
    if (o.bootstrap.empty())
      RETURN_IF_ERROR(Founder(model, *backend));
    else
      RETURN_IF_ERROR(CatchUp(model, *backend, &r));
    uint64_t fp = backend->Fingerprint(*model);
    uint64_t wire_sent = 0, wire_received = 0, payload_down = 0;
    auto pace = Clock::now() - std::chrono::hours(1);
    std::vector<int> last_members;
    for (int64_t t = join_iteration; t <= last; ++t) {
      PeerMembership m = [&] {
        std::lock_guard<std::mutex> lock(mu);
        return membership;
      }();
      if (m.iteration() != t || !m.IsMember(o.id))
        return InternalError("peer {} is not a member of iteration {}", o.id, t);
      if (o.min_iteration_s > 0.0) {
        std::this_thread::sleep_until(pace + std::chrono::milliseconds(static_cast<int64_t>(o.min_iteration_s * 1000)));
        pace = Clock::now();
      }
      double loss_sum = 0.0;
      std::vector<OneByteRecord> mine;
      ASSIGN_OR_RETURN(mine, OneByteMachineRecords(*backend, shard, objective, run.onebyte, t, o.id, &loss_sum));
      pwire::PeerBytes b;
      b.set_iteration(t);
      b.set_machine(o.id);
      std::string bytes;
      for (const auto& rec : mine) bytes.push_back(static_cast<char>(rec.byte));
      b.set_bytes(bytes);
      b.set_fingerprint_before(fp);
      b.set_last(t == last && t < run.onebyte.iterations);  // everyone stops after the final iteration anyway
      Publish(b);
      std::vector<pwire::PeerBytes> contribs;
      {
        std::lock_guard<std::mutex> lock(mu);
        contribs.push_back(own[t]);
      }
      uint64_t sent = 0, received = 0;
      for (int id : m.ids()) {
        if (id == o.id) continue;
        ASSIGN_OR_RETURN(auto got, Fetch(*m.Find(id), t, &sent, &received));
        if (got.fingerprint_before() != fp)
          return DataLoss("peer {} held {} after iteration {}, this peer holds {}", id,
                          FingerprintHex(got.fingerprint_before()), t - 1, FingerprintHex(fp));
        payload_down += static_cast<uint64_t>(got.bytes().size());
        contribs.push_back(std::move(got));
      }
      std::sort(contribs.begin(), contribs.end(), [](const auto& a, const auto& c) { return a.machine() < c.machine(); });
      const auto records = PeerRecords(contribs, run.onebyte.seed);
      backend->ApplyUpdates(model, OneByteUpdates(records, run.onebyte.lr), run.onebyte.dist);
      fp = backend->Fingerprint(*model);
      wire_sent += sent;
      wire_received += received;
      pwire::HistoryEntry e;
      e.set_iteration(t);
      for (const auto& c : contribs) *e.add_contributions() = c;
      e.set_fingerprint_after(fp);
      nlohmann::json members;
      {
        std::lock_guard<std::mutex> lock(mu);
        history.push_back(std::move(e));
        RETURN_IF_ERROR(m.Advance(contribs));
        membership = m;
        members = MembersJson(membership.members());
      }
      cv.notify_all();
      ++r.iterations;
      r.last_iteration = t;
      last_members = [&] {
        std::vector<int> ids;
        for (const auto& c : contribs) ids.push_back(c.machine());
        return ids;
      }();
      const std::string fph = FingerprintHex(fp);
      Log(fmt::format("iteration {}: {} bytes from peers {}; loss {:.4f}; fingerprint {}", t, records.size(),
                      fmt::join(last_members, ","), loss_sum / run.onebyte.samples, fph));
      Emit({{"event", "iteration"},
            {"peer", o.id},
            {"iteration", t},
            {"contributors", last_members},
            {"bytes", records.size()},
            {"loss", loss_sum / run.onebyte.samples},
            {"fingerprint", fph},
            {"payload_up_bytes", run.onebyte.samples},
            {"payload_down_bytes", records.size() - static_cast<size_t>(run.onebyte.samples)},
            {"fetch_wire_up_bytes", sent},
            {"fetch_wire_down_bytes", received},
            {"next_members", members}});
    }
    // Linger until every other member of our last iteration has our bytes.
    {
      std::unique_lock<std::mutex> lock(mu);
      const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.peer_timeout_s * 1000));
      const bool all = cv.wait_until(lock, deadline, [&] {
        for (int id : last_members)
          if (id != o.id && fetched[last].count(id) == 0) return false;
        return true;
      });
      if (!all) Log("some members did not fetch the last bytes before the timeout");
    }
    r.fingerprint = FingerprintHex(fp);
    const double n = r.iterations > 0 ? static_cast<double>(r.iterations) : 1.0;
    uint64_t served_resp, served_req;
    nlohmann::json members;
    {
      std::lock_guard<std::mutex> lock(mu);
      served_resp = served_response_bytes;
      served_req = served_request_bytes;
      members = MembersJson(membership.members());
    }
    r.payload_up_per_iteration = run.onebyte.samples;
    r.payload_down_per_iteration = static_cast<double>(payload_down) / n;
    r.wire_up_per_iteration = static_cast<double>(wire_sent + served_resp) / n;
    r.wire_down_per_iteration = static_cast<double>(wire_received + served_req) / n;
    nlohmann::ordered_json s = {{"event", "summary"},
                                {"peer", o.id},
                                {"join_iteration", r.join_iteration},
                                {"last_iteration", r.last_iteration},
                                {"iterations", r.iterations},
                                {"replayed", r.replayed},
                                {"fingerprint", r.fingerprint},
                                {"payload_up_bytes_per_iteration", r.payload_up_per_iteration},
                                {"payload_down_bytes_per_iteration", r.payload_down_per_iteration},
                                {"wire_up_bytes_per_iteration", r.wire_up_per_iteration},
                                {"wire_down_bytes_per_iteration", r.wire_down_per_iteration},
                                {"catchup_wire_bytes", r.catchup_wire_bytes},
                                {"members_after", members}};
    r.summary_json = s.dump();
    Emit(s);
    return r;
  }
};

PeerNode::PeerNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerNode::~PeerNode() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    impl_->server->Wait();
  }
}

const PeerRunSpec& PeerNode::run() const { return impl_->run; }
int PeerNode::port() const { return impl_->port; }
int64_t PeerNode::join_iteration() const { return impl_->join_iteration; }

StatusOr<std::unique_ptr<PeerNode>> PeerNode::Start(PeerOptions options, const std::string& base_fingerprint) {
  if (options.id < 0 || options.id >= 65536) return InvalidArgument("peer id must be in [0, 65536), not {}", options.id);
  if (options.min_peers < 1) return InvalidArgument("min peers must be at least 1, not {}", options.min_peers);
  if (options.leave_after < 0) return InvalidArgument("--leave-after must be >= 0, not {}", options.leave_after);
  if (!IsValidTimeout(options.peer_timeout_s) ||
      !(options.min_iteration_s == 0.0 || IsValidTimeout(options.min_iteration_s)))
    return InvalidArgument("the peer timeout ({} s) must be in (0, {:g}] and the pace ({} s) 0 or in that range",
                           options.peer_timeout_s, kMaxTimeoutSeconds, options.min_iteration_s);
  if (!IsFingerprintHex(base_fingerprint))
    return InvalidArgument("base fingerprint '{}' is not 16 hex digits", base_fingerprint);
  RETURN_IF_ERROR(CheckHostPort(options.listen, "--listen", 0));
  if (!options.bootstrap.empty()) RETURN_IF_ERROR(CheckReachableAddress(options.bootstrap, "--bootstrap"));
  auto impl = std::make_unique<Impl>();
  impl->o = std::move(options);
  impl->base_fingerprint = base_fingerprint;
  RaiseOpenFileLimit();
  grpc::ServerBuilder builder;
  ApplyServerLimits(ServerLimits{}, &builder);
  builder.AddListeningPort(impl->o.listen, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl.get());
  builder.SetMaxReceiveMessageSize(kMaxPeerRequestBytes);
  builder.SetMaxSendMessageSize(kMaxPeerResponseBytes);
  // The run is set before the first call can see it: the founder's now, a
  // joiner's from Hello below (until then, calls are refused as "not ready").
  Impl* p = impl.get();
  if (p->o.bootstrap.empty()) {
    p->run = p->o.run;
    p->run.base_fingerprint = base_fingerprint;
    p->run.founder_id = p->o.id;
    p->run.data.seed = p->run.onebyte.seed;
    p->join_iteration = 1;
  }
  p->server = builder.BuildAndStart();
  if (!p->server || p->port == 0)
    return IoError("cannot listen on {}: the port is in use (another peer?) or the host is not this machine's",
                   p->o.listen);
  p->address = p->o.advertise.empty() ? AdvertisedAddress(p->o.listen, p->port) : p->o.advertise;
  RETURN_IF_ERROR(CheckPeerAddress(p->address));
  if (p->o.bootstrap.empty()) {
    std::lock_guard<std::mutex> lock(p->mu);
    p->run.founder_address = p->address;
    RETURN_IF_ERROR(ValidatePeerRunSpec(p->run));
    p->membership = PeerMembership(p->run.founder_id, p->run.founder_address);
    p->published_upto = -1;
  } else {
    RETURN_IF_ERROR(p->SayHello());
    std::lock_guard<std::mutex> lock(p->mu);
    p->published_upto = p->join_iteration - 1;
    p->membership = PeerMembership(p->run.founder_id, p->run.founder_address);
  }
  {
    std::lock_guard<std::mutex> lock(p->mu);
    const int64_t end = p->run.onebyte.iterations;
    p->last = p->o.leave_after > 0 ? std::min(p->o.leave_after, end) : end;
    if (p->last < p->join_iteration)
      return InvalidArgument("this peer would leave after iteration {}, before it joins at {}", p->last,
                             p->join_iteration);
    p->ready = true;
  }
  p->Log(fmt::format("listening on {} ({}); {} iterations {}..{}", p->o.listen, p->address,
                     p->o.bootstrap.empty() ? "founding the run," : "joined through " + p->o.bootstrap + ",",
                     p->join_iteration, p->last));
  p->Emit({{"event", "joined"}, {"peer", p->o.id}, {"address", p->address}, {"join_iteration", p->join_iteration},
           {"last_iteration", p->last}, {"bootstrap", p->o.bootstrap}});
  return std::unique_ptr<PeerNode>(new PeerNode(std::move(impl)));
}

StatusOr<PeerResult> PeerNode::Run(ModelWeights* model, std::span<const EncodedExample> shard, Objective objective,
                                   ThreadingContext& ctx) {
  return impl_->Run(model, shard, objective, ctx);
}

}  // namespace seedtune
