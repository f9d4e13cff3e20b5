// Token selection from f32 logits [rows][vocab]: greedy argmax, and seeded top-k / top-p sampling.
// One thread block per row; blockDim.x a multiple of 32 (the backend uses 1024).
//
// Sampling is exact and reproducible: the kept set is found by radix selection on the logits'
// order-preserving bit patterns (top-k by counts, top-p by probability mass summed in 64-bit
// fixed point, so every sum is associative and the cut never depends on thread timing), and the
// token is then drawn with the Gumbel-max trick, argmax over kept i of logit_i / T + G_i, where
// G_i = -log(-log(u_i)) and u_i comes from Philox4x32-10 keyed by the row's seed and counted by
// (i, step). That draws from softmax(logits / T) restricted to the kept set, with no prefix sum.
// NaN logits are treated as -inf: never chosen unless every logit of the row is NaN or -inf, in
// which case the lowest index is returned.
#include "common.cuh"

namespace kvasir {

constexpr int kRadixBins = 256;
// Probability mass in fixed point: 2^40 units per 1. A row's total is at most 2^40 plus
// rounding, far from overflowing 64 bits, and 1e-12 resolution is finer than f32 itself.
constexpr double kMassScale = 1099511627776.0;

__device__ __forceinline__ float sanitize(float v) { return isnan(v) ? -INFINITY : v; }

// Larger float, larger key (for non-NaN input).
__device__ __forceinline__ uint32_t order_key(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Philox4x32-10 (Salmon et al., SC'11), as in cuRAND and JAX: a counter-based generator.
__device__ __forceinline__ uint4 philox4x32_10(uint4 c, uint2 k) {
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    const uint32_t hi0 = __umulhi(0xD2511F53u, c.x);
    const uint32_t lo0 = 0xD2511F53u * c.x;
    const uint32_t hi1 = __umulhi(0xCD9E8D57u, c.z);
    const uint32_t lo1 = 0xCD9E8D57u * c.z;
    c = make_uint4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k.x += 0x9E3779B9u;
    k.y += 0xBB67AE85u;
  }
  return c;
}

// Gumbel noise for element i of a row's draw number `step`.
__device__ __forceinline__ float gumbel(unsigned long long seed, unsigned long long step, int i) {
  const uint4 r = philox4x32_10(make_uint4(static_cast<uint32_t>(i), static_cast<uint32_t>(step),
                                           static_cast<uint32_t>(step >> 32), 0u),
                                make_uint2(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)));
  const float u = (static_cast<float>(r.x >> 8) + 0.5f) * (1.f / 16777216.f);  // in (0, 1)
  return -logf(-logf(u));
}

// Reduces (value, index) to the largest value, the lowest index among equals; thread 0 gets it.
__device__ __forceinline__ void argmax_combine(float& v, int& i, float ov, int oi) {
  if (ov > v || (ov == v && oi < i)) {
    v = ov;
    i = oi;
  }
}

__device__ int block_argmax(float v, int i, float* s_val, int* s_idx) {
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    argmax_combine(v, i, __shfl_xor_sync(kFullMask, v, offset), __shfl_xor_sync(kFullMask, i, offset));
  }
  __syncthreads();
  if (lane == 0) {
    s_val[warp] = v;
    s_idx[warp] = i;
  }
  __syncthreads();
  if (warp == 0) {
    const int num_warps = blockDim.x / kWarpSize;
    v = lane < num_warps ? s_val[lane] : -INFINITY;
    i = lane < num_warps ? s_idx[lane] : INT_MAX;
#pragma unroll
    for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
      argmax_combine(v, i, __shfl_xor_sync(kFullMask, v, offset), __shfl_xor_sync(kFullMask, i, offset));
    }
    if (lane == 0) s_idx[0] = i;
  }
  __syncthreads();
  const int result = s_idx[0];
  return result == INT_MAX ? 0 : result;
}

__device__ int row_argmax(const float* logits, int vocab, float* s_val, int* s_idx) {
  float best = -INFINITY;
  int best_i = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) argmax_combine(best, best_i, sanitize(logits[i]), i);
  // A row of only -inf/NaN leaves best_i at the first index seen, which is what we want.
  return block_argmax(best, best_i, s_val, s_idx);
}

__device__ void argmax(const float* __restrict__ logits, int* __restrict__ out, int rows, int vocab) {
  __shared__ float s_val[kWarpSize];
  __shared__ int s_idx[kWarpSize];
  const int row = blockIdx.x;
  if (row >= rows || !whole_warps()) return;
  const int best = row_argmax(logits + static_cast<int64_t>(row) * vocab, vocab, s_val, s_idx);
  if (threadIdx.x == 0) out[row] = best;
}

// The largest key t such that `measure` of {i kept : key_i >= t} >= target, where measure is the
// element count (weights all 1) or the probability mass. Four passes, one byte of key each, from
// the most significant: each pass histograms the candidates that match the bytes chosen so far,
// and thread 0 walks the bins from the top until the target is met. Returns 0 (keep all) when
// the target is never met.
template <bool kMass>
__device__ uint32_t radix_select(const float* __restrict__ logits, int vocab, float inv_temp, uint32_t min_key,
                                 float max_v, float inv_sum, unsigned long long target,
                                 unsigned long long* hist, uint32_t* s_result) {
  uint32_t prefix = 0, mask = 0;
  unsigned long long above = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < kRadixBins; b += blockDim.x) hist[b] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float v = sanitize(logits[i]) * inv_temp;
      const uint32_t key = order_key(v);
      if (key < min_key || (key & mask) != prefix) continue;
      const unsigned long long w =
          kMass ? static_cast<unsigned long long>(expf(v - max_v) * inv_sum * kMassScale) : 1ull;
      atomicAdd(&hist[(key >> shift) & 0xffu], w);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int chosen = -1;
      for (int b = kRadixBins - 1; b >= 0; --b) {
        if (above + hist[b] >= target) {
          chosen = b;
          break;
        }
        above += hist[b];
      }
      s_result[0] = chosen < 0 ? 1u : 0u;  // 1: target unreachable
      s_result[1] = static_cast<uint32_t>(chosen < 0 ? 0 : chosen);
    }
    __syncthreads();
    const bool unreachable = s_result[0] != 0;
    const uint32_t chosen = s_result[1];
    __syncthreads();  // s_result is rewritten in the next pass
    if (unreachable) return 0u;
    prefix |= chosen << shift;
    mask |= 0xffu << shift;
  }
  return prefix;
}

// temperature <= 0 or top_k == 1: greedy. top_k <= 0 or >= vocab: no top-k cut.
// top_p <= 0 or >= 1: no top-p cut. Ties at a cut are all kept.
__device__ void sample(const float* __restrict__ all_logits, int* __restrict__ out, int rows, int vocab,
                       const float* __restrict__ temperatures, const int* __restrict__ top_ks,
                       const float* __restrict__ top_ps, const unsigned long long* __restrict__ seeds,
                       const unsigned long long* __restrict__ steps) {
  __shared__ float s_val[kWarpSize];
  __shared__ int s_idx[kWarpSize];
  __shared__ unsigned long long hist[kRadixBins];
  __shared__ uint32_t s_result[2];
  const int row = blockIdx.x;
  if (row >= rows || !whole_warps()) return;
  const float* logits = all_logits + static_cast<int64_t>(row) * vocab;
  const float temperature = temperatures[row];
  const int top_k = top_ks[row];
  const float top_p = top_ps[row];

  if (!(temperature > 0.f) || top_k == 1) {
    const int best = row_argmax(logits, vocab, s_val, s_idx);
    if (threadIdx.x == 0) out[row] = best;
    return;
  }
  const float inv_temp = 1.f / temperature;

  float max_v = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) max_v = fmaxf(max_v, sanitize(logits[i]) * inv_temp);
  max_v = block_max(max_v, s_val);
  if (max_v == -INFINITY) {  // nothing finite to sample from
    if (threadIdx.x == 0) out[row] = 0;
    return;
  }

  uint32_t min_key = 0;
  if (top_k > 1 && top_k < vocab) {
    min_key = radix_select<false>(logits, vocab, inv_temp, 0u, max_v, 0.f,
                                  static_cast<unsigned long long>(top_k), hist, s_result);
  }

  if (top_p > 0.f && top_p < 1.f) {
    float sum = 0.f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float v = sanitize(logits[i]) * inv_temp;
      if (order_key(v) >= min_key) sum += expf(v - max_v);
    }
    sum = block_sum(sum, s_val);  // >= 1: the maximum itself contributes exp(0)
    const unsigned long long target = static_cast<unsigned long long>(static_cast<double>(top_p) * kMassScale);
    const uint32_t p_key = radix_select<true>(logits, vocab, inv_temp, min_key, max_v, 1.f / sum, target, hist,
                                              s_result);
    min_key = max(min_key, p_key);
  }

  const unsigned long long seed = seeds[row];
  const unsigned long long step = steps[row];
  float best = -INFINITY;
  int best_i = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = sanitize(logits[i]) * inv_temp;
    if (v == -INFINITY || order_key(v) < min_key) continue;
    argmax_combine(best, best_i, v + gumbel(seed, step, i), i);
  }
  const int chosen = block_argmax(best, best_i, s_val, s_idx);
  if (threadIdx.x == 0) out[row] = chosen;
}

}  // namespace kvasir

extern "C" __global__ void kvasir_argmax(const float* logits, int* out, int rows, int vocab) {
  kvasir::argmax(logits, out, rows, vocab);
}

extern "C" __global__ void kvasir_sample(const float* logits, int* out, int rows, int vocab,
                                         const float* temperatures, const int* top_ks, const float* top_ps,
                                         const unsigned long long* seeds, const unsigned long long* steps) {
  kvasir::sample(logits, out, rows, vocab, temperatures, top_ks, top_ps, seeds, steps);
}
