// The paged KV cache: writing new keys and values into their slots, and copying whole blocks.
//
// Layout, per layer, the same on every backend: K and V are each
// [num_blocks][block_size][num_kv_heads][head_dim], and a token's slot is
// block * block_size + offset. A slot therefore addresses one contiguous
// [num_kv_heads][head_dim] row, which is why these kernels need no block size.
#include "common.cuh"

namespace kvasir {

// One thread block per token. key/value rows are [num_kv_heads][head_dim] at key_stride /
// value_stride elements apart, so K and V may be column slices of a fused QKV projection.
// A negative slot (padding) is skipped; so is a slot >= num_slots, which would lie outside the
// cache: the kernel never writes outside [0, num_slots).
// T: the type of key and value (f16, bf16, or f32); C: the cache's 16-bit type.
template <typename T, typename C>
__device__ void reshape_and_cache(const T* __restrict__ key, const T* __restrict__ value,
                                  C* __restrict__ k_cache, C* __restrict__ v_cache,
                                  const int* __restrict__ slot_mapping, int num_tokens,
                                  int num_kv_heads, int head_dim, int key_stride, int value_stride,
                                  long long num_slots) {
  const int token = blockIdx.x;
  if (token >= num_tokens) return;
  const long long slot = slot_mapping[token];
  if (slot < 0 || slot >= num_slots) return;

  const int row = num_kv_heads * head_dim;
  const T* k_src = key + static_cast<int64_t>(token) * key_stride;
  const T* v_src = value + static_cast<int64_t>(token) * value_stride;
  C* k_dst = k_cache + slot * row;
  C* v_dst = v_cache + slot * row;
  for (int i = threadIdx.x; i < row; i += blockDim.x) {
    k_dst[i] = from_float<C>(to_float(k_src[i]));
    v_dst[i] = from_float<C>(to_float(v_src[i]));
  }
}

// Copy-on-write and swap-in within the device: for each (src, dst) pair, copy block src to block
// dst in every cache listed in cache_ptrs (K and V of every layer, all of block_bytes per block).
// Grid: (num_caches, num_pairs). A pair with either id outside [0, num_blocks) is skipped.
// block_bytes is a multiple of 16 whenever head_dim is a multiple of 8, which the backend
// requires; any other size is copied byte by byte, so no size is undefined.
__device__ void copy_blocks(const unsigned long long* __restrict__ cache_ptrs, int num_caches,
                            const int* __restrict__ pairs, int num_pairs, int num_blocks,
                            long long block_bytes) {
  const int cache = blockIdx.x;
  const int pair = blockIdx.y;
  if (cache >= num_caches || pair >= num_pairs) return;
  const int src = pairs[2 * pair];
  const int dst = pairs[2 * pair + 1];
  if (src < 0 || src >= num_blocks || dst < 0 || dst >= num_blocks || src == dst) return;

  uint8_t* base = reinterpret_cast<uint8_t*>(cache_ptrs[cache]);
  const uint8_t* from = base + static_cast<int64_t>(src) * block_bytes;
  uint8_t* to = base + static_cast<int64_t>(dst) * block_bytes;
  // 16-byte copies when every block starts 16-byte aligned, bytes otherwise.
  const bool aligned = block_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(base) % 16 == 0;
  const long long vecs = aligned ? block_bytes / 16 : 0;
  const uint4* from4 = reinterpret_cast<const uint4*>(from);
  uint4* to4 = reinterpret_cast<uint4*>(to);
  for (long long i = threadIdx.x; i < vecs; i += blockDim.x) to4[i] = from4[i];
  for (long long i = vecs * 16 + threadIdx.x; i < block_bytes; i += blockDim.x) to[i] = from[i];
}

}  // namespace kvasir

// Names: kvasir_reshape_and_cache_<input type>[_kv<cache type>], as for attention.
#define KVASIR_RESHAPE_AND_CACHE(NAME, T, C)                                                         \
  extern "C" __global__ void kvasir_reshape_and_cache_##NAME(                                        \
      const T* key, const T* value, C* k_cache, C* v_cache, const int* slot_mapping, int num_tokens, \
      int num_kv_heads, int head_dim, int key_stride, int value_stride, long long num_slots) {       \
    kvasir::reshape_and_cache<T, C>(key, value, k_cache, v_cache, slot_mapping, num_tokens,          \
                                    num_kv_heads, head_dim, key_stride, value_stride, num_slots);    \
  }
KVASIR_RESHAPE_AND_CACHE(f16, half, half)
KVASIR_RESHAPE_AND_CACHE(bf16, __nv_bfloat16, __nv_bfloat16)
KVASIR_RESHAPE_AND_CACHE(f32_kvf16, float, half)
KVASIR_RESHAPE_AND_CACHE(f32_kvbf16, float, __nv_bfloat16)

// Storage-type independent: blocks are copied as bytes.
extern "C" __global__ void kvasir_copy_blocks(const unsigned long long* cache_ptrs, int num_caches,
                                              const int* pairs, int num_pairs, int num_blocks,
                                              long long block_bytes) {
  kvasir::copy_blocks(cache_ptrs, num_caches, pairs, num_pairs, num_blocks, block_bytes);
}
