// Autoregressive generation with a KV cache through a backend's Decode:
// greedy (temperature 0) or temperature / top-p sampling from a seeded
// generator.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"

namespace seedtune {

struct GenerateOptions {
  int max_new_tokens = 64;
  float temperature = 0.0f;  // 0: greedy (argmax, lowest id wins ties)
  float top_p = 1.0f;
  uint64_t seed = 0;
  int32_t stop_token = -1;   // stop after generating this id (e.g. EOS); -1: never
};

// Generates after `prompt` (non-empty). on_token(id) is called for each new
// token as it is produced. Returns the new tokens (the prompt excluded).
StatusOr<std::vector<int32_t>> Generate(ComputeBackend& model, std::span<const int32_t> prompt,
                                        const GenerateOptions& options,
                                        const std::function<void(int32_t)>& on_token = nullptr);

// Index of the largest value (lowest index on ties).
int32_t ArgMax(std::span<const float> values);

}  // namespace seedtune
