// libFuzzer target for the wire decoders: net/wire.h FromWire (run config,
// round plan, client reply, round record) and UnpackUpdates, net/peer_wire.h
// (peer run config, CheckPeerBytes, PeerMembership), fed/messages.h
// DecodeSeedScalars / DecodeRoundDeltas. Input: fuzz/wire_fuzz.h (a decoder,
// a run, then the message bytes; protobuf messages are parsed with
// ParseFromArray first). Properties:
//  - a decoder rejects with a Status or accepts; what it accepts encodes back
//    (ToWire / Pack / Encode) to the message it came from (every field the
//    decoder reads; unknown fields aside) and decodes again to the same value;
//  - accepted values keep the documented bounds: plan participants ascending
//    and in range, seed indices below K, finite coefficients, record decay in
//    (0, 2] as the ledger requires, a fingerprint only with has_fingerprint;
//  - peer history: every contribution CheckPeerBytes accepts can be applied;
//    members stay ascending, in range, and among those ever seen; the records
//    of an iteration are one per byte.
// Built and run by scripts/fuzz.sh (target "wire").
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "fed/messages.h"
#include "fed/strategy.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/wire_fuzz.h"
#include "net/peer_wire.h"
#include "net/wire.h"

namespace {

using namespace seedtune;
using seedtune::fuzz::SameFloat;

template <typename M>
std::string Canonical(M m) {
  m.DiscardUnknownFields();
  // Deterministic: map entries (RunConfig.params) in key order, not hash order.
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

bool SameUpdates(const std::vector<ZUpdate>& a, const std::vector<ZUpdate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].seed != b[i].seed || std::memcmp(&a[i].alpha, &b[i].alpha, 4) != 0 ||
        std::memcmp(&a[i].decay, &b[i].decay, 4) != 0)
      return false;
  return true;
}

bool SameRecord(const LedgerRecord& a, const LedgerRecord& b) {
  return a.round == b.round && SameUpdates(a.updates, b.updates) && a.participants == b.participants &&
         a.has_fingerprint == b.has_fingerprint && a.fingerprint == b.fingerprint && a.aux == b.aux;
}

void FuzzRunConfig(const uint8_t* p, size_t n) {
  wire::RunConfig c;
  if (!c.ParseFromArray(p, static_cast<int>(n))) return;
  auto s = FromWire(c);
  if (!s.ok()) return;
  FUZZ_CHECK(ValidateRunSpec(*s).ok());
  if (s->fed.rule == ScalarRule::kTrimmedMean)
    FUZZ_CHECK(std::isfinite(s->fed.trim_fraction) && s->fed.trim_fraction >= 0.0 && s->fed.trim_fraction <= 0.5);
  wire::RunConfig c2;
  ToWire(*s, &c2);
  FUZZ_CHECK(Canonical(c2) == Canonical(c));
  auto s2 = FromWire(c2);
  FUZZ_CHECK(s2.ok());
  wire::RunConfig c3;
  ToWire(*s2, &c3);
  FUZZ_CHECK(Canonical(c3) == Canonical(c2));
}

void FuzzRoundPlan(const uint8_t* p, size_t n, const RunSpec& spec) {
  wire::RoundPlan w;
  if (!w.ParseFromArray(p, static_cast<int>(n))) return;
  auto plan = FromWire(w, spec);
  if (!plan.ok()) return;
  FUZZ_CHECK(plan->round >= 1 && plan->round <= spec.rounds && !plan->participants.empty());
  for (size_t i = 0; i < plan->participants.size(); ++i) {
    FUZZ_CHECK(plan->participants[i] >= 0 && plan->participants[i] < spec.clients());
    if (i > 0) FUZZ_CHECK(plan->participants[i] > plan->participants[i - 1]);
  }
  for (float q : plan->seed_probabilities) FUZZ_CHECK(std::isfinite(q) && q >= 0.0f);
  wire::RoundPlan w2;
  ToWire(*plan, &w2);
  FUZZ_CHECK(Canonical(w2) == Canonical(w));
  FUZZ_CHECK(FromWire(w2, spec).ok());
}

void FuzzSubmitReply(const uint8_t* p, size_t n, const RunSpec& spec) {
  wire::SubmitReplyRequest w;
  if (!w.ParseFromArray(p, static_cast<int>(n))) return;
  auto r = FromWire(w, spec.fed);
  if (!r.ok()) return;
  FUZZ_CHECK(std::isfinite(r->loss) && std::isfinite(r->scalar));
  FUZZ_CHECK(IsFedKSeed(spec.fed.algo) || r->pairs.empty());
  if (IsFedKSeed(spec.fed.algo)) {
    FUZZ_CHECK(r->pairs.size() <= static_cast<size_t>(FedKSeedLocalSteps(spec.fed)));
    for (const auto& [j, g] : r->pairs) FUZZ_CHECK(j < FedKSeedNumSeeds(spec.fed) && std::isfinite(g));
  }
  for (float g : r->scalars) FUZZ_CHECK(std::isfinite(g));
  wire::SubmitReplyRequest w2;
  ToWire(*r, &w2);
  w2.set_protocol_version(w.protocol_version());  // ToWire writes this build's; FromWire does not read it
  FUZZ_CHECK(Canonical(w2) == Canonical(w));
  auto r2 = FromWire(w2, spec.fed);
  FUZZ_CHECK(r2.ok() && r2->pairs == r->pairs && r2->scalars == r->scalars);
}

void CheckRecord(const wire::RoundRecord& w, const std::vector<uint64_t>& candidates) {
  auto r = FromWire(w, candidates);
  if (!r.ok()) return;
  FUZZ_CHECK(r->round >= 1);
  for (const ZUpdate& u : r->updates)
    FUZZ_CHECK(std::isfinite(u.alpha) && std::isfinite(u.decay) && u.decay > 0.0f && u.decay <= 2.0f);
  if (!r->has_fingerprint) FUZZ_CHECK(r->fingerprint == 0);
  wire::RoundRecord w2;
  ToWire(*r, candidates, &w2);
  auto r2 = FromWire(w2, candidates);
  FUZZ_CHECK_MSG(r2.ok(), r2.status().ToString());
  FUZZ_CHECK(SameRecord(*r, *r2));
}

// The K the pair encodings are decoded with (16 for the algorithms without one).
int ContextK(const RunSpec& spec) { return IsFedKSeed(spec.fed.algo) ? FedKSeedNumSeeds(spec.fed) : 16; }

std::vector<uint64_t> Candidates(const RunSpec& spec) {
  return IsFedKSeed(spec.fed.algo) ? FedKSeedCandidates(spec.fed.seed, FedKSeedNumSeeds(spec.fed)) : std::vector<uint64_t>{};
}

void FuzzRoundRecord(const uint8_t* p, size_t n, const RunSpec& spec) {
  wire::RoundRecord w;
  if (!w.ParseFromArray(p, static_cast<int>(n))) return;
  CheckRecord(w, Candidates(spec));
}

void FuzzFetchUpdates(const uint8_t* p, size_t n, const RunSpec& spec) {
  wire::FetchUpdatesResponse w;
  if (!w.ParseFromArray(p, static_cast<int>(n))) return;
  const auto candidates = Candidates(spec);
  for (const auto& rec : w.records()) CheckRecord(rec, candidates);
}

void FuzzUnpack(const uint8_t* p, size_t n) {
  const std::string bytes(reinterpret_cast<const char*>(p), n);
  auto u = UnpackUpdates(bytes);
  if (!u.ok()) return;
  FUZZ_CHECK(u->size() * 16 == n);
  for (const ZUpdate& z : *u) FUZZ_CHECK(std::isfinite(z.alpha) && z.decay > 0.0f && z.decay <= 2.0f);
  FUZZ_CHECK(PackUpdates(*u) == bytes);
}

void FuzzSeedScalars(const uint8_t* p, size_t n, int k) {
  const std::string bytes(reinterpret_cast<const char*>(p), n);
  auto pairs = DecodeSeedScalars(bytes, k);
  if (!pairs.ok()) return;
  for (const auto& [j, g] : *pairs) FUZZ_CHECK(j < k && std::isfinite(g));
  FUZZ_CHECK(EncodeSeedScalars(*pairs) == bytes);
}

// Dense view of decoded deltas (0 where a seed did not change).
std::vector<float> Dense(const std::vector<std::pair<uint16_t, float>>& pairs, int k) {
  std::vector<float> d(static_cast<size_t>(k), 0.0f);
  for (const auto& [j, v] : pairs) d[j] = v;
  return d;
}

void FuzzRoundDeltas(const uint8_t* p, size_t n, int k) {
  const std::string bytes(reinterpret_cast<const char*>(p), n);
  auto pairs = DecodeRoundDeltas(bytes, k);
  if (!pairs.ok()) return;
  std::vector<double> delta(static_cast<size_t>(k), 0.0);
  std::vector<char> changed(static_cast<size_t>(k), 0);
  for (size_t i = 0; i < pairs->size(); ++i) {
    const auto [j, v] = (*pairs)[i];
    FUZZ_CHECK(j < k && std::isfinite(v));
    if (i > 0) FUZZ_CHECK(j > (*pairs)[i - 1].first);
    delta[j] = v;
    changed[j] = 1;
  }
  auto again = DecodeRoundDeltas(EncodeRoundDeltas(delta, changed), k);
  FUZZ_CHECK_MSG(again.ok(), again.status().ToString());
  FUZZ_CHECK(Dense(*again, k) == Dense(*pairs, k));
}

void FuzzPeerRunConfig(const uint8_t* p, size_t n) {
  pwire::PeerRunConfig c;
  if (!c.ParseFromArray(p, static_cast<int>(n))) return;
  auto s = FromWire(c);
  if (!s.ok()) return;
  FUZZ_CHECK(ValidatePeerRunSpec(*s).ok());
  pwire::PeerRunConfig c2;
  ToWire(*s, &c2);
  FUZZ_CHECK(Canonical(c2) == Canonical(c));
  FUZZ_CHECK(FromWire(c2).ok());
}

void FuzzPeerHistory(const uint8_t* p, size_t n, uint8_t context) {
  pwire::GetHistoryResponse h;
  if (!h.ParseFromArray(p, static_cast<int>(n))) return;
  const int founder = context % fuzz::kPeerClients;
  PeerMembership m(founder, "founder:1");
  for (const auto& entry : h.entries()) {
    const int64_t t = m.iteration();
    bool valid = true;
    for (const auto& c : entry.contributions())
      valid = valid && CheckPeerBytes(c, t, c.machine(), fuzz::kPeerSamples, fuzz::kPeerClients).ok();
    if (!valid) return;
    const std::vector<pwire::PeerBytes> contributions(entry.contributions().begin(), entry.contributions().end());
    const std::vector<int> before = m.ids();
    if (!m.Advance(contributions).ok()) {
      FUZZ_CHECK(m.iteration() == t && m.ids() == before);  // a refused advance changes nothing
      return;
    }
    FUZZ_CHECK(m.iteration() == t + 1);
    const std::vector<int> ids = m.ids();
    FUZZ_CHECK(!ids.empty());
    for (size_t i = 0; i < ids.size(); ++i) {
      FUZZ_CHECK(ids[i] >= 0 && ids[i] < fuzz::kPeerClients && m.EverMember(ids[i]));
      if (i > 0) FUZZ_CHECK(ids[i] > ids[i - 1]);
      const PeerMember* member = m.Find(ids[i]);
      FUZZ_CHECK(member != nullptr && CheckPeerAddress(member->address).ok());
    }
    const auto records = PeerRecords(contributions, 7);
    FUZZ_CHECK(records.size() == (t == 0 ? 0u : contributions.size() * fuzz::kPeerSamples));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto kind = static_cast<fuzz::WireKind>(data[0] % static_cast<uint8_t>(fuzz::WireKind::kCount));
  const uint8_t context = data[1];
  const RunSpec spec = fuzz::WireContext(context);
  FUZZ_CHECK(ValidateRunSpec(spec).ok());
  const uint8_t* p = data + 2;
  const size_t n = size - 2;
  switch (kind) {
    case fuzz::WireKind::kRunConfig: FuzzRunConfig(p, n); break;
    case fuzz::WireKind::kRoundPlan: FuzzRoundPlan(p, n, spec); break;
    case fuzz::WireKind::kSubmitReply: FuzzSubmitReply(p, n, spec); break;
    case fuzz::WireKind::kRoundRecord: FuzzRoundRecord(p, n, spec); break;
    case fuzz::WireKind::kFetchUpdates: FuzzFetchUpdates(p, n, spec); break;
    case fuzz::WireKind::kUnpackUpdates: FuzzUnpack(p, n); break;
    case fuzz::WireKind::kSeedScalars: FuzzSeedScalars(p, n, ContextK(spec)); break;
    case fuzz::WireKind::kRoundDeltas: FuzzRoundDeltas(p, n, ContextK(spec)); break;
    case fuzz::WireKind::kPeerRunConfig: FuzzPeerRunConfig(p, n); break;
    case fuzz::WireKind::kPeerHistory: FuzzPeerHistory(p, n, context); break;
    case fuzz::WireKind::kCount: break;
  }
  return 0;
}
