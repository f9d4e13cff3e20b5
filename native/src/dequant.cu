// Dequantisation of GGUF Q8_0 / Q4_0 weight rows to f16, for large-batch (prefill) matmuls:
// the backend expands a chunk of rows into a device workspace and hands it to cuBLAS GemmEx,
// as llama.cpp and vLLM do above their GEMV batch sizes. w[r][k] = d * q, computed in f32
// (exactly: an f16 scale times a small integer) and rounded once to f16.
//
// Work split: one thread per eight consecutive outputs (a quarter of a 32-value quant block),
// stored as one 16-byte write, so neighbouring threads write neighbouring 16 bytes; a grid-stride
// loop over rows * cols / 8 such groups. cols must be a multiple of 32 (the backend checks);
// a kernel given another returns without writing. `out` is row-major [rows][cols] (a
// 256-byte aligned base, so every group's 16-byte store is aligned), `w` the rows' GGUF blocks.
#include "common.cuh"

namespace kvasir {

constexpr int kDequantGroup = 8;                     // outputs per thread
constexpr int kDequantGroupsPerBlock = 32 / kDequantGroup;

template <bool kQ4>
__device__ void dequant_rows(half* __restrict__ out, const uint8_t* __restrict__ w, int rows, int cols) {
  if (rows <= 0 || cols <= 0 || cols % 32 != 0) return;
  const int type_size = kQ4 ? 18 : 34;
  const int64_t groups = static_cast<int64_t>(rows) * (cols / 32) * kDequantGroupsPerBlock;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const int64_t block = g / kDequantGroupsPerBlock;  // quant block index over all rows, < rows * cols / 32
    const int part = static_cast<int>(g % kDequantGroupsPerBlock);
    const uint8_t* b = w + block * type_size;
    const float d = load_f16_scale(b);
    float v[kDequantGroup];
    if constexpr (kQ4) {
      // Values 0..15 are the low nibbles of bytes 0..15, values 16..31 their high nibbles:
      // part 0 = low of bytes 0..7, 1 = low of 8..15, 2 = high of 0..7, 3 = high of 8..15.
      const uint8_t* qs = b + 2 + (part % 2) * 8;
      const uint32_t lo = load_u32_align2(qs), hi = load_u32_align2(qs + 4);
      const int shift = (part / 2) * 4;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        v[i] = static_cast<float>(static_cast<int>(((lo >> (8 * i)) >> shift) & 0x0f) - 8);
        v[i + 4] = static_cast<float>(static_cast<int>(((hi >> (8 * i)) >> shift) & 0x0f) - 8);
      }
    } else {
      const uint8_t* qs = b + 2 + part * 8;
      const uint32_t lo = load_u32_align2(qs), hi = load_u32_align2(qs + 4);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        v[i] = static_cast<float>(static_cast<int8_t>((lo >> (8 * i)) & 0xff));
        v[i + 4] = static_cast<float>(static_cast<int8_t>((hi >> (8 * i)) & 0xff));
      }
    }
    Vec8<half> o;
    half* h = reinterpret_cast<half*>(&o.raw);
#pragma unroll
    for (int i = 0; i < kDequantGroup; ++i) h[i] = __float2half_rn(d * v[i]);
    o.store(out + g * kDequantGroup);  // group g holds outputs 8g..8g+7 of the row-major matrix
  }
}

}  // namespace kvasir

// kvasir_dequant_<q8_0|q4_0>_f16(out, w, rows, cols): out[r][k] = f16(W[r][k]) for r < rows.
extern "C" __global__ void kvasir_dequant_q8_0_f16(half* out, const uint8_t* w, int rows, int cols) {
  kvasir::dequant_rows<false>(out, w, rows, cols);
}
extern "C" __global__ void kvasir_dequant_q4_0_f16(half* out, const uint8_t* w, int rows, int cols) {
  kvasir::dequant_rows<true>(out, w, rows, cols);
}
