// Just One Byte (Zelikman et al. 2023): decentralized zeroth-order training.
// No server: at iteration t every live machine m computes `samples` projected
// gradients on its own minibatch, direction seeds StepSeed(run, t, m * 2^16 + s),
// quantizes each to one byte, and broadcasts the bytes. Every machine (the
// sender included) applies the DEQUANTIZED values of all machines, sorted by
// (machine id, sample), with alpha = -lr * g_hat / sqrt(N_t), N_t the number
// of bytes of the iteration. Machines may join or leave between iterations; a
// joiner holding the base model catches up by replaying the byte log.
//
// Byte code: bit 7 = sign (1 = negative); bits 0-6 = q. q = 0 encodes 0;
// otherwise |g_hat| = 2^((q - 64) / 8), q = clamp(round(8 log2 |g|) + 64, 1, 127)
// (a 9% step from 2^-7.9 to 2^7.9); the magnitudes come from a fixed table
// built with exact ldexp, so every machine dequantizes to the same float.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "core/threading.h"
#include "data/encode.h"
#include "data/objective.h"
#include "model/weights.h"
#include "zo/update.h"

namespace seedtune {

uint8_t QuantizeOneByte(double g);
float DequantizeOneByte(uint8_t byte);

struct OneByteRecord {
  int64_t iteration = 0;
  int machine = 0;
  int sample = 0;
  uint64_t seed = 0;
  uint8_t byte = 0;
};

// The ordered update list of one iteration's records (sorted by machine, sample).
std::vector<ZUpdate> OneByteUpdates(std::vector<OneByteRecord> records, float lr);

struct OneByteOptions {
  int64_t iterations = 30;
  int samples = 2;       // projected gradients (bytes) per machine per iteration
  int batch_size = 8;
  float lr = 1e-5f;
  float eps = 1e-3f;
  uint64_t seed = 0;
  ZDistribution dist = ZDistribution::kGaussian;
  // Machine m is live for iterations [join[m], leave[m]) (1-based; leave 0 = never).
  std::vector<int64_t> join, leave;
  // RunOneByte: the backend every machine's model runs on (this process's
  // choice, not part of a run: a networked peer takes its own from PeerOptions).
  BackendKind backend = BackendKind::kCpu;
};

struct OneByteIterationLog {
  int64_t iteration = 0;
  std::vector<int> live;                     // machine ids
  std::vector<OneByteRecord> records;        // this iteration's bytes
  std::map<int, std::string> fingerprints;   // per live machine, after the iteration
  double loss = 0.0;                         // mean L(theta + eps z) over the bytes
};

// One machine's part of an iteration: its minibatch of `shard` (drawn from
// (run seed, machine, t)) and its `samples` projected gradients at `model`,
// each quantized to one byte, in sample order. Adds each L(theta + eps z) to
// *loss_sum when given. RunOneByte and `seedtune peer` both call this, so a
// networked peer sends exactly the bytes of the in-process engine.
StatusOr<std::vector<OneByteRecord>> OneByteMachineRecords(ComputeBackend& model, std::span<const EncodedExample> shard,
                                                           Objective objective, const OneByteOptions& options,
                                                           int64_t iteration, int machine,
                                                           double* loss_sum = nullptr);

// Runs the peers, each with its own model copy (machine m trains on data[m]).
// Fails if two live machines ever hold different fingerprints.
StatusOr<std::vector<OneByteIterationLog>> RunOneByte(const ModelWeights& base, ThreadingContext& ctx,
                                                      const std::vector<std::vector<EncodedExample>>& data,
                                                      Objective objective, const OneByteOptions& options,
                                                      std::vector<ModelWeights>* final_models = nullptr);

}  // namespace seedtune
