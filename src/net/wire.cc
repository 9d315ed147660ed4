#include "net/wire.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "core/little_endian.h"
#include "fed/algorithms/fedkseed.h"
#include "fed/messages.h"

namespace seedtune {

namespace {

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace

void ToWire(const RunSpec& s, wire::RunConfig* c) {
  c->Clear();
  c->set_algorithm(FedAlgorithmName(s.fed.algo));
  c->set_lr(s.fed.lr);
  c->set_eps(s.fed.eps);
  c->set_batch(s.fed.batch_size);
  c->set_run_seed(s.fed.seed);
  c->set_distribution(s.fed.dist == ZDistribution::kGaussian ? "gauss" : "rademacher");
  c->set_aggregate(s.aggregate);
  c->set_clients(s.data.clients);
  c->set_rounds(s.rounds);
  c->set_task(s.data.task);
  c->set_partition(s.data.partition);
  c->set_train_n(s.data.train_n);
  c->set_dev_n(s.data.dev_n);
  c->set_max_length(s.data.max_length);
  c->set_min_per_client(s.data.min_per_client);
  c->set_prompt_template(s.data.user.prompt_template);
  c->set_label_words(s.data.user.label_words);
  c->set_base_fingerprint(s.base_fingerprint);
  c->set_tokens_digest(s.tokens_digest);
  c->set_heartbeat_interval_s(s.heartbeat_interval_s);
  c->set_max_abs_scalar(s.fed.max_abs_scalar);
  for (const auto& [name, value] : s.fed.params) (*c->mutable_params())[name] = value;
}

StatusOr<RunSpec> FromWire(const wire::RunConfig& c) {
  RunSpec s;
  ASSIGN_OR_RETURN(s.fed.algo, ParseFedAlgorithm(c.algorithm()));
  s.fed.lr = c.lr();
  s.fed.eps = c.eps();
  s.fed.batch_size = c.batch();
  s.fed.seed = c.run_seed();
  if (c.distribution() != "gauss" && c.distribution() != "rademacher")
    return InvalidArgument("run config: unknown z distribution '{}'", c.distribution());
  s.fed.dist = c.distribution() == "gauss" ? ZDistribution::kGaussian : ZDistribution::kRademacher;
  s.aggregate = c.aggregate();
  auto rule = ParseScalarRule(c.aggregate());
  if (!rule.ok()) return InvalidArgument("run config: {}", rule.status().message());
  s.fed.rule = rule->rule;
  s.fed.trim_fraction = rule->trim_fraction;
  s.rounds = c.rounds();
  s.data.task = c.task();
  s.data.partition = c.partition();
  s.data.clients = c.clients();
  s.data.train_n = c.train_n();
  s.data.dev_n = c.dev_n();
  s.data.max_length = c.max_length();
  s.data.min_per_client = c.min_per_client();
  s.data.user.prompt_template = c.prompt_template();
  s.data.user.label_words = c.label_words();
  s.data.seed = s.fed.seed;
  s.base_fingerprint = c.base_fingerprint();
  s.tokens_digest = c.tokens_digest();
  s.heartbeat_interval_s = c.heartbeat_interval_s();
  s.fed.max_abs_scalar = c.max_abs_scalar();
  for (const auto& [name, value] : c.params()) s.fed.params.emplace(name, value);
  Status v = ValidateRunSpec(s);
  if (!v.ok()) return InvalidArgument("run config: {}", v.message());
  return s;
}

void ToWire(const RoundPlan& p, wire::RoundPlan* out) {
  out->Clear();
  out->set_round(p.round);
  for (int c : p.participants) out->add_participants(c);
  out->set_step_seed(p.step_seed);
  for (float q : p.seed_probabilities) out->add_seed_probabilities(q);
}

StatusOr<RoundPlan> FromWire(const wire::RoundPlan& w, const RunSpec& spec) {
  RoundPlan p;
  p.round = w.round();
  if (p.round < 1 || p.round > spec.rounds) return InvalidArgument("plan for round {} of a {}-round run", p.round, spec.rounds);
  for (int i = 0; i < w.participants_size(); ++i) {
    const int c = w.participants(i);
    if (c < 0 || c >= spec.clients()) return InvalidArgument("plan names client {} of {}", c, spec.clients());
    if (i > 0 && c <= w.participants(i - 1)) return InvalidArgument("plan participants are not ascending");
    p.participants.push_back(c);
  }
  if (p.participants.empty()) return InvalidArgument("plan of round {} has no participants", p.round);
  p.step_seed = w.step_seed();
  if (w.seed_probabilities_size() > 0) {
    if (spec.fed.algo != FedAlgorithm::kFedKSeedPro || w.seed_probabilities_size() != FedKSeedNumSeeds(spec.fed))
      return InvalidArgument("plan carries {} seed probabilities for {} with K = {}", w.seed_probabilities_size(),
                             FedAlgorithmName(spec.fed.algo), FedKSeedNumSeeds(spec.fed));
    for (float q : w.seed_probabilities()) {
      if (!std::isfinite(q) || q < 0.0f) return InvalidArgument("plan has a seed probability {}", q);
      p.seed_probabilities.push_back(q);
    }
  }
  return p;
}

void ToWire(const ClientReply& r, wire::SubmitReplyRequest* out) {
  out->Clear();
  out->set_protocol_version(kFederationProtocolVersion);
  out->set_client_id(r.client);
  out->set_round(r.round);
  out->set_loss(r.loss);
  out->set_sign(r.sign);
  out->set_scalar(static_cast<float>(r.scalar));
  if (!r.pairs.empty()) out->set_seed_scalars(EncodeSeedScalars(r.pairs));
  if (!r.scalars.empty()) {
    std::string* bytes = out->mutable_scalars();
    bytes->reserve(4 * r.scalars.size());
    for (float g : r.scalars) PutLe(bytes, FloatToBits(g), 4);
  }
}

StatusOr<ClientReply> FromWire(const wire::SubmitReplyRequest& w, const FedOptions& o) {
  ClientReply r;
  r.client = w.client_id();
  r.round = w.round();
  r.loss = w.loss();
  if (!std::isfinite(r.loss)) return InvalidArgument("client {}: non-finite loss", r.client);
  const bool fedkseed = IsFedKSeed(o.algo);
  if (o.algo != FedAlgorithm::kFeedSign && w.sign() != 0)
    return InvalidArgument("client {}: a sign in a {} reply", r.client, FedAlgorithmName(o.algo));
  if (o.algo != FedAlgorithm::kZoFedSgd && w.scalar() != 0.0f)
    return InvalidArgument("client {}: a scalar in a {} reply", r.client, FedAlgorithmName(o.algo));
  if (!fedkseed && !w.seed_scalars().empty())
    return InvalidArgument("client {}: seed-scalar pairs in a {} reply", r.client, FedAlgorithmName(o.algo));
  r.sign = w.sign();
  r.scalar = static_cast<double>(w.scalar());  // f32 is what the simulation aggregates too
  if (!std::isfinite(r.scalar)) return InvalidArgument("client {}: non-finite scalar", r.client);
  if (fedkseed) {
    const int tau = FedKSeedLocalSteps(o);
    if (w.seed_scalars().size() > 6 * static_cast<size_t>(tau))
      return InvalidArgument("client {}: {} bytes of seed-scalar pairs for tau = {} ({} bytes at most)", r.client,
                             w.seed_scalars().size(), tau, 6 * tau);
    auto pairs = DecodeSeedScalars(w.seed_scalars(), FedKSeedNumSeeds(o));
    if (!pairs.ok()) return InvalidArgument("client {}: {}", r.client, pairs.status().message());
    r.pairs = std::move(*pairs);
  }
  // The list's length is the algorithm's (Strategy::ValidateReply checks it
  // and refuses a list where the algorithm takes none); the message size
  // limit bounds it here.
  if (w.scalars().size() % 4 != 0)
    return InvalidArgument("client {}: {} bytes of scalars is not a whole number of f32", r.client, w.scalars().size());
  r.scalars.resize(w.scalars().size() / 4);
  for (size_t i = 0; i < r.scalars.size(); ++i) {
    r.scalars[i] = BitsToFloat(static_cast<uint32_t>(GetLe(w.scalars(), 4 * i, 4)));
    if (!std::isfinite(r.scalars[i])) return InvalidArgument("client {}: scalar {} is not finite", r.client, i);
  }
  return r;
}

std::string PackUpdates(const std::vector<ZUpdate>& updates) {
  std::string s;
  s.reserve(16 * updates.size());
  for (const auto& u : updates) {
    PutLe(&s, u.seed, 8);
    PutLe(&s, FloatToBits(u.alpha), 4);
    PutLe(&s, FloatToBits(u.decay), 4);
  }
  return s;
}

StatusOr<std::vector<ZUpdate>> UnpackUpdates(const std::string& bytes) {
  if (bytes.size() % 16 != 0) return InvalidArgument("update list of {} bytes is not a multiple of 16", bytes.size());
  std::vector<ZUpdate> out(bytes.size() / 16);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].seed = GetLe(bytes, 16 * i, 8);
    out[i].alpha = BitsToFloat(static_cast<uint32_t>(GetLe(bytes, 16 * i + 8, 4)));
    out[i].decay = BitsToFloat(static_cast<uint32_t>(GetLe(bytes, 16 * i + 12, 4)));
    if (!std::isfinite(out[i].alpha) || !std::isfinite(out[i].decay))
      return InvalidArgument("update {} has a non-finite coefficient", i);
    // The bound the ledger keeps (docs/ledger.md): a client applies what it
    // receives, so a decay the ledger would refuse must not reach the model.
    if (!(out[i].decay > 0.0f) || out[i].decay > 2.0f)
      return InvalidArgument("update {} has decay {} (outside (0, 2])", i, out[i].decay);
  }
  return out;
}

void ToWire(const LedgerRecord& r, const std::vector<uint64_t>& candidates, wire::RoundRecord* out) {
  out->Clear();
  out->set_round(static_cast<int64_t>(r.round));
  std::string compact;
  if (!candidates.empty()) {
    std::unordered_map<uint64_t, uint16_t> index;
    for (size_t j = 0; j < candidates.size(); ++j) index.emplace(candidates[j], static_cast<uint16_t>(j));
    std::vector<std::pair<uint16_t, float>> pairs;
    for (const ZUpdate& u : r.updates) {
      auto it = index.find(u.seed);
      if (it == index.end() || u.decay != 1.0f) break;
      pairs.emplace_back(it->second, u.alpha);
    }
    if (pairs.size() == r.updates.size()) compact = EncodeSeedScalars(pairs);
  }
  if (!compact.empty()) out->set_candidate_updates(compact);
  else out->set_updates(PackUpdates(r.updates));
  for (uint32_t c : r.participants) out->add_participants(static_cast<int32_t>(c));
  out->set_has_fingerprint(r.has_fingerprint);
  if (r.has_fingerprint) out->set_fingerprint(r.fingerprint);
}

StatusOr<LedgerRecord> FromWire(const wire::RoundRecord& w, const std::vector<uint64_t>& candidates) {
  LedgerRecord r;
  if (w.round() < 1) return InvalidArgument("record for round {}", w.round());
  r.round = static_cast<uint64_t>(w.round());
  if (!w.candidate_updates().empty()) {
    if (!w.updates().empty()) return InvalidArgument("record of round {} has two update lists", w.round());
    if (candidates.empty()) return InvalidArgument("record of round {} names candidate seeds outside FedKSeed", w.round());
    auto pairs = DecodeSeedScalars(w.candidate_updates(), static_cast<int>(candidates.size()));
    if (!pairs.ok()) return InvalidArgument("record of round {}: {}", w.round(), pairs.status().message());
    for (const auto& [j, alpha] : *pairs) r.updates.push_back(ZUpdate{candidates[j], alpha, 1.0f});
  } else {
    ASSIGN_OR_RETURN(r.updates, UnpackUpdates(w.updates()));
  }
  for (int32_t c : w.participants()) {
    if (c < 0) return InvalidArgument("record of round {} names client {}", w.round(), c);
    r.participants.push_back(static_cast<uint32_t>(c));
  }
  // ToWire sends a fingerprint only with has_fingerprint; one without it
  // would be dropped on the next hop (and a record that says it has none
  // must not carry one).
  if (!w.has_fingerprint() && w.fingerprint() != 0)
    return InvalidArgument("record of round {} carries a fingerprint but has_fingerprint is false", w.round());
  r.has_fingerprint = w.has_fingerprint();
  r.fingerprint = w.fingerprint();
  return r;
}

Status CheckProtocolVersion(uint32_t version) {
  if (version != kFederationProtocolVersion)
    return FailedPrecondition("protocol version {} is not supported: this seedtune speaks version {}", version,
                              kFederationProtocolVersion);
  return Status::Ok();
}

grpc::Status ToGrpc(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, s.message());
    case StatusCode::kNotFound: return grpc::Status(grpc::StatusCode::NOT_FOUND, s.message());
    case StatusCode::kDataLoss: return grpc::Status(grpc::StatusCode::DATA_LOSS, s.message());
    case StatusCode::kUnimplemented: return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, s.message());
    case StatusCode::kFailedPrecondition: return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, s.message());
    case StatusCode::kInternal:
    case StatusCode::kIoError: return grpc::Status(grpc::StatusCode::INTERNAL, s.message());
  }
  return grpc::Status(grpc::StatusCode::UNKNOWN, s.message());
}

Status FromGrpc(const grpc::Status& g, const std::string& call) {
  if (g.ok()) return Status::Ok();
  const std::string msg = fmt::format("{}: {}: {}", call, GrpcCodeName(g.error_code()), g.error_message());
  switch (g.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Status(StatusCode::kInvalidArgument, msg);
    case grpc::StatusCode::NOT_FOUND: return Status(StatusCode::kNotFound, msg);
    case grpc::StatusCode::DATA_LOSS: return Status(StatusCode::kDataLoss, msg);
    case grpc::StatusCode::UNIMPLEMENTED: return Status(StatusCode::kUnimplemented, msg);
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED: return Status(StatusCode::kFailedPrecondition, msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED: return Status(StatusCode::kIoError, msg);
    default: return Status(StatusCode::kInternal, msg);
  }
}

bool IsTransient(const grpc::Status& g) {
  return g.error_code() == grpc::StatusCode::UNAVAILABLE || g.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         g.error_code() == grpc::StatusCode::CANCELLED || g.error_code() == grpc::StatusCode::ABORTED;
}

}  // namespace seedtune
