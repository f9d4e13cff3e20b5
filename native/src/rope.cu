// Rotary position embedding, applied in place to the query and key heads of each token.
//
// Pair i of a head (i < rot_dim / 2) turns by angle position * inv_freq[i], where
// inv_freq[i] = 1 / theta^(2i / rot_dim), optionally rescaled as Llama 3.1 does for long contexts.
// Which two elements form pair i depends on how the weights were laid out:
//  - NORMAL (GGUF/llama.cpp, whose converter permutes Q and K): adjacent elements 2i and 2i + 1;
//  - NEOX (Hugging Face): the two halves, elements i and i + rot_dim / 2.
// Elements at or past rot_dim are left as they are (partial rotary).
// The angle is computed in f32 exactly as Hugging Face does (f32 inv_freq times f32 position),
// with full-range sincosf, so long positions match the reference model.
#include "common.cuh"

namespace kvasir {

constexpr int kRopeMaxPairs = 256;  // head_dim <= 512; the backend rejects larger heads

// Llama 3.1's frequency rescaling (transformers' _compute_llama3_parameters): long wavelengths
// are divided by `factor`, short ones kept, and those in between interpolated smoothly.
__device__ __forceinline__ float llama3_scale(float inv_freq, float factor, float low_freq_factor,
                                              float high_freq_factor, float original_max_pos) {
  const float low_freq_wavelen = original_max_pos / low_freq_factor;
  const float high_freq_wavelen = original_max_pos / high_freq_factor;
  const float wavelen = 2.f * 3.14159265358979323846f / inv_freq;
  if (wavelen > low_freq_wavelen) return inv_freq / factor;
  if (wavelen < high_freq_wavelen) return inv_freq;
  const float smooth = (original_max_pos / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
  return (1.f - smooth) * inv_freq / factor + smooth * inv_freq;
}

__device__ __forceinline__ void rotate_pair(float c, float s, float& x0, float& x1) {
  const float r0 = x0 * c - x1 * s;
  const float r1 = x1 * c + x0 * s;
  x0 = r0;
  x1 = r1;
}

// One thread block per token. q is [num_tokens][num_heads][head_dim] with rows q_stride apart,
// k likewise with num_kv_heads and k_stride. llama3_factor <= 0 disables the Llama 3 scaling.
template <typename T>
__device__ void rope(const int* __restrict__ positions, T* __restrict__ q, T* __restrict__ k,
                     int num_tokens, int num_heads, int num_kv_heads, int head_dim, int rot_dim,
                     int q_stride, int k_stride, float theta, int neox, float llama3_factor,
                     float llama3_low_freq_factor, float llama3_high_freq_factor,
                     float llama3_original_max_pos) {
  __shared__ float cos_s[kRopeMaxPairs];
  __shared__ float sin_s[kRopeMaxPairs];
  const int token = blockIdx.x;
  if (token >= num_tokens) return;
  const int pairs = min(min(rot_dim, head_dim) / 2, kRopeMaxPairs);
  const float pos = static_cast<float>(positions[token]);

  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    float inv_freq = 1.f / powf(theta, static_cast<float>(2 * i) / static_cast<float>(2 * pairs));
    if (llama3_factor > 0.f) {
      inv_freq = llama3_scale(inv_freq, llama3_factor, llama3_low_freq_factor, llama3_high_freq_factor,
                              llama3_original_max_pos);
    }
    sincosf(pos * inv_freq, &sin_s[i], &cos_s[i]);
  }
  __syncthreads();

  const int total = (num_heads + num_kv_heads) * pairs;
  for (int idx = threadIdx.x; idx < total; idx += blockDim.x) {
    const int head = idx / pairs;
    const int i = idx % pairs;
    T* h = head < num_heads
               ? q + static_cast<int64_t>(token) * q_stride + static_cast<int64_t>(head) * head_dim
               : k + static_cast<int64_t>(token) * k_stride + static_cast<int64_t>(head - num_heads) * head_dim;
    const int i0 = neox ? i : 2 * i;
    const int i1 = neox ? i + pairs : 2 * i + 1;
    float x0 = to_float(h[i0]);
    float x1 = to_float(h[i1]);
    rotate_pair(cos_s[i], sin_s[i], x0, x1);
    h[i0] = from_float<T>(x0);
    h[i1] = from_float<T>(x1);
  }
}

// The same rotation with the angles' cosines and sines given per row instead of computed: the
// Backend contract's form (dev.kvasir.kernels.RopeFrequencies#cosSin). x is [num_rows][heads][head_dim],
// cos_sin [num_rows][head_dim]: head_dim / 2 cosines, then head_dim / 2 sines. Every pair rotates.
// Grid: one block per row.
template <typename T>
__device__ void rope_cos_sin(T* __restrict__ x, const float* __restrict__ cos_sin, int num_rows, int heads,
                             int head_dim, int neox) {
  const int row = blockIdx.x;
  if (row >= num_rows) return;
  const int pairs = head_dim / 2;
  const float* c = cos_sin + static_cast<int64_t>(row) * head_dim;
  const float* s = c + pairs;
  T* base = x + static_cast<int64_t>(row) * heads * head_dim;
  for (int idx = threadIdx.x; idx < heads * pairs; idx += blockDim.x) {
    const int head = idx / pairs;
    const int i = idx % pairs;
    T* h = base + static_cast<int64_t>(head) * head_dim;
    const int i0 = neox ? i : 2 * i;
    const int i1 = neox ? i + pairs : 2 * i + 1;
    float x0 = to_float(h[i0]);
    float x1 = to_float(h[i1]);
    rotate_pair(c[i], s[i], x0, x1);
    h[i0] = from_float<T>(x0);
    h[i1] = from_float<T>(x1);
  }
}

}  // namespace kvasir

extern "C" __global__ void kvasir_rope_cos_sin_f32(float* x, const float* cos_sin, int num_rows, int heads,
                                                   int head_dim, int neox) {
  kvasir::rope_cos_sin<float>(x, cos_sin, num_rows, heads, head_dim, neox);
}

#define KVASIR_ROPE(SUFFIX, T)                                                                      \
  extern "C" __global__ void kvasir_rope_##SUFFIX(                                                  \
      const int* positions, T* q, T* k, int num_tokens, int num_heads, int num_kv_heads,            \
      int head_dim, int rot_dim, int q_stride, int k_stride, float theta, int neox,                 \
      float llama3_factor, float llama3_low_freq_factor, float llama3_high_freq_factor,             \
      float llama3_original_max_pos) {                                                              \
    kvasir::rope<T>(positions, q, k, num_tokens, num_heads, num_kv_heads, head_dim, rot_dim,        \
                    q_stride, k_stride, theta, neox, llama3_factor, llama3_low_freq_factor,         \
                    llama3_high_freq_factor, llama3_original_max_pos);                              \
  }
KVASIR_ROPE(f16, half)
KVASIR_ROPE(bf16, __nv_bfloat16)
