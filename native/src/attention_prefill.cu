// Paged attention for prefill chunks: the query tokens of each sequence attend, causally, to
// everything in their KV blocks: the cached prefix (earlier chunks, prefix-cache hits) and the
// chunk itself, whose K and V reshape_and_cache has already written. Sequences are packed:
// query_start_loc[s]..query_start_loc[s+1] are sequence s's query rows, context_lens[s] its
// tokens in the cache after this chunk, so query token j sits at position
// context_len - query_len + j and sees keys 0..that position.
//
// Tiled FlashAttention on CUDA cores: a thread block takes kPrefillRows query rows of one KV
// head, a row being one (token, query head of the group) pair, so GQA groups share each K/V
// tile. It walks the keys in tiles of kPrefillKeys, keeping an online softmax per row:
//   1. K and V rows of the tile go to shared memory (K padded so that the 16 rows read by one
//      warp fall in different banks);
//   2. scores S = q.k * scale, masked (-inf) past the row's causal limit or a missing block;
//   3. one warp per row updates the running max and sum and turns S into probabilities;
//   4. every thread updates its (row, dim) accumulators with P.V.
// Grid: (ceil(max_query_len * group / kPrefillRows), num_kv_heads, num_seqs).
#include "attention_common.cuh"

namespace kvasir {

constexpr int kPrefillRows = 32;
constexpr int kPrefillKeys = 16;
constexpr int kPrefillMaxOutputs = kPrefillRows * kMaxHeadDim / kAttnThreads;  // accumulators per thread

// Dynamic shared memory, in this order: q [rows][head_dim] f32 (pre-scaled), v [keys][head_dim] C,
// k [keys][head_dim + 2] C, scores [rows][keys] f32, then m, l and the rescale factor per row.
// That is 26 KiB at head_dim 128 and 50 KiB at 256, where the launch must opt in to more than
// the default 48 KiB (cuFuncSetAttribute MAX_DYNAMIC_SHARED_SIZE_BYTES; sm_80 and sm_90 allow it).
template <typename C>
__host__ __device__ constexpr size_t prefill_smem_bytes(int head_dim) {
  return sizeof(float) * static_cast<size_t>(kPrefillRows) * head_dim +
         sizeof(C) * (kPrefillKeys * head_dim + kPrefillKeys * (head_dim + 2)) +
         sizeof(float) * (kPrefillRows * kPrefillKeys + 3 * kPrefillRows);
}

// T: the type of q and out (f16, bf16, or f32); C: the cache's 16-bit type.
template <typename T, typename C>
__device__ void paged_attention_prefill(
    T* __restrict__ out, int out_stride, const T* __restrict__ q, int q_stride, const C* __restrict__ k_cache,
    const C* __restrict__ v_cache, const int* __restrict__ block_tables, int max_blocks_per_seq,
    const int* __restrict__ query_start_loc, const int* __restrict__ context_lens, int num_blocks, int block_size,
    int num_heads, int num_kv_heads, int head_dim, float scale) {
  KVASIR_DYNAMIC_SMEM(smem);
  if (!attention_launch_ok(num_heads, num_kv_heads, head_dim, block_size)) return;  // validated by the backend

  const int kv_head = blockIdx.y;
  const int seq = blockIdx.z;
  const int group = num_heads / num_kv_heads;
  const int q_start = query_start_loc[seq];
  const int query_len = query_start_loc[seq + 1] - q_start;
  const int row0 = blockIdx.x * kPrefillRows;
  if (kv_head >= num_kv_heads || query_len <= 0 || row0 >= query_len * group) return;
  const int context_len = min(context_lens[seq], max_blocks_per_seq * block_size);
  const int first_pos = context_len - query_len;  // position of query token 0
  const int* block_table = block_tables + static_cast<int64_t>(seq) * max_blocks_per_seq;
  const int rows = min(kPrefillRows, query_len * group - row0);
  const int tid = threadIdx.x;
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int k_pitch = head_dim + 2;

  float* q_s = reinterpret_cast<float*>(smem);
  C* v_s = reinterpret_cast<C*>(q_s + kPrefillRows * head_dim);
  C* k_s = v_s + kPrefillKeys * head_dim;
  float* s_s = reinterpret_cast<float*>(k_s + kPrefillKeys * k_pitch);
  float* m_s = s_s + kPrefillRows * kPrefillKeys;
  float* l_s = m_s + kPrefillRows;
  float* c_s = l_s + kPrefillRows;

  // Row r of this block is query token (row0 + r) / group, query head kv_head * group + (row0 + r) % group.
  for (int idx = tid; idx < kPrefillRows * head_dim; idx += blockDim.x) {
    const int r = idx / head_dim;
    const int d = idx % head_dim;
    float value = 0.f;
    if (r < rows) {
      const int token = (row0 + r) / group;
      const int head = kv_head * group + (row0 + r) % group;
      value = to_float(q[static_cast<int64_t>(q_start + token) * q_stride + static_cast<int64_t>(head) * head_dim + d]) * scale;
    }
    q_s[idx] = value;
  }
  const int vecs = head_dim / 8;
  for (int r = tid; r < kPrefillRows; r += blockDim.x) {
    m_s[r] = -INFINITY;
    l_s[r] = 0.f;
  }

  // Keys up to the causal limit of the block's last row.
  const int last_token = (row0 + rows - 1) / group;
  const int key_end = min(context_len, first_pos + last_token + 1);

  float acc[kPrefillMaxOutputs];
#pragma unroll
  for (int i = 0; i < kPrefillMaxOutputs; ++i) acc[i] = 0.f;
  __syncthreads();

  for (int key0 = 0; key0 < key_end; key0 += kPrefillKeys) {
    // 1. K and V rows of the tile; absent keys are zeros (their scores are masked anyway).
    for (int idx = tid; idx < kPrefillKeys * vecs; idx += blockDim.x) {
      const int c = idx / vecs;
      const int v = idx % vecs;
      const int pos = key0 + c;
      const int64_t off = pos < key_end ? kv_offset(block_table, max_blocks_per_seq, num_blocks, block_size,
                                                    num_kv_heads, head_dim, kv_head, pos)
                                        : -1;
      Vec8<C> kvec, vvec;
      if (off >= 0) {
        kvec.load(k_cache + off + v * 8);
        vvec.load(v_cache + off + v * 8);
      } else {
        kvec.raw = make_uint4(0u, 0u, 0u, 0u);
        vvec.raw = kvec.raw;
      }
      vvec.store(v_s + c * head_dim + v * 8);
      // k rows are padded to head_dim + 2 values, so only 4-byte alignment holds: four 4-byte stores.
      uint32_t* kdst = reinterpret_cast<uint32_t*>(k_s + c * k_pitch + v * 8);
      kdst[0] = kvec.raw.x;
      kdst[1] = kvec.raw.y;
      kdst[2] = kvec.raw.z;
      kdst[3] = kvec.raw.w;
    }
    __syncthreads();

    // 2. Scores, masked.
    for (int e = tid; e < kPrefillRows * kPrefillKeys; e += blockDim.x) {
      const int r = e / kPrefillKeys;
      const int c = e % kPrefillKeys;
      const int pos = key0 + c;
      float s = -INFINITY;
      if (r < rows) {
        const int query_pos = first_pos + (row0 + r) / group;
        const bool visible = pos <= query_pos && pos < key_end &&
                             kv_offset(block_table, max_blocks_per_seq, num_blocks, block_size, num_kv_heads,
                                       head_dim, kv_head, pos) >= 0;
        if (visible) {
          const float* qr = q_s + r * head_dim;
          const C* kr = k_s + c * k_pitch;
          float dot = 0.f;
          for (int d = 0; d < head_dim; d += 2) {
            dot = fmaf(qr[d], to_float(kr[d]), dot);
            dot = fmaf(qr[d + 1], to_float(kr[d + 1]), dot);
          }
          s = dot;
        }
      }
      s_s[e] = s;
    }
    __syncthreads();

    // 3. Online softmax, one warp per row; lanes past the tile's keys hold -inf.
    for (int r = warp; r < kPrefillRows; r += kAttnWarps) {
      const float s = lane < kPrefillKeys ? s_s[r * kPrefillKeys + lane] : -INFINITY;
      const float m_old = m_s[r];
      const float m_new = fmaxf(m_old, warp_max(s));
      const float p = s == -INFINITY ? 0.f : expf(s - m_new);
      const float tile_sum = warp_sum(p);
      if (lane < kPrefillKeys) s_s[r * kPrefillKeys + lane] = p;
      if (lane == 0) {
        const float correction = m_old == -INFINITY ? 0.f : expf(m_old - m_new);
        c_s[r] = correction;
        l_s[r] = l_s[r] * correction + tile_sum;
        m_s[r] = m_new;
      }
    }
    __syncthreads();

    // 4. acc[r][d] = acc[r][d] * correction[r] + sum_c p[r][c] * v[c][d].
#pragma unroll
    for (int i = 0; i < kPrefillMaxOutputs; ++i) {
      const int o = tid + i * kAttnThreads;
      if (o < kPrefillRows * head_dim) {
        const int r = o / head_dim;
        const int d = o % head_dim;
        float a = acc[i] * c_s[r];
#pragma unroll
        for (int c = 0; c < kPrefillKeys; ++c) a = fmaf(s_s[r * kPrefillKeys + c], to_float(v_s[c * head_dim + d]), a);
        acc[i] = a;
      }
    }
    __syncthreads();  // the next tile overwrites k_s, v_s and s_s
  }

  // A row that saw no key (its block table pointed nowhere) gets 0 rather than 0/0.
#pragma unroll
  for (int i = 0; i < kPrefillMaxOutputs; ++i) {
    const int o = tid + i * kAttnThreads;
    if (o < rows * head_dim) {
      const int r = o / head_dim;
      const int d = o % head_dim;
      const int token = (row0 + r) / group;
      const int head = kv_head * group + (row0 + r) % group;
      const float l = l_s[r];
      out[static_cast<int64_t>(q_start + token) * out_stride + static_cast<int64_t>(head) * head_dim + d] =
          from_float<T>(l > 0.f ? acc[i] / l : 0.f);
    }
  }
}

}  // namespace kvasir

// Names as for decode: kvasir_paged_attention_prefill_<activation type>[_kv<cache type>].
#define KVASIR_PAGED_ATTENTION_PREFILL(NAME, T, C)                                                  \
  extern "C" __global__ void __launch_bounds__(kvasir::kAttnThreads) kvasir_paged_attention_prefill_##NAME( \
      T* out, int out_stride, const T* q, int q_stride, const C* k_cache, const C* v_cache,         \
      const int* block_tables, int max_blocks_per_seq, const int* query_start_loc,                  \
      const int* context_lens, int num_blocks, int block_size, int num_heads, int num_kv_heads,     \
      int head_dim, float scale) {                                                                 \
    kvasir::paged_attention_prefill<T, C>(out, out_stride, q, q_stride, k_cache, v_cache,           \
                                          block_tables, max_blocks_per_seq, query_start_loc,        \
                                          context_lens, num_blocks, block_size, num_heads,          \
                                          num_kv_heads, head_dim, scale);                           \
  }
KVASIR_PAGED_ATTENTION_PREFILL(f16, half, half)
KVASIR_PAGED_ATTENTION_PREFILL(bf16, __nv_bfloat16, __nv_bfloat16)
KVASIR_PAGED_ATTENTION_PREFILL(f32_kvf16, float, half)
KVASIR_PAGED_ATTENTION_PREFILL(f32_kvbf16, float, __nv_bfloat16)
