// Self-test of the CUDA simulator: that it runs correct kernels correctly and reports the
// undefined behaviour it claims to (barrier divergence, shuffles with missing lanes, bad launch
// shapes), that a missing barrier shows up in one of the two thread orders, and that the 16-bit
// conversions are bit-exact. Run by scripts/run-sim-harness.sh before the kernel harness.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "include/kvsim_device.h"
#include "kvsim.h"

namespace {

int failures = 0;
void expect(bool ok, const std::string& what) {
  std::printf("  %-66s %s\n", what.c_str(), ok ? "ok" : "FAILED");
  if (!ok) ++failures;
}

// Kernels under test: each takes (int* out).
void k_block_sum(int* out) {
  __shared__ int partial[32];
  int v = static_cast<int>(threadIdx.x);
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    int s = 0;
    for (unsigned w = 0; w < blockDim.x / 32; ++w) s += partial[w];
    out[blockIdx.x] = s;
  }
}
void k_divergent_barrier(int*) {
  if (threadIdx.x < 16) __syncthreads();
}
void k_barrier_after_exit(int*) {
  if (threadIdx.x == 5) return;
  __syncthreads();
}
void k_two_barriers(int*) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
}
void k_shuffle_exited_lane(int* out) {
  if (threadIdx.x == 3) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
}
void k_shuffle_partial_warp(int* out) { out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1); }
void k_shuffle_vs_barrier(int* out) {
  if (threadIdx.x == 7) {
    __syncthreads();
  } else {
    out[0] = __shfl_xor_sync(0xffffffffu, 1, 1);
    __syncthreads();
  }
}
void k_shuffle_down_idx(int* out) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int down = __shfl_down_sync(0xffffffffu, lane, 3);
  const int idx = __shfl_sync(0xffffffffu, lane * 10, 31 - lane);
  const int half_xor = __shfl_xor_sync(0xffffffffu, lane, 4, 8);
  out[threadIdx.x] = (down == (lane + 3 < 32 ? lane + 3 : lane)) && idx == (31 - lane) * 10 && half_xor == (lane ^ 4);
}
// Each thread writes its slot and reads its neighbour's without a barrier in between.
void k_missing_barrier(int* out) {
  unsigned char* raw = kvsim_dynamic_smem();
  int* smem = reinterpret_cast<int*>(raw);
  smem[threadIdx.x] = static_cast<int>(threadIdx.x);
  const unsigned next = (threadIdx.x + 1) % blockDim.x, prev = (threadIdx.x + blockDim.x - 1) % blockDim.x;
  out[threadIdx.x] = smem[next] == static_cast<int>(next) && smem[prev] == static_cast<int>(prev);
}

void invoke_with(void (*k)(int*), void** params) { k(*static_cast<int**>(params[0])); }
template <void (*K)(int*)> void invoker(void** params) { invoke_with(K, params); }

std::string run(const char* name, kvsim::Invoker inv, kvsim::Dim3 grid, kvsim::Dim3 block, size_t smem, int* out) {
  kvsim::KernelEntry e{name, inv};
  void* params[] = {&out};
  return kvsim::launch(e, grid, block, smem, params);
}
bool mentions(const std::string& error, const char* text) { return error.find(text) != std::string::npos; }

void run_all() {
  std::vector<int> out(1024, -1);
  std::string e = run("block_sum", invoker<k_block_sum>, {3, 1, 1}, {256, 1, 1}, 0, out.data());
  expect(e.empty() && out[0] == 255 * 256 / 2 && out[2] == 255 * 256 / 2, "shuffles and a barrier compute a block sum " + e);

  e = run("divergent", invoker<k_divergent_barrier>, {1, 1, 1}, {64, 1, 1}, 0, out.data());
  expect(mentions(e, "barrier divergence"), "a barrier only half the block reaches is reported");
  e = run("after_exit", invoker<k_barrier_after_exit>, {1, 1, 1}, {64, 1, 1}, 0, out.data());
  expect(mentions(e, "exited without reaching"), "a barrier reached after a thread exited is reported");
  e = run("two_barriers", invoker<k_two_barriers>, {1, 1, 1}, {64, 1, 1}, 0, out.data());
  // One barrier, as on the GPU: __syncthreads at two call sites that every thread reaches one of
  // completes (g++ itself duplicates call sites, so the simulator must not tell them apart).
  expect(e.empty(), "__syncthreads at two call sites is one barrier " + e);
  e = run("exited_lane", invoker<k_shuffle_exited_lane>, {1, 1, 1}, {32, 1, 1}, 0, out.data());
  expect(mentions(e, "has exited"), "a full-mask shuffle with an exited lane is reported");
  e = run("partial_warp", invoker<k_shuffle_partial_warp>, {1, 1, 1}, {48, 1, 1}, 0, out.data());
  expect(mentions(e, "does not exist"), "a full-mask shuffle in a partial warp is reported");
  e = run("shuffle_vs_barrier", invoker<k_shuffle_vs_barrier>, {1, 1, 1}, {32, 1, 1}, 0, out.data());
  expect(mentions(e, "waits at a __syncthreads"), "a shuffle whose lane waits at a barrier is reported");
  e = run("shuffle_modes", invoker<k_shuffle_down_idx>, {1, 1, 1}, {64, 1, 1}, 0, out.data());
  bool all = e.empty();
  for (int i = 0; i < 64; ++i) all = all && out[i] == 1;
  expect(all, "__shfl_down_sync, __shfl_sync and a width-8 __shfl_xor_sync " + e);

  e = run("missing_barrier", invoker<k_missing_barrier>, {1, 1, 1}, {64, 1, 1}, 64 * sizeof(int), out.data());
  all = e.empty();
  for (int i = 0; i < 64; ++i) all = all && out[i] == 1;
  expect(!all, "a missing barrier shows as a wrong result (" +
                   std::string(std::getenv("KVASIR_SIM_ORDER") ? std::getenv("KVASIR_SIM_ORDER") : "forward") + " order)");

  e = run("shape", invoker<k_block_sum>, {1, 1, 1}, {2048, 1, 1}, 0, out.data());
  expect(mentions(e, "invalid block"), "a block of 2048 threads is refused");
  e = run("shape", invoker<k_block_sum>, {0, 1, 1}, {32, 1, 1}, 0, out.data());
  expect(mentions(e, "invalid grid"), "an empty grid is refused");
  e = run("shape", invoker<k_block_sum>, {1, 70000, 1}, {32, 1, 1}, 0, out.data());
  expect(mentions(e, "invalid grid"), "gridDim.y above 65535 is refused");
  e = run("shape", invoker<k_block_sum>, {1, 1, 1}, {32, 1, 1}, kvsim::max_dynamic_smem() + 1, out.data());
  expect(mentions(e, "dynamic shared memory"), "more dynamic shared memory than an H100 has is refused");
  e = run("block_sum", invoker<k_block_sum>, {1, 1, 1}, {1024, 1, 1}, 0, out.data());
  expect(e.empty() && out[0] == 1023 * 1024 / 2, "the simulator still works after those errors " + e);

  // 16-bit conversions against the compiler's own IEEE half and exact bf16 rounding.
  bool f16_ok = true, bf16_ok = true;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
    _Float16 ref;
    const unsigned short hs = static_cast<unsigned short>(h);
    std::memcpy(&ref, &hs, 2);
    if (f != static_cast<float>(ref) && !(f != f && ref != ref)) f16_ok = false;
  }
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 2000000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint32_t bits = i < 65536 ? (static_cast<uint32_t>(i) << 16) | (x & 0xffff) : static_cast<uint32_t>(x);
    float f;
    std::memcpy(&f, &bits, 4);
    const _Float16 ref = static_cast<_Float16>(f);
    unsigned short ref_bits;
    std::memcpy(&ref_bits, &ref, 2);
    const unsigned short got = __half_as_ushort(__float2half_rn(f));
    if (f == f ? got != ref_bits : got != 0x7fff) f16_ok = false;
    // bf16: the nearest of the two neighbours, ties to even, computed in double.
    if (f == f && !__builtin_isinf(f)) {
      const float b = __bfloat162float(__float2bfloat16_rn(f));
      const uint32_t lo_bits = bits & 0xffff0000u;
      float lo, hi;
      std::memcpy(&lo, &lo_bits, 4);
      const uint32_t hi_bits = lo_bits + 0x10000u;
      std::memcpy(&hi, &hi_bits, 4);
      // Past the largest finite bf16 the upper neighbour is infinity, at distance as if 2^128.
      const double hi_d = __builtin_isinf(hi) ? (hi > 0 ? 0x1p128 : -0x1p128) : double(hi);
      const double dl = __builtin_fabs(double(f) - lo), dh = __builtin_fabs(double(f) - hi_d);
      const float want = dl < dh ? lo : dh < dl ? hi : ((lo_bits >> 16) & 1 ? hi : lo);
      if (b != want && !(b != b && want != want)) bf16_ok = false;
    }
  }
  expect(f16_ok, "f16 conversions match _Float16 bit for bit (all halves, 2M floats)");
  expect(bf16_ok, "bf16 conversions round to nearest even (2M floats)");
}

}  // namespace

int main() {
  std::printf("simulator self-test\n");
  run_all();
  std::printf("%s\n", failures == 0 ? "simulator self-test passed" : "simulator self-test FAILED");
  return failures == 0 ? 0 : 1;
}
