// Shared helpers for Kvasir's kernels: storage types, f32 conversion, warp and block reductions.
//
// Conventions every kernel follows:
//  - Activations and the KV cache are stored as f16 (`half`) or bf16 (`__nv_bfloat16`); all
//    arithmetic is in f32. Each kernel exists once per storage type, as an `extern "C"` entry point
//    named `kvasir_<op>_<f16|bf16>` so that the Java side finds it with cuModuleGetFunction.
//  - Sizes are `int` and always >= 0 when they come from the host; element offsets are computed in
//    `int64_t` because a KV cache easily exceeds 2^31 elements.
//  - Every index read from device memory (token ids, slots, block ids) is checked against its range
//    before it is used as an address; the kernel's comment says what happens to one out of range.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

// Declares `name`, the block's dynamic shared memory (the launch's sharedMemBytes), as an array
// of bytes 16-byte aligned. Under the CPU simulator (native/sim, KVASIR_SIM) it is the
// simulator's per-launch buffer, filled with 0xff bytes at the start of every block.
#ifdef KVASIR_SIM
#define KVASIR_DYNAMIC_SMEM(name) unsigned char* const name = kvsim_dynamic_smem()
#else
#define KVASIR_DYNAMIC_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif

namespace kvasir {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

template <typename T> __device__ __forceinline__ float to_float(T x);
template <> __device__ __forceinline__ float to_float<float>(float x) { return x; }
template <> __device__ __forceinline__ float to_float<half>(half x) { return __half2float(x); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ half from_float<half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Eight 16-bit values moved as one 16-byte load or store. Callers guarantee 16-byte alignment:
// cudaMalloc'd bases are 256-byte aligned and every offset used with it is a multiple of 8 elements.
template <typename T> struct Vec8 {
  static_assert(sizeof(T) == 2, "Vec8 holds 16-bit storage types");
  uint4 raw;
  __device__ __forceinline__ void load(const T* p) { raw = *reinterpret_cast<const uint4*>(p); }
  __device__ __forceinline__ void store(T* p) const { *reinterpret_cast<uint4*>(p) = raw; }
  __device__ __forceinline__ void to_float8(float (&out)[8]) const {
    const T* v = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int i = 0; i < 8; ++i) out[i] = to_float(v[i]);
  }
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// The block reductions below shuffle with a full warp mask: blockDim.x must be a multiple of 32.
// Kernels that use them return at once otherwise (the backend never launches such a block).
__device__ __forceinline__ bool whole_warps() { return blockDim.x % kWarpSize == 0; }

// Sum over the whole thread block; every thread gets the result. `scratch` holds one float per
// warp. blockDim.x must be a multiple of 32. The reduction order is fixed, so results are
// bit-reproducible run to run.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int num_warps = blockDim.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < num_warps ? scratch[lane] : 0.f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int num_warps = blockDim.x / kWarpSize;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < num_warps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}

// Reads a 16-bit value at a 2-byte aligned address (the f16 scale of a GGUF quant block; the
// blocks are 18 or 34 bytes long, so nothing wider is aligned).
__device__ __forceinline__ float load_f16_scale(const uint8_t* p) {
  return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(p)));
}

// Reads 4 bytes at a 2-byte aligned address as two 16-bit loads.
__device__ __forceinline__ uint32_t load_u32_align2(const uint8_t* p) {
  const unsigned short* s = reinterpret_cast<const unsigned short*>(p);
  return static_cast<uint32_t>(s[0]) | (static_cast<uint32_t>(s[1]) << 16);
}

}  // namespace kvasir
