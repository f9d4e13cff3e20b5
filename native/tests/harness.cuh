// The kernel test harness's toolkit: status checks, the fatbin loaded through the runtime's
// library API (the same file, and the same entry point names, that the Java backend loads with
// cuModuleLoadData), device buffers that are poisoned before each run, host-side f16/bf16
// rounding for the references, timing, and the result table.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <vector>

namespace harness {

// A failed CUDA call ends the current test as failed (not the whole run), naming the call.
struct CudaFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void check(cudaError_t status, const char* what, const char* file, int line) {
  if (status != cudaSuccess) {
    throw CudaFailure(std::string(what) + " failed at " + file + ":" + std::to_string(line) + ": " +
                      cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
  }
}
#define CUDA_CHECK(call) ::harness::check((call), #call, __FILE__, __LINE__)

// Run-wide options: --small shrinks every problem (for compute-sanitizer, which is ~100x slower)
// and skips timing.
struct Options {
  bool small = false;
  uint64_t seed = 0;
};
Options& options();
std::mt19937_64& rng();

// The kernels of our fatbin, by name.
class Kernels {
 public:
  explicit Kernels(const std::string& fatbin_path);
  ~Kernels();
  Kernels(const Kernels&) = delete;
  Kernels& operator=(const Kernels&) = delete;
  cudaKernel_t get(const std::string& name) const;

 private:
  std::vector<char> image_;
  cudaLibrary_t library_ = nullptr;
};
Kernels& kernels();

// Launches `name` and waits for it; both the launch error and the execution error are checked.
template <typename... Args>
void launch(const std::string& name, dim3 grid, dim3 block, size_t smem, Args... args) {
  void* params[] = {static_cast<void*>(&args)..., nullptr};
  cudaKernel_t k = kernels().get(name);
  if (smem > 48 * 1024) {
    CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(k), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem)));
  }
  CUDA_CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(k), grid, block, params, smem, 0));
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaDeviceSynchronize());
}

// Mean milliseconds of `body` (which launches without synchronising) over a few runs after a
// warm-up; 0 when timing is off (--small).
double time_ms(const std::function<void()>& body);

// Device memory of n elements of T. Freed on scope exit; poison() fills it with 0xff bytes, a NaN
// in f32, f16 and bf16 and -1 in integers, so an element a kernel forgot to write cannot pass.
template <typename T> class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) { CUDA_CHECK(cudaMalloc(&ptr_, bytes() == 0 ? 1 : bytes())); }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return ptr_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }
  void poison() { CUDA_CHECK(cudaMemset(ptr_, 0xff, bytes())); }
  void upload(const std::vector<T>& host) {
    if (host.size() != n_) throw std::logic_error("upload size mismatch");
    CUDA_CHECK(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    CUDA_CHECK(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  size_t n_;
  T* ptr_ = nullptr;
};

// Host-side conversions between f32 and the 16-bit storage types.
template <typename T> inline float to_f32(T v);
template <> inline float to_f32<float>(float v) { return v; }
template <> inline float to_f32<half>(half v) { return __half2float(v); }
template <> inline float to_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> inline T from_f32(float v);
template <> inline float from_f32<float>(float v) { return v; }
template <> inline half from_f32<half>(float v) { return __float2half_rn(v); }
template <> inline __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T> const char* type_name();
template <> inline const char* type_name<half>() { return "f16"; }
template <> inline const char* type_name<__nv_bfloat16>() { return "bf16"; }
template <> inline const char* type_name<float>() { return "f32"; }

// Suffix of a kernel taking activations T over a KV cache C: "f16", or "f32_kvf16" when they differ.
template <typename T, typename C> std::string kv_suffix() {
  return std::is_same<T, C>::value ? std::string(type_name<T>()) : std::string(type_name<T>()) + "_kv" + type_name<C>();
}

// Relative rounding unit of T: the references compare at a few of these.
template <typename T> constexpr float epsilon();
template <> constexpr float epsilon<half>() { return 1.f / 1024.f; }
template <> constexpr float epsilon<__nv_bfloat16>() { return 1.f / 128.f; }
template <> constexpr float epsilon<float>() { return 1.f / 8388608.f; }

// n random values of T uniform in [lo, hi), and the same values as f32 (exactly what the
// device sees, so references start from identical inputs).
template <typename T> struct RandomTensor {
  std::vector<T> stored;
  std::vector<float> values;
};
template <typename T> RandomTensor<T> random_tensor(size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  RandomTensor<T> t;
  t.stored.resize(n);
  t.values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    t.stored[i] = from_f32<T>(dist(rng()));
    t.values[i] = to_f32(t.stored[i]);
  }
  return t;
}

// max |got - want| / (|want| + floor) over all elements, with NaN (an unwritten or broken
// output) counted as infinitely wrong.
template <typename T> double max_error(const std::vector<T>& got, const std::vector<float>& want, float floor = 1.f) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = to_f32(got[i]);
    if (!std::isfinite(g) && std::isfinite(want[i])) return INFINITY;
    worst = std::max(worst, std::fabs(g - want[i]) / (std::fabs(want[i]) + floor));
  }
  return worst;
}

// One line of the final table.
struct Result {
  std::string kernel;
  std::string type;
  std::string shape;
  double max_error = 0;
  double tolerance = 0;
  bool passed = false;
  std::string failure;  // why it failed, when it did
  double ms = 0;
  double gbytes = 0;    // bytes moved per run, for GB/s
  double tflops = 0;    // floating point work per run, for TFLOP/s
};

// Records a result (printing it at once) and returns whether it passed.
bool record(Result r);

// A named test, registered at static-initialisation time by each test_*.cu.
struct TestCase {
  const char* name;
  void (*run)();
};
std::vector<TestCase>& registry();
struct Register {
  Register(const char* name, void (*run)()) { registry().push_back({name, run}); }
};
#define HARNESS_TEST(fn) static ::harness::Register register_##fn(#fn, fn)

}  // namespace harness
