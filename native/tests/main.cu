// Kvasir kernel tests: each kernel of the fatbin against a plain CPU reference on fresh random
// inputs, then a table of max error and achieved bandwidth or FLOP rate, and the summary line.
//   kvasir_kernel_tests FATBIN [--small] [--seed N]
// --small shrinks the problems and skips timing, for runs under compute-sanitizer.
#include "harness.cuh"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace harness {

Options& options() {
  static Options o;
  return o;
}

std::mt19937_64& rng() {
  static std::mt19937_64 r;
  return r;
}

std::vector<TestCase>& registry() {
  static std::vector<TestCase> r;
  return r;
}

static Kernels* g_kernels = nullptr;
Kernels& kernels() { return *g_kernels; }

Kernels::Kernels(const std::string& fatbin_path) {
  std::ifstream in(fatbin_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read fatbin " + fatbin_path);
  image_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  CUDA_CHECK(cudaLibraryLoadData(&library_, image_.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
}

Kernels::~Kernels() {
  if (library_ != nullptr) cudaLibraryUnload(library_);
}

cudaKernel_t Kernels::get(const std::string& name) const {
  cudaKernel_t k = nullptr;
  const cudaError_t status = cudaLibraryGetKernel(&k, library_, name.c_str());
  if (status != cudaSuccess) {
    throw CudaFailure("kernel " + name + " not found in the fatbin: " + cudaGetErrorString(status));
  }
  return k;
}

double time_ms(const std::function<void()>& body) {
  if (options().small) return 0;
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  body();  // warm-up
  CUDA_CHECK(cudaGetLastError());
  const int runs = 20;
  CUDA_CHECK(cudaEventRecord(start));
  for (int i = 0; i < runs; ++i) body();
  CUDA_CHECK(cudaEventRecord(stop));
  CUDA_CHECK(cudaEventSynchronize(stop));
  CUDA_CHECK(cudaGetLastError());
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  return ms / runs;
}

static std::vector<Result>& results() {
  static std::vector<Result> r;
  return r;
}

bool record(Result r) {
  if (r.failure.empty() && !(r.max_error <= r.tolerance)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "max error %.3g > tolerance %.3g", r.max_error, r.tolerance);
    r.failure = buf;
  }
  r.passed = r.failure.empty();
  std::printf("  %-34s %-5s %-28s %s%s%s\n", r.kernel.c_str(), r.type.c_str(), r.shape.c_str(),
              r.passed ? "ok" : "FAILED", r.passed ? "" : ": ", r.failure.c_str());
  results().push_back(r);
  return r.passed;
}

// Device-to-device copy bandwidth (read + write bytes per second): the yardstick for the
// memory-bound kernels.
static double measure_copy_gbps() {
  const size_t bytes = size_t{256} << 20;
  DeviceBuffer<uint8_t> a(bytes), b(bytes);
  CUDA_CHECK(cudaMemset(a.get(), 1, bytes));
  const double ms = time_ms([&] { CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice)); });
  return ms > 0 ? 2.0 * bytes / (ms * 1e-3) / 1e9 : 0;
}

}  // namespace harness

int main(int argc, char** argv) {
  using namespace harness;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FATBIN [--small] [--seed N]\n", argv[0]);
    return 2;
  }
  std::random_device entropy;
  options().seed = (static_cast<uint64_t>(entropy()) << 32) | entropy();
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--small") == 0) {
      options().small = true;
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      options().seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  rng().seed(options().seed);

  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    std::printf("no usable CUDA device: %s\n", status != cudaSuccess ? cudaGetErrorString(status) : "none found");
    return 2;
  }
  double copy_gbps = 0;
  try {
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device 0: %s, sm_%d%d, %.1f GiB; random seed %llu (rerun with --seed to repeat)\n", prop.name,
                prop.major, prop.minor, prop.totalGlobalMem / double(1 << 30),
                static_cast<unsigned long long>(options().seed));
    g_kernels = new Kernels(argv[1]);
    copy_gbps = measure_copy_gbps();
  } catch (const std::exception& e) {
    std::printf("setup failed: %s\n0 passed, 1 failed\n", e.what());
    return 1;
  }

  for (const TestCase& t : registry()) {
    std::printf("%s\n", t.name);
    try {
      t.run();
    } catch (const std::exception& e) {
      Result r;
      r.kernel = t.name;
      r.failure = e.what();
      record(r);
    }
  }

  int passed = 0, failed = 0;
  std::printf("\n%-34s %-5s %-28s %10s %9s %6s %9s %9s %8s\n", "kernel", "type", "shape", "max err", "tolerance",
              "result", "time us", "GB/s", "TFLOP/s");
  for (const Result& r : results()) {
    (r.passed ? passed : failed)++;
    const double s = r.ms * 1e-3;
    char gbps[32] = "-", tflops[32] = "-", us[32] = "-";
    if (r.ms > 0) {
      std::snprintf(us, sizeof us, "%.1f", r.ms * 1e3);
      if (r.gbytes > 0) {
        std::snprintf(gbps, sizeof gbps, "%.0f", r.gbytes / s / 1e9);
      }
      if (r.tflops > 0) std::snprintf(tflops, sizeof tflops, "%.2f", r.tflops / s / 1e12);
    }
    std::printf("%-34s %-5s %-28s %10.3g %9.3g %6s %9s %9s %8s\n", r.kernel.c_str(), r.type.c_str(), r.shape.c_str(),
                r.max_error, r.tolerance, r.passed ? "ok" : "FAIL", us, gbps, tflops);
  }
  if (copy_gbps > 0) std::printf("device-to-device copy bandwidth: %.0f GB/s (read + write)\n", copy_gbps);
  std::printf("%d passed, %d failed\n", passed, failed);
  delete g_kernels;
  return failed == 0 ? 0 : 1;
}
