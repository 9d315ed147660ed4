#include "backend/backend.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backend/cpu_backend.h"
#include "backend/scalar_backend.h"

namespace seedtune {

namespace {

// The registry: one row per backend. A new backend is a new row (and its
// BackendKind value), nothing else here.
struct BackendEntry {
  BackendKind kind;
  const char* name;
  const char* help;
  std::unique_ptr<ComputeBackend> (*make)(const ModelWeights& weights, ThreadingContext& ctx);
};

template <typename B>
std::unique_ptr<ComputeBackend> Make(const ModelWeights& weights, ThreadingContext& ctx) {
  return std::make_unique<B>(weights, ctx);
}

constexpr BackendEntry kBackends[] = {
    {BackendKind::kCpu, "cpu", "this CPU's widest SIMD path (the default)", &Make<CpuBackend>},
    {BackendKind::kScalar, "scalar", "scalar reference kernels only (the test oracle; slow)", &Make<ScalarBackend>},
};

const BackendEntry* Find(BackendKind kind) {
  for (const BackendEntry& e : kBackends)
    if (e.kind == kind) return &e;
  return nullptr;
}

}  // namespace

const char* BackendKindName(BackendKind kind) {
  const BackendEntry* e = Find(kind);
  return e != nullptr ? e->name : "unknown";
}

std::vector<std::string> BackendNames() {
  std::vector<std::string> names;
  for (const BackendEntry& e : kBackends) names.emplace_back(e.name);
  return names;
}

std::string BackendHelp() {
  std::string out;
  for (const BackendEntry& e : kBackends) out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", e.name, e.help);
  return out;
}

StatusOr<BackendKind> ParseBackendKind(std::string_view name) {
  for (const BackendEntry& e : kBackends)
    if (name == e.name) return e.kind;
  return InvalidArgument("unknown compute backend '{}' (known: {})", name, fmt::join(BackendNames(), ", "));
}

StatusOr<std::unique_ptr<ComputeBackend>> MakeBackend(BackendKind kind, const ModelWeights& weights,
                                                      ThreadingContext& ctx) {
  const BackendEntry* e = Find(kind);
  if (e == nullptr) return InvalidArgument("compute backend {} is not registered", static_cast<int>(kind));
  return e->make(weights, ctx);
}

StatusOr<std::unique_ptr<ComputeBackend>> MakeBackend(std::string_view name, const ModelWeights& weights,
                                                      ThreadingContext& ctx) {
  ASSIGN_OR_RETURN(BackendKind kind, ParseBackendKind(name));
  return MakeBackend(kind, weights, ctx);
}

StatusOr<std::vector<double>> ComputeBackend::SequenceLosses(std::span<const SequenceRequest> batch) {
  ASSIGN_OR_RETURN(auto outputs, Forward(batch));
  std::vector<double> losses;
  for (const auto& o : outputs) {
    double sum = 0.0;
    for (float lp : o.token_logprobs) sum -= lp;
    losses.push_back(o.token_logprobs.empty() ? 0.0 : sum / static_cast<double>(o.token_logprobs.size()));
  }
  return losses;
}

}  // namespace seedtune
