// What the decode and prefill attention kernels share: the paged KV lookup and the limits on
// head sizes that their register and shared-memory plans assume.
#pragma once

#include "common.cuh"

namespace kvasir {

// head_dim is a multiple of 8 (16-byte vectors of 16-bit values) and at most 256. The backend
// rejects other models before launching; the kernels return without writing if given one.
constexpr int kMaxHeadDim = 256;
constexpr int kAttnThreads = 256;
constexpr int kAttnWarps = kAttnThreads / kWarpSize;

__device__ __forceinline__ bool head_dim_supported(int head_dim) {
  return head_dim > 0 && head_dim % 8 == 0 && head_dim <= kMaxHeadDim;
}

// The shape checks both attention kernels make before dividing by anything: whole GQA groups,
// a positive block size, and the block of kAttnThreads threads their work split assumes.
__device__ __forceinline__ bool attention_launch_ok(int num_heads, int num_kv_heads, int head_dim, int block_size) {
  return blockDim.x == kAttnThreads && num_kv_heads > 0 && num_heads >= num_kv_heads &&
         num_heads % num_kv_heads == 0 && block_size > 0 && head_dim_supported(head_dim);
}

// Element offset of token `pos`'s row for kv head `kv_head` in a cache laid out as
// [num_blocks][block_size][num_kv_heads][head_dim], or -1 when the block table does not give a
// valid physical block for it (then the token is treated as absent: score -inf, value 0).
__device__ __forceinline__ int64_t kv_offset(const int* __restrict__ block_table, int max_blocks_per_seq,
                                             int num_blocks, int block_size, int num_kv_heads, int head_dim,
                                             int kv_head, int pos) {
  const int logical = pos / block_size;
  if (pos < 0 || logical >= max_blocks_per_seq) return -1;
  const int physical = block_table[logical];
  if (physical < 0 || physical >= num_blocks) return -1;
  const int64_t slot = static_cast<int64_t>(physical) * block_size + pos % block_size;
  return (slot * num_kv_heads + kv_head) * head_dim;
}

}  // namespace kvasir
