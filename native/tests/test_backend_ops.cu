// The f32 kernels behind the Java CUDA backend (dev.kvasir.kernels.cuda.CudaBackend): residual add,
// row gather, the casts that feed cuBLAS, RoPE from a cos/sin table, and the f32 instantiations of
// rmsnorm, silu_mul, the embedding gather and the quantised GEMVs.
#include "harness.cuh"
#include "quant.cuh"

namespace {
using namespace harness;

void add_gather_cast() {
  const long long n = options().small ? 1000 : (1 << 24);
  auto acc = random_tensor<float>(n), x = random_tensor<float>(n);
  DeviceBuffer<float> d_acc(acc.values), d_x(x.values);
  launch("kvasir_add_f32", dim3(std::min<long long>((n + 255) / 256, 65536)), dim3(256), 0, d_acc.get(),
         static_cast<const float*>(d_x.get()), n);
  std::vector<float> want(n);
  for (long long i = 0; i < n; ++i) want[i] = acc.values[i] + x.values[i];
  Result r{"add", "f32", std::to_string(n)};
  r.max_error = max_error(d_acc.download(), want);
  r.tolerance = 0;
  r.ms = time_ms([&] {
    launch("kvasir_add_f32", dim3(std::min<long long>((n + 255) / 256, 65536)), dim3(256), 0, d_acc.get(),
           static_cast<const float*>(d_x.get()), n);
  });
  r.gbytes = 12.0 * n;
  record(r);

  const int width = 4096, src_rows = 64;
  auto src = random_tensor<float>(size_t(src_rows) * width);
  std::vector<int> rows = {5, 63, 0, 5, -1, 64};  // the last two are out of range: zero rows
  DeviceBuffer<float> d_src(src.values), d_dst(rows.size() * width);
  DeviceBuffer<int> d_rows(rows);
  d_dst.poison();
  launch("kvasir_gather_rows_f32", dim3(rows.size()), dim3(256), 0, d_dst.get(), static_cast<const float*>(d_src.get()),
         static_cast<const int*>(d_rows.get()), int(rows.size()), width, src_rows);
  std::vector<float> gwant(rows.size() * width, 0.f);
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] >= 0 && rows[i] < src_rows)
      std::copy(src.values.begin() + size_t(rows[i]) * width, src.values.begin() + size_t(rows[i] + 1) * width,
                gwant.begin() + i * width);
  Result g{"gather_rows", "f32", std::to_string(rows.size()) + "x" + std::to_string(width)};
  g.max_error = max_error(d_dst.download(), gwant);
  g.tolerance = 0;
  record(g);

  DeviceBuffer<half> d_h(n);
  DeviceBuffer<__nv_bfloat16> d_b(n);
  d_h.poison();
  d_b.poison();
  launch("kvasir_cast_f32_f16", dim3(std::min<long long>((n + 255) / 256, 65536)), dim3(256), 0, d_h.get(),
         static_cast<const float*>(d_x.get()), n);
  launch("kvasir_cast_f32_bf16", dim3(std::min<long long>((n + 255) / 256, 65536)), dim3(256), 0, d_b.get(),
         static_cast<const float*>(d_x.get()), n);
  const std::vector<half> h = d_h.download();
  const std::vector<__nv_bfloat16> b = d_b.download();
  Result c{"cast_f32_f16/bf16", "f32", std::to_string(n)};
  for (long long i = 0; i < n && c.failure.empty(); ++i) {
    if (to_f32(h[i]) != to_f32(from_f32<half>(x.values[i])) ||
        to_f32(b[i]) != to_f32(from_f32<__nv_bfloat16>(x.values[i]))) {
      c.failure = "element " + std::to_string(i) + " rounded differently";
    }
  }
  record(c);
}

void rope_table(bool neox) {
  const int rows = options().small ? 5 : 1024, heads = 32, head_dim = 128, pairs = head_dim / 2;
  auto x = random_tensor<float>(size_t(rows) * heads * head_dim);
  std::vector<float> table(size_t(rows) * head_dim);
  std::uniform_real_distribution<float> angle(-100.f, 100.f);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < pairs; ++i) {
      const float a = angle(rng());
      table[size_t(r) * head_dim + i] = std::cos(a);
      table[size_t(r) * head_dim + pairs + i] = std::sin(a);
    }
  }
  std::vector<float> want = x.values;
  for (int r = 0; r < rows; ++r) {
    for (int h = 0; h < heads; ++h) {
      float* v = want.data() + (size_t(r) * heads + h) * head_dim;
      for (int i = 0; i < pairs; ++i) {
        const double c = table[size_t(r) * head_dim + i], s = table[size_t(r) * head_dim + pairs + i];
        const int i0 = neox ? i : 2 * i, i1 = neox ? i + pairs : 2 * i + 1;
        const double x0 = v[i0], x1 = v[i1];
        v[i0] = float(x0 * c - x1 * s);
        v[i1] = float(x1 * c + x0 * s);
      }
    }
  }
  DeviceBuffer<float> d_x(x.values), d_t(table);
  auto run = [&] {
    launch("kvasir_rope_cos_sin_f32", dim3(rows), dim3(256), 0, d_x.get(), static_cast<const float*>(d_t.get()), rows,
           heads, head_dim, neox ? 1 : 0);
  };
  run();
  Result r{std::string("rope_cos_sin_") + (neox ? "neox" : "normal"), "f32",
           std::to_string(rows) + "x" + std::to_string(heads) + "x" + std::to_string(head_dim)};
  r.max_error = max_error(d_x.download(), want);
  r.tolerance = 1e-6;
  r.ms = time_ms(run);
  r.gbytes = rows * (2.0 * heads * head_dim + head_dim) * 4;
  record(r);
}

void f32_layers() {
  const int rows = options().small ? 3 : 64, hidden = 2048;
  auto x = random_tensor<float>(size_t(rows) * hidden, -2.f, 2.f);
  auto w = random_tensor<float>(hidden, 0.5f, 1.5f);
  DeviceBuffer<float> d_x(x.values), d_w(w.values);
  // In place, as the backend may call it.
  launch("kvasir_rmsnorm_f32", dim3(rows), dim3(1024), 0, d_x.get(), static_cast<const float*>(d_x.get()),
         static_cast<const float*>(d_w.get()), 1e-5f, rows, hidden);
  std::vector<float> want(x.values.size());
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < hidden; ++i) ss += double(x.values[size_t(r) * hidden + i]) * x.values[size_t(r) * hidden + i];
    const double inv = 1.0 / std::sqrt(ss / hidden + 1e-5);
    for (int i = 0; i < hidden; ++i) want[size_t(r) * hidden + i] = float(x.values[size_t(r) * hidden + i] * inv * w.values[i]);
  }
  Result n{"rmsnorm (in place)", "f32", std::to_string(rows) + "x" + std::to_string(hidden)};
  n.max_error = max_error(d_x.download(), want);
  n.tolerance = 1e-5;
  record(n);

  auto gate = random_tensor<float>(size_t(rows) * hidden, -20.f, 20.f), up = random_tensor<float>(size_t(rows) * hidden);
  DeviceBuffer<float> d_g(gate.values), d_u(up.values);
  launch("kvasir_silu_mul_f32", dim3((hidden + 255) / 256, rows), dim3(256), 0, d_g.get(),
         static_cast<const float*>(d_g.get()), static_cast<const float*>(d_u.get()), rows, hidden, hidden, hidden, hidden);
  std::vector<float> swant(gate.values.size());
  for (size_t i = 0; i < swant.size(); ++i) {
    const double g = gate.values[i];
    swant[i] = float(g / (1 + std::exp(-g)) * up.values[i]);
  }
  Result s{"silu_mul (in place)", "f32", n.shape};
  s.max_error = max_error(d_g.download(), swant);
  s.tolerance = 1e-5;
  record(s);
}

void gemv_f32(bool q4) {
  const int rows = options().small ? 64 : 4096, k = options().small ? 256 : 4096, tokens = 3;
  auto w = random_tensor<float>(size_t(rows) * k);
  std::vector<uint8_t> bytes;
  const std::vector<float> deq = quantize(q4, w.values, bytes);
  auto x = random_tensor<float>(size_t(tokens) * k);
  std::vector<float> want(size_t(tokens) * rows);
  for (int t = 0; t < tokens; ++t)
    for (int r = 0; r < rows; ++r) {
      double acc = 0;
      for (int i = 0; i < k; ++i) acc += double(deq[size_t(r) * k + i]) * x.values[size_t(t) * k + i];
      want[size_t(t) * rows + r] = float(acc);
    }
  DeviceBuffer<uint8_t> d_w(bytes);
  DeviceBuffer<float> d_x(x.values), d_y(want.size());
  d_y.poison();
  const std::string name = std::string("kvasir_gemv_") + (q4 ? "q4_0" : "q8_0") + "_f32";
  auto run = [&] {
    launch(name, dim3((rows + 3) / 4, (tokens + 7) / 8), dim3(128), 0, d_y.get(), static_cast<const uint8_t*>(d_w.get()),
           static_cast<const float*>(d_x.get()), rows, k, tokens, k, rows);
  };
  run();
  Result r{name.substr(7), "f32", std::to_string(tokens) + "x" + std::to_string(k) + " . " + std::to_string(rows)};
  r.max_error = max_error(d_y.download(), want, std::sqrt(float(k)) / 3.f);
  r.tolerance = 1e-4;
  r.ms = time_ms(run);
  r.gbytes = double(bytes.size());
  r.tflops = 2.0 * tokens * rows * k;
  record(r);
}

void embedding_f32() {
  const int vocab = 500, hidden = 256, tokens = 7;
  auto table = random_tensor<float>(size_t(vocab) * hidden);
  std::vector<uint8_t> bytes;
  const std::vector<float> deq = quantize(false, table.values, bytes);
  std::vector<int> ids = {0, 499, 3, 3, 250, -1, 500};
  DeviceBuffer<uint8_t> d_t(bytes);
  DeviceBuffer<int> d_ids(ids);
  DeviceBuffer<float> d_out(size_t(tokens) * hidden);
  d_out.poison();
  launch("kvasir_embedding_q8_0_f32", dim3(tokens), dim3(256), 0, d_out.get(), static_cast<const uint8_t*>(d_t.get()),
         static_cast<const int*>(d_ids.get()), tokens, vocab, hidden);
  std::vector<float> want(size_t(tokens) * hidden, 0.f);
  for (int t = 0; t < tokens; ++t)
    if (ids[t] >= 0 && ids[t] < vocab)
      for (int i = 0; i < hidden; ++i) want[size_t(t) * hidden + i] = deq[size_t(ids[t]) * hidden + i];
  Result r{"embedding_q8_0", "f32", std::to_string(tokens) + "x" + std::to_string(hidden)};
  r.max_error = max_error(d_out.download(), want);
  r.tolerance = 0;
  record(r);
}

void backend_ops_tests() {
  add_gather_cast();
  rope_table(false);
  rope_table(true);
  f32_layers();
  gemv_f32(false);
  gemv_f32(true);
  embedding_f32();
}
HARNESS_TEST(backend_ops_tests);

}  // namespace
