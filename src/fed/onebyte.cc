#include "fed/onebyte.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

#include "data/sampling.h"
#include "zo/fingerprint.h"

namespace seedtune {

namespace {

// 2^(i/8), i = 0..7, as the nearest floats (literal constants: no libm).
constexpr float kEighthPowers[8] = {1.0f,          1.09050773f, 1.18920712f, 1.29683955f,
                                    1.41421356f,   1.54221083f, 1.68179283f, 1.83400809f};

const std::array<float, 128>& MagnitudeTable() {
  static const std::array<float, 128> table = [] {
    std::array<float, 128> t{};
    t[0] = 0.0f;
    for (int q = 1; q < 128; ++q) {
      const int e = q - 64;  // exponent in eighths
      const int whole = e >= 0 ? e / 8 : -((-e + 7) / 8);
      t[q] = std::ldexp(kEighthPowers[e - 8 * whole], whole);
    }
    return t;
  }();
  return table;
}

}  // namespace

uint8_t QuantizeOneByte(double g) {
  if (!(std::fabs(g) > 0.0) || !std::isfinite(g)) return 0;
  const double code = std::nearbyint(8.0 * std::log2(std::fabs(g))) + 64.0;
  const int q = static_cast<int>(std::clamp(code, 1.0, 127.0));
  return static_cast<uint8_t>((g < 0 ? 0x80 : 0) | q);
}

float DequantizeOneByte(uint8_t byte) {
  const float m = MagnitudeTable()[byte & 0x7f];
  return (byte & 0x80) ? -m : m;
}

std::vector<ZUpdate> OneByteUpdates(std::vector<OneByteRecord> records, float lr) {
  std::sort(records.begin(), records.end(), [](const OneByteRecord& a, const OneByteRecord& b) {
    return a.machine != b.machine ? a.machine < b.machine : a.sample < b.sample;
  });
  std::vector<ZUpdate> ups;
  const double scale = records.empty() ? 0.0 : lr / std::sqrt(static_cast<double>(records.size()));
  for (const auto& r : records)
    if ((r.byte & 0x7f) != 0) ups.push_back(ZUpdate{r.seed, static_cast<float>(-scale * DequantizeOneByte(r.byte)), 1.0f});
  return ups;
}

StatusOr<std::vector<OneByteRecord>> OneByteMachineRecords(ComputeBackend& model, std::span<const EncodedExample> shard,
                                                           Objective objective, const OneByteOptions& o,
                                                           int64_t t, int m, double* loss_sum) {
  if (shard.empty()) return FailedPrecondition("onebyte: machine {} has no training examples", m);
  if (shard.size() < static_cast<size_t>(o.batch_size))
    return InvalidArgument("onebyte: batch {} exceeds machine {}'s {} training examples", o.batch_size, m, shard.size());
  if (m < 0 || m >= 65536) return InvalidArgument("onebyte: machine id {} is outside [0, 65536)", m);
  BatchOptions bopts;
  bopts.gold_only = objective == Objective::kLanguageModel;
  std::vector<EncodedExample> batch;
  for (int64_t i : StepBatch(StepSeed(o.seed, static_cast<uint64_t>(m), 0x1b7eu), t, o.batch_size,
                             static_cast<int64_t>(shard.size())))
    batch.push_back(shard[i]);
  std::vector<OneByteRecord> out;
  for (int s = 0; s < o.samples; ++s) {
    const uint64_t seed = StepSeed(o.seed, static_cast<uint64_t>(t), static_cast<uint32_t>(m) * 65536u + s);
    ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(model, batch, objective, seed, o.eps, o.dist, bopts));
    const double g = (pair[0].mean_loss - pair[1].mean_loss) / (2.0 * o.eps);
    out.push_back(OneByteRecord{t, m, s, seed, QuantizeOneByte(g)});
    if (loss_sum != nullptr) *loss_sum += pair[0].mean_loss;
  }
  return out;
}

StatusOr<std::vector<OneByteIterationLog>> RunOneByte(const ModelWeights& base, ThreadingContext& ctx,
                                                      const std::vector<std::vector<EncodedExample>>& data,
                                                      Objective objective, const OneByteOptions& o,
                                                      std::vector<ModelWeights>* final_models) {
  const int machines = static_cast<int>(data.size());
  if (machines == 0) return InvalidArgument("onebyte: no machines");
  if (o.join.size() != data.size() || o.leave.size() != data.size())
    return InvalidArgument("onebyte: join/leave schedules must name every machine");
  for (int m = 0; m < machines; ++m)
    if (data[m].size() < static_cast<size_t>(std::max(o.batch_size, 1)))
      return InvalidArgument("onebyte: batch {} exceeds machine {}'s {} training examples", o.batch_size, m,
                             data[m].size());
  std::vector<std::optional<ModelWeights>> models(static_cast<size_t>(machines));
  std::vector<std::vector<OneByteRecord>> log;  // every iteration's records: what a joiner replays
  std::vector<OneByteIterationLog> out;
  for (int64_t t = 1; t <= o.iterations; ++t) {
    OneByteIterationLog it;
    it.iteration = t;
    std::vector<std::unique_ptr<ComputeBackend>> backends(static_cast<size_t>(machines));  // of the live machines
    for (int m = 0; m < machines; ++m) {
      const bool live = t >= o.join[m] && (o.leave[m] == 0 || t < o.leave[m]);
      if (!live) {
        models[m].reset();  // a machine that left keeps nothing
        continue;
      }
      const bool joining = !models[m];
      if (joining) models[m] = base.Clone();
      ASSIGN_OR_RETURN(backends[m], MakeBackend(o.backend, *models[m], ctx));
      if (joining)  // base model + replay of the byte log
        for (const auto& recs : log) backends[m]->ApplyUpdates(&*models[m], OneByteUpdates(recs, o.lr), o.dist);
      it.live.push_back(m);
    }
    if (it.live.empty()) return FailedPrecondition("onebyte: no machine is live at iteration {}", t);
    double loss_sum = 0.0;
    for (int m : it.live) {
      ASSIGN_OR_RETURN(auto recs, OneByteMachineRecords(*backends[m], data[m], objective, o, t, m, &loss_sum));
      it.records.insert(it.records.end(), recs.begin(), recs.end());
    }
    it.loss = loss_sum / static_cast<double>(it.records.size());
    const auto updates = OneByteUpdates(it.records, o.lr);
    for (int m : it.live) {
      backends[m]->ApplyUpdates(&*models[m], updates, o.dist);
      it.fingerprints[m] = FingerprintHex(backends[m]->Fingerprint(*models[m]));
    }
    for (const auto& [m, fp] : it.fingerprints)
      if (fp != it.fingerprints.begin()->second)
        return InternalError("onebyte iteration {}: machine {} holds {} but machine {} holds {}", t, m, fp,
                             it.fingerprints.begin()->first, it.fingerprints.begin()->second);
    log.push_back(it.records);
    out.push_back(std::move(it));
  }
  if (final_models != nullptr)
    for (auto& m : models)
      if (m) final_models->push_back(std::move(*m));
  return out;
}

}  // namespace seedtune
