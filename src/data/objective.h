// MeZO's objectives over encoded examples (large_models/utils.py
// forward_wrap_with_option_len and run.py one_step_pred):
//   score_c = mean log-prob of candidate c's tokens;
//   classification: loss = -log softmax(scores)[label];
//   language model: loss = mean NLL of the gold candidate's tokens;
//   prediction = argmax score (the lowest index on ties);
//   batch loss = mean over examples.
// Every candidate of every example goes through ONE batched Forward.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "data/encode.h"
#include "data/task.h"

namespace seedtune {

struct BatchOptions {
  // Language-model objective only: run only the gold candidates (a training
  // step needs nothing else). predictions are then -1 and correct is 0.
  bool gold_only = false;
  // Evaluate at theta + scale * z(seed) (ComputeBackend::Forward's perturbation);
  // null: at theta. Not owned.
  const Perturbation* perturbation = nullptr;
};

struct BatchResult {
  double mean_loss = 0.0;
  std::vector<int> predictions;             // per example
  int correct = 0;
  std::vector<double> losses;               // per example
  std::vector<std::vector<double>> scores;  // per example, per candidate run (mean log-prob)
};

// The pieces of EvaluateBatch, for callers that score candidates themselves.
// Index of the highest score, the lowest index among equals.
int ArgmaxLowestIndex(const std::vector<double>& scores);
// -log softmax(scores)[label], computed stably.
double CandidateCrossEntropy(const std::vector<double>& scores, int label);

StatusOr<BatchResult> EvaluateBatch(ComputeBackend& model, std::span<const EncodedExample> batch, Objective objective,
                                    const BatchOptions& options = {});

// The SPSA pair: the batch at theta + eps z(seed) ([0]) and theta - eps z(seed)
// ([1]) through one ComputeBackend::ForwardPair (z generated once). Each result
// equals EvaluateBatch with the matching Perturbation; options.perturbation
// must be null.
StatusOr<std::array<BatchResult, 2>> EvaluateBatchPair(ComputeBackend& model, std::span<const EncodedExample> batch,
                                                      Objective objective, uint64_t seed, float eps,
                                                      ZDistribution dist = ZDistribution::kGaussian,
                                                      const BatchOptions& options = {});

struct EvalResult {
  double accuracy = 0.0;
  double mean_loss = 0.0;
  int64_t count = 0;
  int64_t correct = 0;
  double accuracy_stderr = 0.0;  // sqrt(p (1 - p) / n)
};

// progress(done, total) after each batch.
using EvalProgress = std::function<void(int64_t done, int64_t total)>;

StatusOr<EvalResult> EvaluateDataset(ComputeBackend& model, std::span<const EncodedExample> examples,
                                     Objective objective, int batch_size, const EvalProgress& progress = {});

}  // namespace seedtune
