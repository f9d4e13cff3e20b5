// RMSNorm, y = x / sqrt(mean(x^2) + eps) * weight, alone and fused with the residual add that
// precedes it in every Llama layer. One thread block per row (token); blockDim.x a multiple of 32.
// Norm weights are f32 on the device: they are tiny, and GGUF stores them as f32 anyway.
// rmsnorm may run in place (out == in): each thread rewrites only elements it has read.
#include "common.cuh"

namespace kvasir {

template <typename T>
__device__ void rmsnorm(T* out, const T* in, const float* __restrict__ weight,
                        float eps, int num_rows, int hidden) {
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= num_rows || !whole_warps()) return;
  const T* x = in + static_cast<int64_t>(row) * hidden;
  T* y = out + static_cast<int64_t>(row) * hidden;

  float sum_sq = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float v = to_float(x[i]);
    sum_sq += v * v;
  }
  const float inv_rms = rsqrtf(block_sum(sum_sq, scratch) / hidden + eps);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    y[i] = from_float<T>(to_float(x[i]) * inv_rms * weight[i]);
  }
}

// residual = x + residual (stored), then x = rmsnorm(residual) * weight (stored over x). The sum
// is normalised in f32 before rounding to T, so the norm sees the exact sum; the stored residual
// is rounded, as the next layer will read it.
template <typename T>
__device__ void fused_add_rmsnorm(T* __restrict__ x, T* __restrict__ residual,
                                  const float* __restrict__ weight, float eps, int num_rows, int hidden) {
  __shared__ float scratch[kWarpSize];
  const int row = blockIdx.x;
  if (row >= num_rows || !whole_warps()) return;
  T* xr = x + static_cast<int64_t>(row) * hidden;
  T* rr = residual + static_cast<int64_t>(row) * hidden;

  float sum_sq = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float z = to_float(xr[i]) + to_float(rr[i]);
    rr[i] = from_float<T>(z);
    sum_sq += z * z;
  }
  const float inv_rms = rsqrtf(block_sum(sum_sq, scratch) / hidden + eps);
  // Each thread rereads only the elements it wrote itself, so no barrier is needed in between.
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    xr[i] = from_float<T>(to_float(rr[i]) * inv_rms * weight[i]);
  }
}

}  // namespace kvasir

#define KVASIR_RMSNORM(SUFFIX, T)                                                                   \
  extern "C" __global__ void kvasir_rmsnorm_##SUFFIX(T* out, const T* in, const float* weight,      \
                                                     float eps, int num_rows, int hidden) {         \
    kvasir::rmsnorm<T>(out, in, weight, eps, num_rows, hidden);                                     \
  }                                                                                                 \
  extern "C" __global__ void kvasir_fused_add_rmsnorm_##SUFFIX(T* x, T* residual, const float* weight, \
                                                               float eps, int num_rows, int hidden) { \
    kvasir::fused_add_rmsnorm<T>(x, residual, weight, eps, num_rows, hidden);                       \
  }
KVASIR_RMSNORM(f16, half)
KVASIR_RMSNORM(bf16, __nv_bfloat16)
KVASIR_RMSNORM(f32, float)
