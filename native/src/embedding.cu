// Token embedding gather: out[t] = table[ids[t]], dequantised to the activation type.
// The table stays in its file type (f32, f16, bf16, or GGUF Q8_0 / Q4_0 blocks), rows of
// `hidden` values; hidden is a multiple of 32 for the quantised types. One thread block per token.
// An id outside [0, vocab) yields a zero row: the engine validates ids before they get here, and
// a zero row keeps a bad id from reading outside the table.
#include "common.cuh"

namespace kvasir {

template <typename Out, typename Table>
__device__ void embedding_dense(Out* __restrict__ out, const Table* __restrict__ table,
                                const int* __restrict__ ids, int num_tokens, int vocab, int hidden) {
  const int token = blockIdx.x;
  if (token >= num_tokens) return;
  const int id = ids[token];
  Out* y = out + static_cast<int64_t>(token) * hidden;
  const bool valid = id >= 0 && id < vocab;
  const Table* row = table + static_cast<int64_t>(valid ? id : 0) * hidden;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    y[i] = from_float<Out>(valid ? to_float(row[i]) : 0.f);
  }
}

// GGUF quantised rows: 32 values per block, an f16 scale d first. Q8_0 (34-byte blocks): 32 int8
// q, value = q * d. Q4_0 (18-byte blocks): 16 bytes, byte j holding element j in its low nibble and
// element j + 16 in its high nibble, value = (q - 8) * d.
template <bool kQ4, typename Out>
__device__ void embedding_quant(Out* __restrict__ out, const uint8_t* __restrict__ table,
                                const int* __restrict__ ids, int num_tokens, int vocab, int hidden) {
  const int token = blockIdx.x;
  if (token >= num_tokens || hidden % 32 != 0) return;  // quantised rows are whole 32-value blocks
  const int id = ids[token];
  Out* y = out + static_cast<int64_t>(token) * hidden;
  const bool valid = id >= 0 && id < vocab;
  const int type_size = kQ4 ? 18 : 34;
  const int64_t row_bytes = static_cast<int64_t>(hidden / 32) * type_size;
  const uint8_t* row = table + static_cast<int64_t>(valid ? id : 0) * row_bytes;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const uint8_t* block = row + (i / 32) * type_size;
    const int j = i % 32;
    int q;
    if constexpr (kQ4) {
      const uint8_t packed = block[2 + (j & 15)];
      q = (j < 16 ? (packed & 0x0f) : (packed >> 4)) - 8;
    } else {
      q = static_cast<int8_t>(block[2 + j]);
    }
    y[i] = from_float<Out>(valid ? static_cast<float>(q) * load_f16_scale(block) : 0.f);
  }
}

}  // namespace kvasir

#define KVASIR_EMBEDDING_DENSE(TSUF, TT, SUFFIX, T)                                                 \
  extern "C" __global__ void kvasir_embedding_##TSUF##_##SUFFIX(T* out, const TT* table, const int* ids, \
                                                                int num_tokens, int vocab, int hidden) { \
    kvasir::embedding_dense<T, TT>(out, table, ids, num_tokens, vocab, hidden);                     \
  }
#define KVASIR_EMBEDDING(SUFFIX, T)                                                                 \
  KVASIR_EMBEDDING_DENSE(f32, float, SUFFIX, T)                                                     \
  KVASIR_EMBEDDING_DENSE(f16, half, SUFFIX, T)                                                      \
  KVASIR_EMBEDDING_DENSE(bf16, __nv_bfloat16, SUFFIX, T)                                            \
  extern "C" __global__ void kvasir_embedding_q8_0_##SUFFIX(T* out, const uint8_t* table, const int* ids, \
                                                            int num_tokens, int vocab, int hidden) { \
    kvasir::embedding_quant<false, T>(out, table, ids, num_tokens, vocab, hidden);                          \
  }                                                                                                 \
  extern "C" __global__ void kvasir_embedding_q4_0_##SUFFIX(T* out, const uint8_t* table, const int* ids, \
                                                            int num_tokens, int vocab, int hidden) { \
    kvasir::embedding_quant<true, T>(out, table, ids, num_tokens, vocab, hidden);                           \
  }
KVASIR_EMBEDDING(f16, half)
KVASIR_EMBEDDING(bf16, __nv_bfloat16)
KVASIR_EMBEDDING(f32, float)
