// Dequantising matrix-vector products for decode: y[t][r] = sum_k W[r][k] * x[t][k] with W in
// GGUF's Q8_0 or Q4_0 blocks, read straight from the file layout, for a handful of tokens t.
// Decode is bound by reading W once; a tile of up to kTokensPerTile tokens shares that read.
//
// Work split: one warp per output row, four lanes per 32-value quant block (eight values each),
// so a warp consumes eight consecutive blocks (256 values) per step, and blocks of 128 threads
// hold four rows. Grid: (ceil(rows / 4), ceil(num_tokens / kTokensPerTile)).
// K (the row length) must be a multiple of 32 and x rows must start 16-byte aligned (x_stride a
// multiple of 8 elements, a 256-byte aligned base); the backend checks both before launching.
#include "common.cuh"

namespace kvasir {

constexpr int kGemvWarps = 4;
constexpr int kTokensPerTile = 8;
constexpr int kLanesPerQuantBlock = 4;
constexpr int kQuantBlocksPerStep = kWarpSize / kLanesPerQuantBlock;

// x[0..8) from a 16-byte aligned address of 16-bit values.
template <typename T> __device__ __forceinline__ void load_x8(const T* p, float (&v)[8]) {
  Vec8<T> vec;
  vec.load(p);
  vec.to_float8(v);
}
// ... or of f32 values (32-byte aligned: offsets are multiples of 8 elements).
template <> __device__ __forceinline__ void load_x8<float>(const float* p, float (&v)[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0];
  const float4 b = reinterpret_cast<const float4*>(p)[1];
  v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
  v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}

// x[0..4) from an 8-byte aligned address of 16-bit values.
template <typename T> __device__ __forceinline__ void load_x4(const T* p, float (&v)[4]) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int i = 0; i < 4; ++i) v[i] = to_float(e[i]);
}
// ... or a 16-byte aligned address of f32 values.
template <> __device__ __forceinline__ void load_x4<float>(const float* p, float (&v)[4]) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
}

// Partial dot products of one lane: eight values of one Q8_0 block against each token's x.
template <typename T>
__device__ __forceinline__ void q8_0_lane(const uint8_t* block, int part, const T* x, int64_t x_stride,
                                          int k_offset, int n_tok, float (&acc)[kTokensPerTile]) {
  const float d = load_f16_scale(block);
  const uint32_t lo = load_u32_align2(block + 2 + part * 8);
  const uint32_t hi = load_u32_align2(block + 2 + part * 8 + 4);
  float w[8];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    w[i] = static_cast<float>(static_cast<int8_t>((lo >> (8 * i)) & 0xff));
    w[i + 4] = static_cast<float>(static_cast<int8_t>((hi >> (8 * i)) & 0xff));
  }
#pragma unroll
  for (int t = 0; t < kTokensPerTile; ++t) {
    if (t >= n_tok) break;
    float xv[8];
    load_x8(x + t * x_stride + k_offset + part * 8, xv);
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < 8; ++i) s = fmaf(w[i], xv[i], s);
    acc[t] = fmaf(d, s, acc[t]);
  }
}

// Partial dot products of one lane: bytes 4*part..4*part+3 of one Q4_0 block, i.e. values
// 4*part..+3 (low nibbles) and 16+4*part..+3 (high nibbles).
template <typename T>
__device__ __forceinline__ void q4_0_lane(const uint8_t* block, int part, const T* x, int64_t x_stride,
                                          int k_offset, int n_tok, float (&acc)[kTokensPerTile]) {
  const float d = load_f16_scale(block);
  const uint32_t packed = load_u32_align2(block + 2 + part * 4);
  float w_lo[4], w_hi[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint32_t byte = (packed >> (8 * i)) & 0xff;
    w_lo[i] = static_cast<float>(static_cast<int>(byte & 0x0f) - 8);
    w_hi[i] = static_cast<float>(static_cast<int>(byte >> 4) - 8);
  }
#pragma unroll
  for (int t = 0; t < kTokensPerTile; ++t) {
    if (t >= n_tok) break;
    float x_lo[4], x_hi[4];
    load_x4(x + t * x_stride + k_offset + part * 4, x_lo);
    load_x4(x + t * x_stride + k_offset + 16 + part * 4, x_hi);
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < 4; ++i) s = fmaf(w_lo[i], x_lo[i], fmaf(w_hi[i], x_hi[i], s));
    acc[t] = fmaf(d, s, acc[t]);
  }
}

template <bool kQ4, typename T, typename Out>
__device__ void quant_gemv(Out* __restrict__ y, const uint8_t* __restrict__ w, const T* __restrict__ x,
                           int rows, int k, int num_tokens, int x_stride, int y_stride) {
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * kGemvWarps + threadIdx.x / kWarpSize;
  const int tok0 = blockIdx.y * kTokensPerTile;
  if (blockDim.x != kGemvWarps * kWarpSize) return;  // the row-per-warp split assumes this block size
  if (row >= rows || tok0 >= num_tokens) return;     // whole warps leave together
  const int n_tok = min(kTokensPerTile, num_tokens - tok0);
  const int type_size = kQ4 ? 18 : 34;
  const int blocks_per_row = k / 32;
  const uint8_t* w_row = w + static_cast<int64_t>(row) * blocks_per_row * type_size;
  const T* x_tile = x + static_cast<int64_t>(tok0) * x_stride;

  float acc[kTokensPerTile];
#pragma unroll
  for (int t = 0; t < kTokensPerTile; ++t) acc[t] = 0.f;

  const int part = lane % kLanesPerQuantBlock;
  for (int b = lane / kLanesPerQuantBlock; b < blocks_per_row; b += kQuantBlocksPerStep) {
    const uint8_t* block = w_row + static_cast<int64_t>(b) * type_size;
    if constexpr (kQ4) {
      q4_0_lane(block, part, x_tile, x_stride, b * 32, n_tok, acc);
    } else {
      q8_0_lane(block, part, x_tile, x_stride, b * 32, n_tok, acc);
    }
  }

#pragma unroll
  for (int t = 0; t < kTokensPerTile; ++t) {
    const float sum = warp_sum(acc[t]);  // every lane takes part, so the full mask is right
    if (lane == 0 && t < n_tok) y[static_cast<int64_t>(tok0 + t) * y_stride + row] = from_float<Out>(sum);
  }
}

}  // namespace kvasir

// Names: kvasir_gemv_<q8_0|q4_0>_<x type>[_f32out]; without _f32out y has x's type.
#define KVASIR_GEMV(QNAME, IS_Q4, SUFFIX, T)                                                        \
  extern "C" __global__ void __launch_bounds__(kvasir::kGemvWarps * kvasir::kWarpSize)              \
      kvasir_gemv_##QNAME##_##SUFFIX(T* y, const uint8_t* w, const T* x, int rows, int k,           \
                                     int num_tokens, int x_stride, int y_stride) {                  \
    kvasir::quant_gemv<IS_Q4, T, T>(y, w, x, rows, k, num_tokens, x_stride, y_stride);              \
  }                                                                                                 \
  extern "C" __global__ void __launch_bounds__(kvasir::kGemvWarps * kvasir::kWarpSize)              \
      kvasir_gemv_##QNAME##_##SUFFIX##_f32out(float* y, const uint8_t* w, const T* x, int rows,     \
                                              int k, int num_tokens, int x_stride, int y_stride) {  \
    kvasir::quant_gemv<IS_Q4, T, float>(y, w, x, rows, k, num_tokens, x_stride, y_stride);          \
  }
KVASIR_GEMV(q8_0, false, f16, half)
KVASIR_GEMV(q8_0, false, bf16, __nv_bfloat16)
KVASIR_GEMV(q4_0, true, f16, half)
KVASIR_GEMV(q4_0, true, bf16, __nv_bfloat16)
// f32 activations (the Backend contract's), y in f32: kvasir_gemv_<q>_f32 (and the identical _f32_f32out).
KVASIR_GEMV(q8_0, false, f32, float)
KVASIR_GEMV(q4_0, true, f32, float)
