#include "net/peer_wire.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "net/run_spec.h"

namespace seedtune {

Status ValidatePeerRunSpec(const PeerRunSpec& s) {
  const OneByteOptions& o = s.onebyte;
  if (o.iterations <= 0) return InvalidArgument("a run needs at least one iteration, not {}", o.iterations);
  if (o.samples <= 0 || o.samples > 4096) return InvalidArgument("samples must be in [1, 4096], not {}", o.samples);
  if (o.batch_size <= 0) return InvalidArgument("batch must be positive, not {}", o.batch_size);
  if (!std::isfinite(o.lr) || !(o.eps > 0.0f) || !std::isfinite(o.eps))
    return InvalidArgument("lr must be finite and eps positive (lr {}, eps {})", o.lr, o.eps);
  if (s.data.clients <= 0 || s.data.clients > 65536)
    return InvalidArgument("clients must be in [1, 65536], not {}", s.data.clients);
  if (s.data.seed != o.seed) return InvalidArgument("the data seed must be the run seed");
  if (s.founder_id < 0 || s.founder_id >= s.data.clients)
    return InvalidArgument("founder id {} is outside [0, {})", s.founder_id, s.data.clients);
  RETURN_IF_ERROR(CheckPeerAddress(s.founder_address));
  if (!IsFingerprintHex(s.base_fingerprint))
    return InvalidArgument("base fingerprint '{}' is not 16 hex digits", s.base_fingerprint);
  return Status::Ok();
}

void ToWire(const PeerRunSpec& s, pwire::PeerRunConfig* out) {
  out->set_base_fingerprint(s.base_fingerprint);
  out->set_lr(s.onebyte.lr);
  out->set_eps(s.onebyte.eps);
  out->set_samples(s.onebyte.samples);
  out->set_batch(s.onebyte.batch_size);
  out->set_run_seed(s.onebyte.seed);
  out->set_distribution(s.onebyte.dist == ZDistribution::kGaussian ? "gauss" : "rademacher");
  out->set_iterations(s.onebyte.iterations);
  out->set_task(s.data.task);
  out->set_partition(s.data.partition);
  out->set_clients(s.data.clients);
  out->set_train_n(s.data.train_n);
  out->set_dev_n(s.data.dev_n);
  out->set_max_length(s.data.max_length);
  out->set_min_per_client(s.data.min_per_client);
  out->set_prompt_template(s.data.user.prompt_template);
  out->set_label_words(s.data.user.label_words);
  out->set_founder_id(s.founder_id);
  out->set_founder_address(s.founder_address);
}

StatusOr<PeerRunSpec> FromWire(const pwire::PeerRunConfig& c) {
  PeerRunSpec s;
  s.base_fingerprint = c.base_fingerprint();
  s.onebyte.lr = c.lr();
  s.onebyte.eps = c.eps();
  s.onebyte.samples = c.samples();
  s.onebyte.batch_size = c.batch();
  s.onebyte.seed = c.run_seed();
  if (c.distribution() == "gauss")
    s.onebyte.dist = ZDistribution::kGaussian;
  else if (c.distribution() == "rademacher")
    s.onebyte.dist = ZDistribution::kRademacher;
  else
    return InvalidArgument("unknown z distribution '{}'", c.distribution());
  s.onebyte.iterations = c.iterations();
  s.data.task = c.task();
  s.data.partition = c.partition();
  s.data.clients = c.clients();
  s.data.train_n = c.train_n();
  s.data.dev_n = c.dev_n();
  s.data.max_length = c.max_length();
  s.data.min_per_client = c.min_per_client();
  s.data.user.prompt_template = c.prompt_template();
  s.data.user.label_words = c.label_words();
  s.data.seed = c.run_seed();
  s.founder_id = c.founder_id();
  s.founder_address = c.founder_address();
  if (s.data.task.empty() || s.data.partition.empty()) return InvalidArgument("the run config names no task or partition");
  if (s.data.train_n <= 0 || s.data.max_length <= 0 || s.data.dev_n < 0 || s.data.min_per_client < 0)
    return InvalidArgument("the run config's data sizes are out of range");
  RETURN_IF_ERROR(ValidatePeerRunSpec(s));
  return s;
}

Status CheckPeerProtocolVersion(uint32_t version) {
  if (version != kPeerProtocolVersion)
    return FailedPrecondition("peer protocol version {} is not supported: this seedtune speaks version {}", version,
                              kPeerProtocolVersion);
  return Status::Ok();
}

Status CheckPeerAddress(const std::string& a) {
  if (a.empty() || a.size() > kMaxAddressLength) return InvalidArgument("peer address must be 1..{} characters", kMaxAddressLength);
  for (unsigned char c : a)
    if (c <= ' ' || c >= 0x7f) return InvalidArgument("peer address holds a non-printable character");
  if (a.find(':') == std::string::npos) return InvalidArgument("peer address '{}' is not host:port", a);
  return Status::Ok();
}

Status CheckPeerBytes(const pwire::PeerBytes& b, int64_t iteration, int machine, int samples, int clients) {
  if (b.iteration() != iteration)
    return InvalidArgument("peer {} sent bytes for iteration {}, not {}", machine, b.iteration(), iteration);
  if (b.machine() != machine) return InvalidArgument("peer {} sent bytes signed as peer {}", machine, b.machine());
  const size_t want = iteration == 0 ? 0 : static_cast<size_t>(samples);
  if (b.bytes().size() != want)
    return InvalidArgument("peer {} sent {} bytes for iteration {}, expected {}", machine, b.bytes().size(), iteration,
                           want);
  if (b.joins_size() > clients) return InvalidArgument("peer {} announced {} joins", machine, b.joins_size());
  for (const auto& j : b.joins()) {
    if (j.id() < 0 || j.id() >= clients)
      return InvalidArgument("peer {} announced unknown peer {} (ids are 0..{})", machine, j.id(), clients - 1);
    Status a = CheckPeerAddress(j.address());
    if (!a.ok()) return InvalidArgument("peer {} announced peer {}: {}", machine, j.id(), a.message());
  }
  if (iteration == 0 && b.last()) return InvalidArgument("iteration 0 cannot be a peer's last");
  return Status::Ok();
}

PeerMembership::PeerMembership(int founder_id, std::string founder_address) {
  PeerMember f{founder_id, std::move(founder_address), 0, 0};
  current_[founder_id] = f;
  ever_[founder_id] = f;
}

std::vector<int> PeerMembership::ids() const {
  std::vector<int> out;
  for (const auto& [id, m] : current_) out.push_back(id);
  return out;
}

const PeerMember* PeerMembership::Find(int id) const {
  auto it = ever_.find(id);
  return it == ever_.end() ? nullptr : &it->second;
}

Status PeerMembership::Advance(const std::vector<pwire::PeerBytes>& contributions) {
  std::vector<const pwire::PeerBytes*> sorted;
  for (const auto& c : contributions) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->machine() < b->machine(); });
  std::vector<int> from;
  for (auto* c : sorted) {
    if (c->iteration() != iteration_)
      return InvalidArgument("membership: bytes of iteration {} while advancing from {}", c->iteration(), iteration_);
    from.push_back(c->machine());
  }
  if (from != ids()) return InvalidArgument("membership: the contributions of iteration {} do not name its members", iteration_);
  // Built on copies: a refused advance leaves the membership as it was.
  const int64_t next = iteration_ + 1;
  auto current = current_;
  auto ever = ever_;
  for (auto* c : sorted)
    if (c->last()) {
      current.erase(c->machine());
      ever[c->machine()].last_iteration = iteration_;
    }
  for (auto* c : sorted)
    for (const auto& j : c->joins()) {
      if (ever.count(j.id()) != 0) continue;  // first announcement wins; ids are never reused
      PeerMember m{j.id(), j.address(), next, 0};
      current[j.id()] = m;
      ever[j.id()] = m;
    }
  if (current.empty()) return FailedPrecondition("membership: no peer is left after iteration {}", iteration_);
  current_ = std::move(current);
  ever_ = std::move(ever);
  iteration_ = next;
  return Status::Ok();
}

std::vector<OneByteRecord> PeerRecords(const std::vector<pwire::PeerBytes>& contributions, uint64_t run_seed) {
  std::vector<OneByteRecord> out;
  for (const auto& c : contributions)
    for (size_t s = 0; s < c.bytes().size(); ++s) {
      const uint64_t seed = StepSeed(run_seed, static_cast<uint64_t>(c.iteration()),
                                     static_cast<uint32_t>(c.machine()) * 65536u + static_cast<uint32_t>(s));
      out.push_back(OneByteRecord{c.iteration(), c.machine(), static_cast<int>(s), seed,
                                  static_cast<uint8_t>(c.bytes()[s])});
    }
  return out;
}

}  // namespace seedtune
