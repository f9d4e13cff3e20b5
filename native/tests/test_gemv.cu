// The dequantising GEMVs against f64 dot products of the dequantised weights.
#include "harness.cuh"
#include "quant.cuh"

namespace {
using namespace harness;

template <typename T> void gemv(bool q4, bool f32_out, int num_tokens) {
  const bool small = options().small;
  const int rows = small ? 96 : 11008, k = small ? 512 : 4096;
  auto w = random_tensor<float>(static_cast<size_t>(rows) * k);
  std::vector<uint8_t> bytes;
  const std::vector<float> deq = quantize(q4, w.values, bytes);
  auto x = random_tensor<T>(static_cast<size_t>(num_tokens) * k);

  std::vector<float> want(static_cast<size_t>(num_tokens) * rows);
  for (int t = 0; t < num_tokens; ++t) {
    for (int r = 0; r < rows; ++r) {
      double s = 0;
      for (int i = 0; i < k; ++i) s += double(deq[size_t(r) * k + i]) * x.values[size_t(t) * k + i];
      want[size_t(t) * rows + r] = float(s);
    }
  }
  DeviceBuffer<uint8_t> d_w(bytes);
  DeviceBuffer<T> d_x(x.stored);
  const std::string name = std::string("kvasir_gemv_") + (q4 ? "q4_0_" : "q8_0_") + type_name<T>() + (f32_out ? "_f32out" : "");
  const dim3 grid((rows + 3) / 4, (num_tokens + 7) / 8);
  Result r{name.substr(7), type_name<T>(), std::to_string(num_tokens) + "x" + std::to_string(k) + " . " +
                                              std::to_string(rows) + "x" + std::to_string(k)};
  // Error relative to the magnitude of a dot product of k unit-scale terms (sqrt(k)/3 or so),
  // since single outputs can cancel to near zero.
  const float floor = std::sqrt(float(k)) / 3.f;
  if (f32_out) {
    DeviceBuffer<float> d_y(want.size());
    d_y.poison();
    auto run = [&] {
      launch(name, grid, dim3(128), 0, d_y.get(), static_cast<const uint8_t*>(d_w.get()),
             static_cast<const T*>(d_x.get()), rows, k, num_tokens, k, rows);
    };
    run();
    r.max_error = max_error(d_y.download(), want, floor);
    r.tolerance = 1e-4;
    r.ms = time_ms(run);
  } else {
    DeviceBuffer<T> d_y(want.size());
    d_y.poison();
    auto run = [&] {
      launch(name, grid, dim3(128), 0, d_y.get(), static_cast<const uint8_t*>(d_w.get()),
             static_cast<const T*>(d_x.get()), rows, k, num_tokens, k, rows);
    };
    run();
    r.max_error = max_error(d_y.download(), want, floor);
    r.tolerance = epsilon<T>();
    r.ms = time_ms(run);
  }
  r.gbytes = double(bytes.size()) + double(num_tokens) * k * sizeof(T);
  r.tflops = 2.0 * num_tokens * rows * k;
  record(r);
}

void gemv_tests() {
  for (bool q4 : {false, true}) {
    for (int tokens : {1, 5, 32}) {
      gemv<half>(q4, false, tokens);
      gemv<__nv_bfloat16>(q4, false, tokens);
    }
    gemv<half>(q4, true, 1);
    gemv<__nv_bfloat16>(q4, true, 3);
  }
}
HARNESS_TEST(gemv_tests);

}  // namespace
