// Q8_0 / Q4_0 rows dequantised to f16 (the prefill path's workspace fill) against the host's
// dequantisation rounded to f16: exact, since both compute the same f32 product and round once.
#include "harness.cuh"
#include "quant.cuh"

namespace {
using namespace harness;

void dequant(bool q4, int rows, int cols, int grid) {
  auto w = random_tensor<float>(static_cast<size_t>(rows) * cols, -2.f, 2.f);
  std::vector<uint8_t> bytes;
  const std::vector<float> deq = quantize(q4, w.values, bytes);
  std::vector<float> want(deq.size());
  for (size_t i = 0; i < deq.size(); ++i) want[i] = __half2float(__float2half_rn(deq[i]));

  DeviceBuffer<uint8_t> d_w(bytes);
  // One row more than the kernel is asked for, poisoned: it must stay untouched.
  DeviceBuffer<half> d_out(static_cast<size_t>(rows + 1) * cols);
  d_out.poison();
  const std::string name = std::string("kvasir_dequant_") + (q4 ? "q4_0" : "q8_0") + "_f16";
  auto run = [&] {
    launch(name, dim3(grid), dim3(256), 0, d_out.get(), static_cast<const uint8_t*>(d_w.get()), rows, cols);
  };
  run();
  Result r{name.substr(7), "f16", std::to_string(rows) + "x" + std::to_string(cols) + " grid " + std::to_string(grid)};
  std::vector<half> got = d_out.download();
  const std::vector<half> extra(got.begin() + static_cast<std::ptrdiff_t>(deq.size()), got.end());
  got.resize(deq.size());
  // Exact: any difference at all is a failure (floor 1, so the error is at least the absolute one).
  r.max_error = max_error(got, want);
  r.tolerance = 0;
  for (const half& h : extra) {
    unsigned short bits;
    std::memcpy(&bits, &h, 2);
    if (bits != 0xffff) r.failure = "wrote past the last row";
  }
  r.ms = time_ms(run);
  r.gbytes = double(bytes.size()) + double(rows) * cols * 2;
  record(r);
}

void dequant_tests() {
  const bool small = options().small;
  for (bool q4 : {false, true}) {
    // Rows a multiple of nothing the kernel uses; one block covering few groups; a grid smaller
    // than the work (the grid-stride loop) and one larger (idle threads).
    dequant(q4, 37, 96, 2);
    dequant(q4, 1, 32, 4);
    dequant(q4, small ? 101 : 4099, small ? 256 : 4096, small ? 3 : 1024);
    dequant(q4, 5, 64, 1000);
  }
}
HARNESS_TEST(dequant_tests);

}  // namespace
