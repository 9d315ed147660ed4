// Scalar reference kernels: the specification every SIMD path is tested
// against. Plain loops, fp32, left-to-right accumulation.
#include <cmath>

#include "kernels/ops.h"

namespace seedtune {

void RmsNormReference(const float* x, const float* w, int64_t rows, int64_t d, float eps, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float ss = 0.0f;
    for (int64_t i = 0; i < d; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    for (int64_t i = 0; i < d; ++i) out[r * d + i] = xr[i] * inv * w[i];
  }
}

void LayerNormReference(const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps,
                        float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float mean = 0.0f;
    for (int64_t i = 0; i < d; ++i) mean += xr[i];
    mean /= static_cast<float>(d);
    float var = 0.0f;
    for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<float>(d);
    const float inv = 1.0f / std::sqrt(var + eps);
    for (int64_t i = 0; i < d; ++i) out[r * d + i] = (xr[i] - mean) * inv * w[i] + b[i];
  }
}

void SiluMulReference(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void ActivateReference(KernelActivation act, float* x, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    switch (act) {
      case KernelActivation::kSilu: x[i] = v / (1.0f + std::exp(-v)); break;
      case KernelActivation::kRelu: x[i] = v > 0.0f ? v : 0.0f; break;
      case KernelActivation::kGeluTanh:
        x[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
        break;
      case KernelActivation::kGeluErf: x[i] = 0.5f * v * (1.0f + std::erf(v * 0.7071067811865476f)); break;
    }
  }
}

float LogSumExpReference(const float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  return mx + std::log(sum);
}

void AttentionHeadReference(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride,
                            int64_t past, int64_t len, int64_t head_dim, float scale, float* out, int64_t out_stride,
                            float* scratch) {
  for (int64_t i = 0; i < len; ++i) {
    const float* qi = q + i * q_stride;
    const int64_t nk = past + i + 1;
    float mx = -INFINITY;
    for (int64_t j = 0; j < nk; ++j) {
      float s = 0.0f;
      for (int64_t c = 0; c < head_dim; ++c) s += qi[c] * k[j * kv_stride + c];
      scratch[j] = s * scale;
      mx = scratch[j] > mx ? scratch[j] : mx;
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < nk; ++j) {
      scratch[j] = std::exp(scratch[j] - mx);
      sum += scratch[j];
    }
    float* oi = out + i * out_stride;
    for (int64_t c = 0; c < head_dim; ++c) oi[c] = 0.0f;
    for (int64_t j = 0; j < nk; ++j) {
      const float p = scratch[j] / sum;
      for (int64_t c = 0; c < head_dim; ++c) oi[c] += p * v[j * kv_stride + c];
    }
  }
}

void ApplyRope(float* x, int64_t rows, int64_t row_stride, int64_t num_heads, int64_t head_stride,
               int64_t rotary_dim, bool interleaved, const float* cos_sin) {
  // Rotation is 4 multiplies per pair: not worth a SIMD path; this is both
  // the reference and the kernel.
  const int64_t half = rotary_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* cs = cos_sin + r * rotary_dim;
    for (int64_t h = 0; h < num_heads; ++h) {
      float* xh = x + r * row_stride + h * head_stride;
      for (int64_t i = 0; i < half; ++i) {
        const int64_t a = interleaved ? 2 * i : i;
        const int64_t b = interleaved ? 2 * i + 1 : i + half;
        const float c = cs[i], s = cs[half + i];
        const float x0 = xh[a], x1 = xh[b];
        xh[a] = x0 * c - x1 * s;
        xh[b] = x0 * s + x1 * c;
      }
    }
  }
}

}  // namespace seedtune
