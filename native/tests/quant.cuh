// GGUF Q8_0 / Q4_0 quantisation on the host, for tests of the kernels that read those blocks.
#pragma once

#include "harness.cuh"

namespace harness {

// Quantises rows to GGUF Q8_0 / Q4_0 bytes and returns what they dequantise to.
inline std::vector<float> quantize(bool q4, const std::vector<float>& x, std::vector<uint8_t>& bytes) {
  const size_t blocks = x.size() / 32;
  const int type_size = q4 ? 18 : 34;
  bytes.assign(blocks * type_size, 0);
  std::vector<float> deq(x.size());
  for (size_t b = 0; b < blocks; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
    const half d = __float2half_rn(q4 ? amax / 8.f : amax / 127.f);
    const float df = __half2float(d);
    uint8_t* blk = bytes.data() + b * type_size;
    std::memcpy(blk, &d, 2);
    for (int i = 0; i < 32; ++i) {
      const float v = df == 0 ? 0 : x[b * 32 + i] / df;
      if (q4) {
        const int q = std::min(15, std::max(0, int(std::lround(v)) + 8));
        blk[2 + (i & 15)] |= static_cast<uint8_t>(i < 16 ? q : q << 4);
        deq[b * 32 + i] = float(q - 8) * df;
      } else {
        const int q = std::min(127, std::max(-127, int(std::lround(v))));
        blk[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        deq[b * 32 + i] = float(q) * df;
      }
    }
  }
  return deq;
}

}  // namespace harness
