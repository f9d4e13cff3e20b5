// Small whole-tensor operations of the f32 Backend contract: residual add, row gather, and the
// casts that feed cuBLAS's 16-bit GEMMs. Sizes are 64-bit: activations of a large batch can pass
// 2^31 values. Grid-stride loops, so any grid size covers any count.
#include "common.cuh"

// acc[i] += x[i] for i < count.
extern "C" __global__ void kvasir_add_f32(float* __restrict__ acc, const float* __restrict__ x, long long count) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    acc[i] += x[i];
  }
}

// dst[r] = src[rows[r]] for r < count, rows of `width` floats; a row index outside
// [0, src_rows) gives a zero row rather than a read outside src. Grid: one block per row.
extern "C" __global__ void kvasir_gather_rows_f32(float* __restrict__ dst, const float* __restrict__ src,
                                                  const int* __restrict__ rows, int count, int width, int src_rows) {
  const int r = blockIdx.x;
  if (r >= count) return;
  const int from = rows[r];
  const bool valid = from >= 0 && from < src_rows;
  const float* s = src + static_cast<int64_t>(valid ? from : 0) * width;
  float* d = dst + static_cast<int64_t>(r) * width;
  for (int i = threadIdx.x; i < width; i += blockDim.x) d[i] = valid ? s[i] : 0.f;
}

namespace kvasir {
template <typename T> __device__ void cast_from_f32(T* __restrict__ dst, const float* __restrict__ src, long long count) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    dst[i] = from_float<T>(src[i]);
  }
}
}  // namespace kvasir

extern "C" __global__ void kvasir_cast_f32_f16(half* dst, const float* src, long long count) {
  kvasir::cast_from_f32(dst, src, count);
}
extern "C" __global__ void kvasir_cast_f32_bf16(__nv_bfloat16* dst, const float* src, long long count) {
  kvasir::cast_from_f32(dst, src, count);
}
