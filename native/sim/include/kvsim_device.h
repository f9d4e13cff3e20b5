// Kvasir CUDA simulator: the device side of CUDA as plain C++ for g++, so that native/src/*.cu
// compile unchanged (built with -DKVASIR_SIM and this directory first on the include path).
// The threads of a block run as cooperative fibers (sim/kvsim.cpp): threadIdx and friends are
// globals the scheduler updates at each switch, __shared__ variables are function-scope statics
// (blocks run one at a time, so a static is exactly per-block shared memory), and the
// synchronising operations (__syncthreads, warp shuffles, __syncwarp) are calls into the
// scheduler, which checks that every thread they name takes part.
#pragma once

#include <climits>
#include <cstdint>
#include <cstring>
#include <math.h>

#include "../fp16.h"

#ifndef KVASIR_SIM
#define KVASIR_SIM 1
#endif

// ---- Qualifiers ------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __shared__ static
#define __constant__ static
#define __align__(n) __attribute__((aligned(n)))
#define __CUDACC_SIM__ 1

// ---- Vector types -----------------------------------------------------------------------------
struct __attribute__((aligned(16))) uint4 { unsigned int x, y, z, w; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned int x, y; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct __attribute__((aligned(8))) float2 { float x, y; };
struct uint3 { unsigned int x, y, z; };
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }

// ---- Thread coordinates: set by the scheduler before it switches to a thread ------------------
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
constexpr int warpSize = 32;

// ---- 16-bit storage types, bit-exact conversions (round to nearest even) ----------------------
struct __half { unsigned short __x; };
typedef __half half;
struct __nv_bfloat16 { unsigned short __x; };
typedef __nv_bfloat16 nv_bfloat16;

// The conversions themselves are shared with the fake cuBLAS and NCCL (sim/fp16.h).

inline half __float2half_rn(float f) { return half{kvsim_fp::f32_to_f16(f)}; }
inline half __float2half(float f) { return __float2half_rn(f); }
inline float __half2float(half h) { return kvsim_fp::f16_to_f32(h.__x); }
inline half __ushort_as_half(unsigned short u) { return half{u}; }
inline unsigned short __half_as_ushort(half h) { return h.__x; }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16{kvsim_fp::f32_to_bf16(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return kvsim_fp::bf16_to_f32(b.__x); }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return __nv_bfloat16{u}; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.__x; }

// ---- Math and bit intrinsics ------------------------------------------------------------------
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return static_cast<unsigned int>((static_cast<uint64_t>(a) * b) >> 32);
}
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<int64_t>(a) * b) >> 32); }
inline unsigned int __float_as_uint(float f) { return kvsim_fp::f32_bits(f); }
inline float __uint_as_float(unsigned int u) { return kvsim_fp::bits_f32(u); }
inline int __float_as_int(float f) { return static_cast<int>(kvsim_fp::f32_bits(f)); }
inline float __int_as_float(int i) { return kvsim_fp::bits_f32(static_cast<uint32_t>(i)); }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

// ---- Atomics: threads never switch inside one, so plain read-modify-write is atomic ------------
inline int atomicAdd(int* p, int v) { const int old = *p; *p = old + v; return old; }
inline unsigned int atomicAdd(unsigned int* p, unsigned int v) { const unsigned int old = *p; *p = old + v; return old; }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  const unsigned long long old = *p; *p = old + v; return old;
}
inline float atomicAdd(float* p, float v) { const float old = *p; *p = old + v; return old; }
inline int atomicMax(int* p, int v) { const int old = *p; if (v > old) *p = v; return old; }
inline int atomicMin(int* p, int v) { const int old = *p; if (v < old) *p = v; return old; }
inline unsigned int atomicOr(unsigned int* p, unsigned int v) { const unsigned int old = *p; *p = old | v; return old; }
inline int atomicCAS(int* p, int cmp, int v) { const int old = *p; if (old == cmp) *p = v; return old; }
inline unsigned int atomicCAS(unsigned int* p, unsigned int cmp, unsigned int v) {
  const unsigned int old = *p; if (old == cmp) *p = v; return old;
}
inline void __threadfence() {}
inline void __threadfence_block() {}

// ---- Synchronisation: calls into the scheduler (sim/kvsim.cpp) --------------------------------
// Each is a real (out-of-line) call, so the compiler reloads threadIdx & co. after it, and the
// scheduler identifies the sync point by its return address.
enum kvsim_shfl_mode { KVSIM_SHFL_IDX = 0, KVSIM_SHFL_UP = 1, KVSIM_SHFL_DOWN = 2, KVSIM_SHFL_XOR = 3, KVSIM_SYNCWARP = 4 };
extern "C" void kvsim_syncthreads(void);
extern "C" uint64_t kvsim_shfl(unsigned int mask, uint64_t bits, int mode, int arg, int width);
extern "C" unsigned char* kvsim_dynamic_smem(void);

#define __syncthreads() kvsim_syncthreads()

namespace kvsim_detail {
template <typename T> __attribute__((always_inline)) inline T shfl(unsigned int mask, T v, int mode, int arg, int width) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = kvsim_shfl(mask, bits, mode, arg, width);
  T r;
  std::memcpy(&r, &bits, sizeof(T));
  return r;
}
}  // namespace kvsim_detail
__attribute__((always_inline)) inline void __syncwarp(unsigned int mask = 0xffffffffu) {
  (void)kvsim_shfl(mask, 0, KVSIM_SYNCWARP, 0, 32);
}
template <typename T> __attribute__((always_inline)) inline T __shfl_sync(unsigned int mask, T v, int src, int width = 32) {
  return kvsim_detail::shfl(mask, v, KVSIM_SHFL_IDX, src, width);
}
template <typename T> __attribute__((always_inline)) inline T __shfl_up_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
  return kvsim_detail::shfl(mask, v, KVSIM_SHFL_UP, static_cast<int>(delta), width);
}
template <typename T> __attribute__((always_inline)) inline T __shfl_down_sync(unsigned int mask, T v, unsigned int delta, int width = 32) {
  return kvsim_detail::shfl(mask, v, KVSIM_SHFL_DOWN, static_cast<int>(delta), width);
}
template <typename T> __attribute__((always_inline)) inline T __shfl_xor_sync(unsigned int mask, T v, int lane_mask, int width = 32) {
  return kvsim_detail::shfl(mask, v, KVSIM_SHFL_XOR, lane_mask, width);
}
