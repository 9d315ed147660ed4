// Real configurations of models whose weights are not available here
// (OPT-125M, GPT-2, Pythia); they run with random weights and say so in their
// name. A model argument "random:NAME[:SEED]" selects one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"
#include "model/weights.h"

namespace seedtune {

// Names accepted by PresetConfig.
std::vector<std::string> PresetNames();
// The real configuration of a known model (e.g. "opt-125m", "gpt2",
// "pythia-160m", "smollm2-135m"); NotFound lists the known names.
StatusOr<ModelConfig> PresetConfig(const std::string& name);

// Deterministic random initialisation: linear and embedding weights
// N(0, std^2), norm weights 1, biases 0.
void InitRandomWeights(ModelWeights* weights, uint64_t seed, float std = 0.02f);

// "random:NAME[:SEED]" -> weights with the preset's shape, labelled
// "NAME (random weights, seed S)".
StatusOr<ModelWeights> RandomModel(const std::string& spec);
bool IsRandomModelSpec(const std::string& spec);

}  // namespace seedtune
