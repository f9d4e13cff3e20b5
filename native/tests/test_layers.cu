// The per-token layers: rmsnorm (alone and fused with the residual add), silu_mul, rope and the
// embedding gather, each against a direct transcription of its formula.
#include "harness.cuh"
#include "quant.cuh"

namespace {
using namespace harness;

template <typename T> std::string name(const char* op) { return std::string("kvasir_") + op + "_" + type_name<T>(); }

template <typename T> void rmsnorm() {
  const int rows = options().small ? 5 : 512, hidden = 4096;
  const float eps = 1e-5f;
  auto x = random_tensor<T>(static_cast<size_t>(rows) * hidden, -2.f, 2.f);
  auto res = random_tensor<T>(static_cast<size_t>(rows) * hidden, -2.f, 2.f);
  std::vector<float> w(hidden);
  std::uniform_real_distribution<float> wd(0.5f, 1.5f);
  for (float& v : w) v = wd(rng());
  DeviceBuffer<T> d_x(x.stored), d_out(x.stored.size()), d_res(res.stored);
  DeviceBuffer<float> d_w(w);

  // Plain: out = x / rms(x) * w.
  std::vector<float> want(x.values.size());
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < hidden; ++i) ss += double(x.values[r * hidden + i]) * x.values[r * hidden + i];
    const double inv = 1.0 / std::sqrt(ss / hidden + eps);
    for (int i = 0; i < hidden; ++i) want[r * hidden + i] = float(x.values[r * hidden + i] * inv * w[i]);
  }
  d_out.poison();
  auto run = [&] {
    launch(name<T>("rmsnorm"), dim3(rows), dim3(1024), 0, d_out.get(), static_cast<const T*>(d_x.get()),
           static_cast<const float*>(d_w.get()), eps, rows, hidden);
  };
  run();
  Result r{"rmsnorm", type_name<T>(), std::to_string(rows) + "x" + std::to_string(hidden)};
  r.max_error = max_error(d_out.download(), want);
  r.tolerance = 2 * epsilon<T>();
  r.ms = time_ms(run);
  r.gbytes = 2.0 * rows * hidden * sizeof(T);
  record(r);

  // Fused: residual += x; x = rmsnorm(residual) * w (in place, so inputs are uploaded fresh).
  std::vector<float> want_res(x.values.size()), want_x(x.values.size());
  for (int r2 = 0; r2 < rows; ++r2) {
    double ss = 0;
    for (int i = 0; i < hidden; ++i) {
      const float z = x.values[r2 * hidden + i] + res.values[r2 * hidden + i];
      ss += double(z) * z;
      want_res[r2 * hidden + i] = to_f32(from_f32<T>(z));
    }
    const double inv = 1.0 / std::sqrt(ss / hidden + eps);
    for (int i = 0; i < hidden; ++i) want_x[r2 * hidden + i] = float(want_res[r2 * hidden + i] * inv * w[i]);
  }
  auto run_fused = [&] {
    launch(name<T>("fused_add_rmsnorm"), dim3(rows), dim3(1024), 0, d_x.get(), d_res.get(),
           static_cast<const float*>(d_w.get()), eps, rows, hidden);
  };
  run_fused();
  Result f{"fused_add_rmsnorm", type_name<T>(), r.shape};
  f.max_error = std::max(max_error(d_x.download(), want_x), max_error(d_res.download(), want_res));
  f.tolerance = 2 * epsilon<T>();
  f.ms = time_ms(run_fused);  // reruns on its own output: the timing does not depend on values
  f.gbytes = 4.0 * rows * hidden * sizeof(T);
  record(f);
}

template <typename T> void silu_mul() {
  const int rows = options().small ? 3 : 256, width = 11008;
  // A fused [rows][2 * width] gate_up buffer, as the MLP's one projection writes it.
  auto gate_up = random_tensor<T>(static_cast<size_t>(rows) * 2 * width, -6.f, 6.f);
  std::vector<float> want(static_cast<size_t>(rows) * width);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < width; ++i) {
      const double g = gate_up.values[size_t(r) * 2 * width + i];
      const double u = gate_up.values[size_t(r) * 2 * width + width + i];
      want[size_t(r) * width + i] = float(g / (1 + std::exp(-g)) * u);
    }
  }
  DeviceBuffer<T> d_in(gate_up.stored), d_out(want.size());
  d_out.poison();
  auto run = [&] {
    launch(name<T>("silu_mul"), dim3((width + 255) / 256, rows), dim3(256), 0, d_out.get(),
           static_cast<const T*>(d_in.get()), static_cast<const T*>(d_in.get() + width), rows, width, width, 2 * width,
           2 * width);
  };
  run();
  Result r{"silu_mul", type_name<T>(), std::to_string(rows) + "x" + std::to_string(width)};
  r.max_error = max_error(d_out.download(), want);
  r.tolerance = 2 * epsilon<T>();
  r.ms = time_ms(run);
  r.gbytes = 3.0 * rows * width * sizeof(T);
  record(r);
}

// transformers' Llama 3 inverse frequencies, in f32 as there.
float llama3_inv_freq(float inv, float factor, float low, float high, float orig) {
  const float low_wl = orig / low, high_wl = orig / high;
  const float wl = 2.f * 3.14159265358979323846f / inv;
  if (wl > low_wl) return inv / factor;
  if (wl < high_wl) return inv;
  const float smooth = (orig / wl - low) / (high - low);
  return (1.f - smooth) * inv / factor + smooth * inv;
}

template <typename T> void rope(bool neox, bool llama3) {
  const int tokens = options().small ? 7 : 1024, heads = 32, kv_heads = 8, head_dim = 128, rot = 128;
  const float theta = 500000.f, factor = 8.f, low = 1.f, high = 4.f, orig = 8192.f;
  const int q_stride = (heads + 2 * kv_heads) * head_dim;  // q and k inside one QKV row
  auto qkv = random_tensor<T>(static_cast<size_t>(tokens) * q_stride);
  std::vector<int> pos(tokens);
  // Positions below 16384: one f32 ulp of inv_freq (powf vs the host's pow) then moves an angle
  // by < 2e-3 rad, inside the tolerance.
  std::uniform_int_distribution<int> pd(0, 16383);
  for (int& p : pos) p = pd(rng());

  std::vector<float> want = qkv.values;
  for (int t = 0; t < tokens; ++t) {
    for (int h = 0; h < heads + kv_heads; ++h) {
      float* x = want.data() + size_t(t) * q_stride + size_t(h) * head_dim;
      for (int i = 0; i < rot / 2; ++i) {
        float inv = 1.f / powf(theta, float(2 * i) / float(rot));
        if (llama3) inv = llama3_inv_freq(inv, factor, low, high, orig);
        const double angle = double(float(pos[t]) * inv);
        const int i0 = neox ? i : 2 * i, i1 = neox ? i + rot / 2 : 2 * i + 1;
        const double x0 = x[i0], x1 = x[i1];
        x[i0] = float(x0 * std::cos(angle) - x1 * std::sin(angle));
        x[i1] = float(x1 * std::cos(angle) + x0 * std::sin(angle));
      }
    }
  }
  // The v part of each row must come through untouched.
  for (int t = 0; t < tokens; ++t)
    for (int i = (heads + kv_heads) * head_dim; i < q_stride; ++i) want[size_t(t) * q_stride + i] = qkv.values[size_t(t) * q_stride + i];

  DeviceBuffer<T> d_qkv(qkv.stored);
  DeviceBuffer<int> d_pos(pos);
  auto run = [&] {
    launch(name<T>("rope"), dim3(tokens), dim3(256), 0, static_cast<const int*>(d_pos.get()), d_qkv.get(),
           d_qkv.get() + heads * head_dim, tokens, heads, kv_heads, head_dim, rot, q_stride, q_stride, theta,
           neox ? 1 : 0, llama3 ? factor : 0.f, low, high, orig);
  };
  run();
  Result r{std::string("rope_") + (neox ? "neox" : "normal") + (llama3 ? "_llama3" : ""), type_name<T>(),
           std::to_string(tokens) + "x(" + std::to_string(heads) + "+" + std::to_string(kv_heads) + ")x128"};
  r.max_error = max_error(d_qkv.download(), want);
  r.tolerance = 4 * epsilon<T>();
  r.ms = time_ms(run);
  r.gbytes = 2.0 * tokens * (heads + kv_heads) * head_dim * sizeof(T);
  record(r);
}

template <typename T> void embedding() {
  const int vocab = options().small ? 100 : 32000, hidden = 2048, tokens = options().small ? 9 : 256;
  std::vector<int> ids(tokens);
  std::uniform_int_distribution<int> idd(0, vocab - 1);
  for (int& id : ids) id = idd(rng());
  ids[0] = -3;      // out of range: a zero row
  ids[1] = vocab;   // out of range: a zero row
  DeviceBuffer<int> d_ids(ids);
  DeviceBuffer<T> d_out(static_cast<size_t>(tokens) * hidden);
  auto table = random_tensor<float>(static_cast<size_t>(vocab) * hidden);

  auto check = [&](const char* tname, const void* d_table, const std::vector<float>& table_values, double row_bytes) {
    std::vector<float> want(static_cast<size_t>(tokens) * hidden, 0.f);
    for (int t = 0; t < tokens; ++t) {
      if (ids[t] < 0 || ids[t] >= vocab) continue;
      for (int i = 0; i < hidden; ++i) want[size_t(t) * hidden + i] = table_values[size_t(ids[t]) * hidden + i];
    }
    d_out.poison();
    auto run = [&] {
      launch(std::string("kvasir_embedding_") + tname + "_" + type_name<T>(), dim3(tokens), dim3(256), 0, d_out.get(),
             d_table, static_cast<const int*>(d_ids.get()), tokens, vocab, hidden);
    };
    run();
    Result r{std::string("embedding_") + tname, type_name<T>(), std::to_string(tokens) + "x" + std::to_string(hidden)};
    r.max_error = max_error(d_out.download(), want);
    r.tolerance = epsilon<T>();
    r.ms = time_ms(run);
    r.gbytes = tokens * (row_bytes + hidden * sizeof(T));
    record(r);
  };

  DeviceBuffer<float> t32(table.values);
  check("f32", t32.get(), table.values, hidden * 4.0);
  {
    auto t = random_tensor<half>(table.values.size());
    DeviceBuffer<half> d(t.stored);
    check("f16", d.get(), t.values, hidden * 2.0);
  }
  {
    auto t = random_tensor<__nv_bfloat16>(table.values.size());
    DeviceBuffer<__nv_bfloat16> d(t.stored);
    check("bf16", d.get(), t.values, hidden * 2.0);
  }
  for (bool q4 : {false, true}) {
    std::vector<uint8_t> bytes;
    const std::vector<float> deq = quantize(q4, table.values, bytes);
    DeviceBuffer<uint8_t> d(bytes);
    check(q4 ? "q4_0" : "q8_0", d.get(), deq, hidden / 32.0 * (q4 ? 18 : 34));
  }
}

void layer_tests() {
  rmsnorm<half>();
  rmsnorm<__nv_bfloat16>();
  silu_mul<half>();
  silu_mul<__nv_bfloat16>();
  for (bool neox : {false, true}) {
    rope<half>(neox, false);
    rope<__nv_bfloat16>(neox, false);
  }
  rope<half>(true, true);
  rope<__nv_bfloat16>(false, true);
  embedding<half>();
  embedding<__nv_bfloat16>();
}
HARNESS_TEST(layer_tests);

}  // namespace
