// Paged attention for decode: each sequence has one new query token per head, attending to the
// `context_len` tokens in its KV blocks (its own token included, written by reshape_and_cache).
//
// One thread block serves one KV head of one sequence and all the query heads that share it
// (GQA: query head h reads KV head h / (num_heads / num_kv_heads)), so each K and V row is read
// from memory once per group rather than once per query head. It walks its range of the block
// table once, in tiles of kDecodeTile tokens, keeping an online softmax (running max m, running
// sum l, output accumulator rescaled whenever m grows):
//   1. scores: a sub-warp of lanes per token computes q.k for every head of the group;
//   2. the tile's V rows go to shared memory at the same time;
//   3. one warp per head updates m and l and turns scores into probabilities;
//   4. every thread updates its (head, dim) accumulators with p * v.
// Long contexts are split over gridDim.z partitions of partition_size tokens, each writing its
// normalised partial output with its m and l; paged_attention_reduce combines them. With a single
// partition the kernel writes the final output directly.
#include "attention_common.cuh"

namespace kvasir {

constexpr int kDecodeTile = 32;          // tokens per tile: one per lane in the softmax step
constexpr int kMaxOutputsPerThread = 8;  // heads_per_block * head_dim <= 8 * kAttnThreads

// Dynamic shared memory, in this order (each part starts 16-byte aligned because head_dim is a
// multiple of 8): q [heads][head_dim] f32 (pre-scaled), scores [heads][tile] f32,
// v [tile][head_dim] in the cache type, then m, l and the rescale factor per head.
// v [tile][head_dim] is in the cache type C.
template <typename C>
__host__ __device__ constexpr size_t decode_smem_bytes(int heads_per_block, int head_dim) {
  return sizeof(float) * (static_cast<size_t>(heads_per_block) * head_dim + heads_per_block * kDecodeTile) +
         sizeof(C) * kDecodeTile * head_dim + sizeof(float) * 3 * heads_per_block;
}

// T: the type of q and out (f16, bf16, or f32); C: the cache's 16-bit type.
template <typename T, typename C>
__device__ void paged_attention_decode(
    T* __restrict__ out, float* __restrict__ tmp_out, float* __restrict__ max_logits, float* __restrict__ exp_sums,
    const T* __restrict__ q, int q_stride, const C* __restrict__ k_cache, const C* __restrict__ v_cache,
    const int* __restrict__ block_tables, int max_blocks_per_seq, const int* __restrict__ context_lens,
    int num_blocks, int block_size, int num_heads, int num_kv_heads, int head_dim, int heads_per_block,
    float scale, int partition_size) {
  KVASIR_DYNAMIC_SMEM(smem);
  if (!attention_launch_ok(num_heads, num_kv_heads, head_dim, block_size) || heads_per_block <= 0 ||
      heads_per_block * head_dim > kMaxOutputsPerThread * kAttnThreads || partition_size <= 0) {
    return;  // the backend validates shapes first; this keeps a bad launch from dividing by zero
  }

  const int group = num_heads / num_kv_heads;
  const int chunks = (group + heads_per_block - 1) / heads_per_block;
  const int kv_head = blockIdx.x / chunks;
  const int head0 = kv_head * group + (blockIdx.x % chunks) * heads_per_block;
  const int heads = min(heads_per_block, kv_head * group + group - head0);
  const int seq = blockIdx.y;
  const int partition = blockIdx.z;
  const int num_partitions = gridDim.z;
  const int tid = threadIdx.x;
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  if (kv_head >= num_kv_heads) return;

  const int* block_table = block_tables + static_cast<int64_t>(seq) * max_blocks_per_seq;
  const int context_len = min(context_lens[seq], max_blocks_per_seq * block_size);
  const int part_start = partition * partition_size;
  const int part_end = min(part_start + partition_size, context_len);
  const int64_t out_row = (static_cast<int64_t>(seq) * num_heads + head0) * head_dim;

  if (context_len <= 0) {  // nothing to attend to: a defined zero output
    if (num_partitions == 1) {
      for (int o = tid; o < heads * head_dim; o += blockDim.x) out[out_row + o] = from_float<T>(0.f);
    }
    return;
  }
  if (part_start >= part_end) return;  // this partition lies past the context; reduce ignores it

  float* q_s = reinterpret_cast<float*>(smem);
  float* s_s = q_s + heads_per_block * head_dim;
  C* v_s = reinterpret_cast<C*>(s_s + heads_per_block * kDecodeTile);
  float* m_s = reinterpret_cast<float*>(v_s + kDecodeTile * head_dim);
  float* l_s = m_s + heads_per_block;
  float* c_s = l_s + heads_per_block;

  const T* q_row = q + static_cast<int64_t>(seq) * q_stride + static_cast<int64_t>(head0) * head_dim;
  for (int i = tid; i < heads * head_dim; i += blockDim.x) q_s[i] = to_float(q_row[i]) * scale;
  for (int h = tid; h < heads; h += blockDim.x) {
    m_s[h] = -INFINITY;
    l_s[h] = 0.f;
  }

  // Score step layout: `tpt` lanes per token, tpt the largest power of two <= head_dim / 8 (max
  // 32), so each lane holds one or two 8-value slices of the key and a token's lanes share a warp.
  const int vecs = head_dim / 8;
  int tpt = 1;
  while (tpt * 2 <= vecs && tpt * 2 <= kWarpSize) tpt *= 2;
  const int sub = tid / tpt;
  const int sub_lane = tid % tpt;
  const int num_subs = blockDim.x / tpt;

  float acc[kMaxOutputsPerThread];
#pragma unroll
  for (int i = 0; i < kMaxOutputsPerThread; ++i) acc[i] = 0.f;
  __syncthreads();

  for (int tile = part_start; tile < part_end; tile += kDecodeTile) {
    // 1. Scores. Every lane of a warp runs the same number of iterations (kDecodeTile is a
    // multiple of num_subs, or each warp's subgroups all lie below or above kDecodeTile), so the
    // full-mask shuffles below are safe.
    for (int t = sub; t < kDecodeTile; t += num_subs) {
      const int pos = tile + t;
      const int64_t off = pos < part_end ? kv_offset(block_table, max_blocks_per_seq, num_blocks, block_size,
                                                     num_kv_heads, head_dim, kv_head, pos)
                                         : -1;
      float k[2][8];
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int v = sub_lane + j * tpt;
        if (off >= 0 && v < vecs) {
          Vec8<C> vec;
          vec.load(k_cache + off + v * 8);
          vec.to_float8(k[j]);
        } else {
#pragma unroll
          for (int e = 0; e < 8; ++e) k[j][e] = 0.f;
        }
      }
      for (int h = 0; h < heads; ++h) {
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int v = sub_lane + j * tpt;
          if (v < vecs) {
            const float* qv = q_s + h * head_dim + v * 8;
#pragma unroll
            for (int e = 0; e < 8; ++e) dot = fmaf(qv[e], k[j][e], dot);
          }
        }
        for (int offset = tpt / 2; offset > 0; offset >>= 1) dot += __shfl_xor_sync(kFullMask, dot, offset);
        if (sub_lane == 0) s_s[h * kDecodeTile + t] = off >= 0 ? dot : -INFINITY;
      }
    }
    // 2. V rows of the tile; absent tokens get zeros so that 0 * v stays 0.
    for (int idx = tid; idx < kDecodeTile * vecs; idx += blockDim.x) {
      const int t = idx / vecs;
      const int v = idx % vecs;
      const int pos = tile + t;
      const int64_t off = pos < part_end ? kv_offset(block_table, max_blocks_per_seq, num_blocks, block_size,
                                                     num_kv_heads, head_dim, kv_head, pos)
                                         : -1;
      Vec8<C> vec;
      if (off >= 0) {
        vec.load(v_cache + off + v * 8);
      } else {
        vec.raw = make_uint4(0u, 0u, 0u, 0u);  // +0.0 in both f16 and bf16
      }
      vec.store(v_s + t * head_dim + v * 8);
    }
    __syncthreads();

    // 3. Online softmax update, one warp per head, one lane per token of the tile.
    for (int h = warp; h < heads; h += kAttnWarps) {
      const float s = s_s[h * kDecodeTile + lane];
      const float m_old = m_s[h];
      const float m_new = fmaxf(m_old, warp_max(s));
      const float p = s == -INFINITY ? 0.f : expf(s - m_new);
      const float tile_sum = warp_sum(p);
      s_s[h * kDecodeTile + lane] = p;
      if (lane == 0) {
        const float correction = m_old == -INFINITY ? 0.f : expf(m_old - m_new);
        c_s[h] = correction;
        l_s[h] = l_s[h] * correction + tile_sum;
        m_s[h] = m_new;
      }
    }
    __syncthreads();

    // 4. acc[h][d] = acc[h][d] * correction[h] + sum_t p[h][t] * v[t][d].
#pragma unroll
    for (int i = 0; i < kMaxOutputsPerThread; ++i) {
      const int o = tid + i * kAttnThreads;
      if (o < heads * head_dim) {
        const int h = o / head_dim;
        const int d = o % head_dim;
        float a = acc[i] * c_s[h];
#pragma unroll 8
        for (int t = 0; t < kDecodeTile; ++t) a = fmaf(s_s[h * kDecodeTile + t], to_float(v_s[t * head_dim + d]), a);
        acc[i] = a;
      }
    }
    __syncthreads();  // the next tile overwrites s_s and v_s
  }

  // Every partition that gets here holds at least one valid token, so l > 0 unless the block
  // table pointed nowhere for all of them; then the output is 0 rather than 0/0.
#pragma unroll
  for (int i = 0; i < kMaxOutputsPerThread; ++i) {
    const int o = tid + i * kAttnThreads;
    if (o < heads * head_dim) {
      const int h = o / head_dim;
      const float l = l_s[h];
      const float value = l > 0.f ? acc[i] / l : 0.f;
      if (num_partitions == 1) {
        out[out_row + o] = from_float<T>(value);
      } else {
        const int d = o % head_dim;
        const int64_t row = (static_cast<int64_t>(seq) * num_heads + head0 + h) * num_partitions + partition;
        tmp_out[row * head_dim + d] = value;
      }
    }
  }
  if (num_partitions > 1) {
    for (int h = tid; h < heads; h += blockDim.x) {
      const int64_t row = (static_cast<int64_t>(seq) * num_heads + head0 + h) * num_partitions + partition;
      max_logits[row] = m_s[h];
      exp_sums[row] = l_s[h];
    }
  }
}

// Combines the partitions of one (sequence, head): out = sum_p w_p * o_p / sum_p w_p with
// w_p = l_p * exp(m_p - max_p m_p). Grid: (num_heads, num_seqs); dynamic shared memory holds
// max_partitions floats.
template <typename T>
__device__ void paged_attention_reduce(T* __restrict__ out, const float* __restrict__ tmp_out,
                                       const float* __restrict__ max_logits, const float* __restrict__ exp_sums,
                                       const int* __restrict__ context_lens, int max_blocks_per_seq, int block_size,
                                       int num_heads, int head_dim, int max_partitions, int partition_size) {
  KVASIR_DYNAMIC_SMEM(smem);
  __shared__ float scratch[kWarpSize];
  float* weights = reinterpret_cast<float*>(smem);
  const int head = blockIdx.x;
  const int seq = blockIdx.y;
  if (head >= num_heads || !whole_warps() || partition_size <= 0) return;
  const int64_t head_row = static_cast<int64_t>(seq) * num_heads + head;
  T* o = out + head_row * head_dim;
  const int context_len = min(context_lens[seq], max_blocks_per_seq * block_size);
  const int parts = min(max_partitions, context_len <= 0 ? 0 : (context_len + partition_size - 1) / partition_size);
  if (parts == 0) {
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) o[d] = from_float<T>(0.f);
    return;
  }
  const float* m = max_logits + head_row * max_partitions;
  const float* l = exp_sums + head_row * max_partitions;

  float m_max = -INFINITY;
  for (int p = threadIdx.x; p < parts; p += blockDim.x) m_max = fmaxf(m_max, m[p]);
  m_max = block_max(m_max, scratch);
  float total = 0.f;
  for (int p = threadIdx.x; p < parts; p += blockDim.x) {
    const float w = m[p] == -INFINITY ? 0.f : l[p] * expf(m[p] - m_max);
    weights[p] = w;
    total += w;
  }
  total = block_sum(total, scratch);  // its barriers also publish `weights`
  const float inv_total = total > 0.f ? 1.f / total : 0.f;

  const float* partial = tmp_out + head_row * max_partitions * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float a = 0.f;
    for (int p = 0; p < parts; ++p) a = fmaf(weights[p], partial[static_cast<int64_t>(p) * head_dim + d], a);
    o[d] = from_float<T>(a * inv_total);
  }
}

}  // namespace kvasir

// Names: kvasir_paged_attention_{decode,reduce}_<activation type>, with _kv<cache type> appended
// when the cache type differs (f32 activations over an f16 or bf16 cache).
#define KVASIR_PAGED_ATTENTION_DECODE(NAME, T, C)                                                   \
  extern "C" __global__ void __launch_bounds__(kvasir::kAttnThreads) kvasir_paged_attention_decode_##NAME( \
      T* out, float* tmp_out, float* max_logits, float* exp_sums, const T* q, int q_stride,          \
      const C* k_cache, const C* v_cache, const int* block_tables, int max_blocks_per_seq,          \
      const int* context_lens, int num_blocks, int block_size, int num_heads, int num_kv_heads,     \
      int head_dim, int heads_per_block, float scale, int partition_size) {                        \
    kvasir::paged_attention_decode<T, C>(out, tmp_out, max_logits, exp_sums, q, q_stride, k_cache,  \
                                         v_cache, block_tables, max_blocks_per_seq, context_lens,   \
                                         num_blocks, block_size, num_heads, num_kv_heads, head_dim, \
                                         heads_per_block, scale, partition_size);                   \
  }
#define KVASIR_PAGED_ATTENTION_REDUCE(NAME, T)                                                      \
  extern "C" __global__ void kvasir_paged_attention_reduce_##NAME(                                  \
      T* out, const float* tmp_out, const float* max_logits, const float* exp_sums,                 \
      const int* context_lens, int max_blocks_per_seq, int block_size, int num_heads, int head_dim, \
      int max_partitions, int partition_size) {                                                     \
    kvasir::paged_attention_reduce<T>(out, tmp_out, max_logits, exp_sums, context_lens,             \
                                      max_blocks_per_seq, block_size, num_heads, head_dim,          \
                                      max_partitions, partition_size);                              \
  }
KVASIR_PAGED_ATTENTION_DECODE(f16, half, half)
KVASIR_PAGED_ATTENTION_DECODE(bf16, __nv_bfloat16, __nv_bfloat16)
KVASIR_PAGED_ATTENTION_DECODE(f32_kvf16, float, half)
KVASIR_PAGED_ATTENTION_DECODE(f32_kvbf16, float, __nv_bfloat16)
KVASIR_PAGED_ATTENTION_REDUCE(f16, half)
KVASIR_PAGED_ATTENTION_REDUCE(bf16, __nv_bfloat16)
KVASIR_PAGED_ATTENTION_REDUCE(f32, float)
