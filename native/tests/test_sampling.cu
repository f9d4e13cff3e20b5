// argmax and seeded top-k/top-p sampling: token for token against a host transcription of the
// same algorithm (same Philox stream, same cuts), and in distribution against the exact
// renormalised probabilities.
#include "harness.cuh"

#include <map>

namespace {
using namespace harness;

uint32_t umulhi(uint32_t a, uint32_t b) { return static_cast<uint32_t>((uint64_t(a) * b) >> 32); }

float gumbel(uint64_t seed, uint64_t step, int i) {
  uint32_t c[4] = {uint32_t(i), uint32_t(step), uint32_t(step >> 32), 0};
  uint32_t k[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int r = 0; r < 10; ++r) {
    const uint32_t hi0 = umulhi(0xD2511F53u, c[0]), lo0 = 0xD2511F53u * c[0];
    const uint32_t hi1 = umulhi(0xCD9E8D57u, c[2]), lo1 = 0xCD9E8D57u * c[2];
    const uint32_t n[4] = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    std::memcpy(c, n, sizeof c);
    k[0] += 0x9E3779B9u;
    k[1] += 0xBB67AE85u;
  }
  const float u = (float(c[0] >> 8) + 0.5f) * (1.f / 16777216.f);
  return -logf(-logf(u));
}

struct Params {
  float temperature;
  int top_k;
  float top_p;
};

// The kept set of one row: indices sorted by descending scaled logit, cut by top-k (ties at the
// cut kept) then by top-p (smallest prefix whose mass reaches p, ties at the cut kept).
std::vector<int> kept_set(const std::vector<float>& scaled, const Params& p) {
  const int vocab = static_cast<int>(scaled.size());
  std::vector<int> order(vocab);
  for (int i = 0; i < vocab; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scaled[a] > scaled[b]; });
  int n = vocab;
  if (p.top_k > 1 && p.top_k < vocab) {
    n = p.top_k;
    while (n < vocab && scaled[order[n]] == scaled[order[p.top_k - 1]]) ++n;
  }
  if (p.top_p > 0.f && p.top_p < 1.f) {
    const float m = scaled[order[0]];
    double z = 0;
    for (int i = 0; i < n; ++i) z += std::exp(double(scaled[order[i]]) - m);
    double mass = 0;
    int cut = n;
    for (int i = 0; i < n; ++i) {
      mass += std::exp(double(scaled[order[i]]) - m) / z;
      if (mass >= p.top_p) {
        cut = i + 1;
        break;
      }
    }
    while (cut < n && scaled[order[cut]] == scaled[order[cut - 1]]) ++cut;
    n = cut;
  }
  order.resize(n);
  return order;
}

int reference_sample(const std::vector<float>& logits, const Params& p, uint64_t seed, uint64_t step) {
  const float inv_temp = 1.f / p.temperature;
  std::vector<float> scaled(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) scaled[i] = logits[i] * inv_temp;
  int best = -1;
  float best_score = -INFINITY;
  for (int i : kept_set(scaled, p)) {
    const float score = scaled[i] + gumbel(seed, step, i);
    if (score > best_score || (score == best_score && i < best)) {
      best_score = score;
      best = i;
    }
  }
  return best;
}

struct Batch {
  DeviceBuffer<float> logits, temperatures, top_ps;
  DeviceBuffer<int> top_ks, out;
  DeviceBuffer<unsigned long long> seeds, steps;
  int rows, vocab;
  Batch(const std::vector<float>& l, const std::vector<Params>& p, const std::vector<unsigned long long>& seed,
        const std::vector<unsigned long long>& step, int vocab_)
      : logits(l), temperatures(p.size()), top_ps(p.size()), top_ks(p.size()), out(p.size()), seeds(seed),
        steps(step), rows(static_cast<int>(p.size())), vocab(vocab_) {
    std::vector<float> t, tp;
    std::vector<int> tk;
    for (const Params& x : p) {
      t.push_back(x.temperature);
      tp.push_back(x.top_p);
      tk.push_back(x.top_k);
    }
    temperatures.upload(t);
    top_ps.upload(tp);
    top_ks.upload(tk);
  }
  void run() {
    launch("kvasir_sample", dim3(rows), dim3(1024), 0, static_cast<const float*>(logits.get()), out.get(), rows, vocab,
           static_cast<const float*>(temperatures.get()), static_cast<const int*>(top_ks.get()),
           static_cast<const float*>(top_ps.get()), static_cast<const unsigned long long*>(seeds.get()),
           static_cast<const unsigned long long*>(steps.get()));
  }
};

void argmax_test() {
  const int rows = options().small ? 4 : 64, vocab = options().small ? 5000 : 128256;
  auto logits = random_tensor<float>(size_t(rows) * vocab, -10.f, 10.f);
  std::vector<int> want(rows);
  for (int r = 0; r < rows; ++r) {
    float* row = logits.values.data() + size_t(r) * vocab;
    if (r % 2 == 0) {  // a tie for the maximum: the lower index wins
      const int a = (r * 7919) % vocab, b = (r * 104729 + 17) % vocab;
      row[a] = row[b] = 11.f;
    }
    if (r % 3 == 0) row[(r * 31) % vocab] = NAN;  // never chosen
    want[r] = int(std::max_element(row, row + vocab, [](float x, float y) {
                    return (std::isnan(x) ? -INFINITY : x) < (std::isnan(y) ? -INFINITY : y);
                  }) - row);
  }
  DeviceBuffer<float> d_logits(logits.values);
  DeviceBuffer<int> d_out(rows);
  d_out.poison();
  auto run = [&] {
    launch("kvasir_argmax", dim3(rows), dim3(1024), 0, static_cast<const float*>(d_logits.get()), d_out.get(), rows,
           vocab);
  };
  run();
  const std::vector<int> got = d_out.download();
  Result r{"argmax", "f32", std::to_string(rows) + "x" + std::to_string(vocab)};
  for (int i = 0; i < rows; ++i) r.max_error += got[i] != want[i];
  r.tolerance = 0;
  r.ms = time_ms(run);
  r.gbytes = double(rows) * vocab * 4;
  record(r);
}

void sample_exact_test() {
  const int rows = options().small ? 8 : 64, vocab = options().small ? 3000 : 128256;
  auto logits = random_tensor<float>(size_t(rows) * vocab, -8.f, 8.f);
  const Params configs[] = {{1.f, 0, 1.f}, {0.7f, 50, 1.f}, {1.f, 0, 0.9f}, {0.8f, 40, 0.95f},
                            {1.3f, 1000, 0.5f}, {0.f, 0, 1.f}, {1.f, 1, 1.f}, {0.6f, 0, 0.05f}};
  std::vector<Params> params;
  std::vector<unsigned long long> seeds, steps;
  for (int r = 0; r < rows; ++r) {
    params.push_back(configs[r % 8]);
    seeds.push_back(rng()());
    steps.push_back(rng()() % 100000);
  }
  Batch b(logits.values, params, seeds, steps, vocab);
  b.out.poison();
  b.run();
  const std::vector<int> got = b.out.download();
  Result r{"sample (token = reference)", "f32", std::to_string(rows) + "x" + std::to_string(vocab)};
  int mismatches = 0;
  for (int i = 0; i < rows; ++i) {
    const std::vector<float> row(logits.values.begin() + size_t(i) * vocab, logits.values.begin() + size_t(i + 1) * vocab);
    const Params& p = params[i];
    const int want = (p.temperature <= 0.f || p.top_k == 1)
                         ? int(std::max_element(row.begin(), row.end()) - row.begin())
                         : reference_sample(row, p, seeds[i], steps[i]);
    mismatches += got[i] != want;
  }
  // Host and device logf/expf may differ in the last bit, which can flip a near tie: allow one row.
  r.max_error = mismatches;
  r.tolerance = 1;
  r.ms = time_ms([&] { b.run(); });
  r.gbytes = double(rows) * vocab * 4;
  record(r);
}

// Draws many times (one row per step) from one small distribution and compares the frequencies
// with the renormalised probabilities of the kept set: total variation distance.
void sample_distribution_test(const Params& p, const char* label) {
  const int vocab = 64, draws = options().small ? 4000 : 100000;
  auto row = random_tensor<float>(vocab, -3.f, 3.f);
  std::vector<float> logits;
  std::vector<unsigned long long> seeds(draws, 1234567ull), steps(draws);
  for (int i = 0; i < draws; ++i) {
    logits.insert(logits.end(), row.values.begin(), row.values.end());
    steps[i] = i;
  }
  Batch b(logits, std::vector<Params>(draws, p), seeds, steps, vocab);
  b.out.poison();
  b.run();
  const std::vector<int> got = b.out.download();

  const float inv_temp = 1.f / p.temperature;
  std::vector<float> scaled(vocab);
  for (int i = 0; i < vocab; ++i) scaled[i] = row.values[i] * inv_temp;
  const std::vector<int> kept = kept_set(scaled, p);
  std::vector<double> prob(vocab, 0.0);
  double z = 0;
  for (int i : kept) z += std::exp(double(scaled[i]));
  for (int i : kept) prob[i] = std::exp(double(scaled[i])) / z;
  std::vector<double> freq(vocab, 0.0);
  bool outside = false;
  for (int t : got) {
    if (t < 0 || t >= vocab || prob[t] == 0) outside = true;
    else freq[t] += 1.0 / draws;
  }
  double tv = 0;
  for (int i = 0; i < vocab; ++i) tv += 0.5 * std::fabs(freq[i] - prob[i]);
  Result r{std::string("sample distribution ") + label, "f32", std::to_string(draws) + " draws"};
  if (outside) r.failure = "drew a token outside the kept set";
  r.max_error = tv;
  r.tolerance = options().small ? 0.08 : 0.02;  // several standard errors of the TV estimate
  record(r);
}

void sampling_tests() {
  argmax_test();
  sample_exact_test();
  sample_distribution_test({1.f, 0, 1.f}, "(T=1)");
  sample_distribution_test({0.7f, 10, 1.f}, "(top-k 10)");
  sample_distribution_test({1.f, 0, 0.8f}, "(top-p 0.8)");
}
HARNESS_TEST(sampling_tests);

}  // namespace
