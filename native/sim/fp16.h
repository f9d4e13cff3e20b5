// Bit-exact conversions between f32 and the 16-bit float types (round to nearest even, subnormals,
// infinities; NaN becomes the canonical 0x7fff, as CUDA's intrinsics give). One copy for the whole
// simulator: the device shim (include/kvsim_device.h), the fake cuBLAS and the fake NCCL.
#pragma once

#include <cstdint>
#include <cstring>

namespace kvsim_fp {
inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned short f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const unsigned short sign = static_cast<unsigned short>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return 0x7fff;                 // NaN: the canonical NaN, as CUDA
  if (ax >= 0x477ff000u) return sign | 0x7c00u;        // rounds to (or is) infinity
  const uint32_t e = ax >> 23;
  const uint32_t mant = ax & 0x7fffffu;
  if (e < 113) {                                        // below 2^-14: half subnormal or zero
    const uint32_t shift = 126 - e;                     // value / 2^-24 = m * 2^-shift
    if (shift > 24) return sign;
    const uint32_t m = mant | 0x800000u;
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) ++r;
    return static_cast<unsigned short>(sign | r);
  }
  uint32_t bits = ((e - 112) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (bits & 1))) ++bits;
  return static_cast<unsigned short>(sign | bits);
}
inline float f16_to_f32(unsigned short h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;  // m * 2^-24, exact
    return sign ? -v : v;
  }
  if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));
  return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}
inline unsigned short f32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN: the canonical NaN, as CUDA
  return static_cast<unsigned short>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
inline float bf16_to_f32(unsigned short b) { return bits_f32(static_cast<uint32_t>(b) << 16); }
}  // namespace kvsim_fp
