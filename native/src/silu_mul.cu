// SwiGLU's gate: out = silu(gate) * up, with silu(g) = g / (1 + exp(-g)).
// gate and up are rows of `width` values at their own strides, so they may be the two halves
// of one fused gate_up projection ([rows][2 * width], up = gate + width) or separate tensors.
// out may be gate (in place): each thread reads its element before writing it.
// Grid: (ceil(width / blockDim.x), rows).
#include "common.cuh"

namespace kvasir {

template <typename T>
__device__ void silu_mul(T* out, const T* gate, const T* up,
                         int rows, int width, int out_stride, int gate_stride, int up_stride) {
  const int row = blockIdx.y;
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= rows || col >= width) return;
  const float g = to_float(gate[static_cast<int64_t>(row) * gate_stride + col]);
  const float u = to_float(up[static_cast<int64_t>(row) * up_stride + col]);
  // expf(-g) overflows to +inf for g < -88, and g / inf = -0: the right limit, no NaN.
  const float silu = g / (1.f + expf(-g));
  out[static_cast<int64_t>(row) * out_stride + col] = from_float<T>(silu * u);
}

}  // namespace kvasir

#define KVASIR_SILU_MUL(SUFFIX, T)                                                                    \
  extern "C" __global__ void kvasir_silu_mul_##SUFFIX(T* out, const T* gate, const T* up, int rows,   \
                                                      int width, int out_stride, int gate_stride,     \
                                                      int up_stride) {                                \
    kvasir::silu_mul<T>(out, gate, up, rows, width, out_stride, gate_stride, up_stride);              \
  }
KVASIR_SILU_MUL(f16, half)
KVASIR_SILU_MUL(bf16, __nv_bfloat16)
KVASIR_SILU_MUL(f32, float)
