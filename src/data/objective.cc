#include "data/objective.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace seedtune {
namespace {

// The one place the objective calls into the model.
StatusOr<std::vector<SequenceOutput>> RunModel(ComputeBackend& model, std::span<const SequenceRequest> requests,
                                               const Perturbation* perturbation) {
  return model.Forward(requests, perturbation);
}

double MeanLogProb(const std::vector<float>& lp) {
  double sum = 0.0;
  for (float v : lp) sum += static_cast<double>(v);
  return sum / static_cast<double>(lp.size());
}

// The batch flattened into Forward's requests: example i owns requests
// [first[i], first[i] + count[i]).
struct Flat {
  std::vector<SequenceRequest> requests;
  std::vector<size_t> first, count;
  bool gold_only = false;
};

StatusOr<Flat> Flatten(std::span<const EncodedExample> batch, Objective objective, const BatchOptions& options) {
  if (batch.empty()) return InvalidArgument("empty batch");
  Flat f;
  f.gold_only = options.gold_only && objective == Objective::kLanguageModel;
  f.first.resize(batch.size());
  f.count.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const EncodedExample& ex = batch[i];
    if (ex.candidates.empty()) return InvalidArgument("example {} of the batch has no candidates", i);
    if (ex.label < 0 || ex.label >= static_cast<int>(ex.candidates.size()))
      return InvalidArgument("example {} of the batch: label {} outside {} candidates", i, ex.label,
                             ex.candidates.size());
    for (size_t c = 0; c < ex.candidates.size(); ++c) {
      if (ex.candidates[c].score_end <= ex.candidates[c].score_begin)
        return InvalidArgument("example {} candidate {}: empty score range", i, c);
    }
    f.first[i] = f.requests.size();
    if (f.gold_only) {
      f.requests.push_back(ex.candidates[static_cast<size_t>(ex.label)]);
      f.count[i] = 1;
    } else {
      f.requests.insert(f.requests.end(), ex.candidates.begin(), ex.candidates.end());
      f.count[i] = ex.candidates.size();
    }
  }
  return f;
}

StatusOr<BatchResult> Reduce(std::span<const EncodedExample> batch, Objective objective, const Flat& f,
                             const std::vector<SequenceOutput>& outputs) {
  if (outputs.size() != f.requests.size())
    return InternalError("forward returned {} outputs for {} sequences", outputs.size(), f.requests.size());
  BatchResult result;
  double loss_sum = 0.0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const EncodedExample& ex = batch[i];
    std::vector<double> scores(f.count[i]);
    for (size_t c = 0; c < f.count[i]; ++c) {
      const auto& lp = outputs[f.first[i] + c].token_logprobs;
      if (lp.empty()) return InternalError("example {} candidate {}: no log-probs returned", i, c);
      scores[c] = MeanLogProb(lp);
    }
    double loss;
    int prediction = -1;
    if (f.gold_only) {
      loss = -scores[0];
    } else {
      prediction = ArgmaxLowestIndex(scores);
      loss = objective == Objective::kCandidateClassification ? CandidateCrossEntropy(scores, ex.label)
                                                              : -scores[static_cast<size_t>(ex.label)];
      if (prediction == ex.label) ++result.correct;
    }
    loss_sum += loss;
    result.losses.push_back(loss);
    result.predictions.push_back(prediction);
    result.scores.push_back(std::move(scores));
  }
  result.mean_loss = loss_sum / static_cast<double>(batch.size());
  return result;
}

}  // namespace

int ArgmaxLowestIndex(const std::vector<double>& scores) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(scores.size()); ++i)
    if (scores[static_cast<size_t>(i)] > scores[static_cast<size_t>(best)]) best = i;
  return best;
}

double CandidateCrossEntropy(const std::vector<double>& scores, int label) {
  const double mx = scores[static_cast<size_t>(ArgmaxLowestIndex(scores))];
  double z = 0.0;
  for (double s : scores) z += std::exp(s - mx);
  return mx + std::log(z) - scores[static_cast<size_t>(label)];
}

StatusOr<BatchResult> EvaluateBatch(ComputeBackend& model, std::span<const EncodedExample> batch, Objective objective,
                                    const BatchOptions& options) {
  ASSIGN_OR_RETURN(Flat flat, Flatten(batch, objective, options));
  ASSIGN_OR_RETURN(std::vector<SequenceOutput> outputs, RunModel(model, flat.requests, options.perturbation));
  return Reduce(batch, objective, flat, outputs);
}

StatusOr<std::array<BatchResult, 2>> EvaluateBatchPair(ComputeBackend& model, std::span<const EncodedExample> batch,
                                                      Objective objective, uint64_t seed, float eps,
                                                      ZDistribution dist, const BatchOptions& options) {
  if (options.perturbation != nullptr)
    return InvalidArgument("EvaluateBatchPair takes its perturbation from seed and eps, not from options");
  ASSIGN_OR_RETURN(Flat flat, Flatten(batch, objective, options));
  ASSIGN_OR_RETURN(auto outputs, model.ForwardPair(flat.requests, seed, eps, dist));
  ASSIGN_OR_RETURN(BatchResult plus, Reduce(batch, objective, flat, outputs[0]));
  ASSIGN_OR_RETURN(BatchResult minus, Reduce(batch, objective, flat, outputs[1]));
  return std::array<BatchResult, 2>{std::move(plus), std::move(minus)};
}

StatusOr<EvalResult> EvaluateDataset(ComputeBackend& model, std::span<const EncodedExample> examples,
                                     Objective objective, int batch_size, const EvalProgress& progress) {
  if (batch_size <= 0) return InvalidArgument("batch size {} must be positive", batch_size);
  EvalResult r;
  const int64_t total = static_cast<int64_t>(examples.size());
  double loss_sum = 0.0;
  for (int64_t b = 0; b < total; b += batch_size) {
    const int64_t n = std::min<int64_t>(batch_size, total - b);
    auto br = EvaluateBatch(model, examples.subspan(static_cast<size_t>(b), static_cast<size_t>(n)), objective);
    if (!br.ok()) return br.status().WithContext(fmt::format("examples {}..{}", b, b + n - 1));
    for (double l : br->losses) loss_sum += l;
    r.correct += br->correct;
    r.count += n;
    if (progress) progress(r.count, total);
  }
  if (r.count > 0) {
    const double n = static_cast<double>(r.count);
    r.accuracy = static_cast<double>(r.correct) / n;
    r.mean_loss = loss_sum / n;
    r.accuracy_stderr = std::sqrt(r.accuracy * (1.0 - r.accuracy) / n);
  }
  return r;
}

}  // namespace seedtune
