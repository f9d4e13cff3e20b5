// Paged attention, decode (with and without the split over partitions) and prefill over a cached
// prefix, against a direct softmax(q.K^T * scale).V over the same paged cache.
#include "harness.cuh"

namespace {
using namespace harness;

constexpr int kBlockSize = 16;
constexpr int kDecodeTile = 32, kPrefillRows = 32, kPrefillKeys = 16;

struct Shape {
  int num_heads, num_kv_heads, head_dim;
};

// A paged cache holding `context_lens` tokens per sequence in randomly scattered blocks.
template <typename T> struct PagedCache {
  int num_blocks = 0, max_blocks_per_seq = 0;
  std::vector<int> block_tables;
  RandomTensor<T> k, v;

  PagedCache(const std::vector<int>& context_lens, const Shape& s) {
    for (int c : context_lens) {
      const int need = (c + kBlockSize - 1) / kBlockSize;
      num_blocks += need;
      max_blocks_per_seq = std::max(max_blocks_per_seq, need + 1);  // one spare entry left at -1
    }
    num_blocks += 3;  // blocks nobody uses
    std::vector<int> ids(num_blocks);
    for (int i = 0; i < num_blocks; ++i) ids[i] = i;
    std::shuffle(ids.begin(), ids.end(), rng());
    block_tables.assign(context_lens.size() * max_blocks_per_seq, -1);
    int next = 0;
    for (size_t seq = 0; seq < context_lens.size(); ++seq) {
      for (int b = 0; b < (context_lens[seq] + kBlockSize - 1) / kBlockSize; ++b) {
        block_tables[seq * max_blocks_per_seq + b] = ids[next++];
      }
    }
    // A sequence of three or more blocks gets an out-of-range id for its second block (past the
    // end for even sequences, negative for odd ones): the kernels must treat those 16 tokens as
    // absent (score -inf, value 0) rather than read outside the cache.
    for (size_t seq = 0; seq < context_lens.size(); ++seq) {
      if ((context_lens[seq] + kBlockSize - 1) / kBlockSize >= 3) {
        block_tables[seq * max_blocks_per_seq + 1] = seq % 2 == 0 ? num_blocks + static_cast<int>(seq) : -2;
      }
    }
    const size_t elems = size_t(num_blocks) * kBlockSize * s.num_kv_heads * s.head_dim;
    k = random_tensor<T>(elems);
    v = random_tensor<T>(elems);
  }

  bool present(int seq, int pos) const {
    const int block = block_tables[size_t(seq) * max_blocks_per_seq + pos / kBlockSize];
    return block >= 0 && block < num_blocks;
  }

  const float* row(const std::vector<float>& cache, int seq, int pos, int kv_head, const Shape& s) const {
    const int block = block_tables[size_t(seq) * max_blocks_per_seq + pos / kBlockSize];
    const size_t slot = size_t(block) * kBlockSize + pos % kBlockSize;
    return cache.data() + (slot * s.num_kv_heads + kv_head) * s.head_dim;
  }

  // Attention of one query vector over the present positions among 0..last of `seq`, into
  // out[head_dim]; zeros when none is present.
  void attend(const float* q, int seq, int last, int kv_head, const Shape& s, float scale, float* out) const {
    std::vector<double> p(last + 1, -INFINITY);
    double m = -INFINITY;
    for (int t = 0; t <= last; ++t) {
      if (!present(seq, t)) continue;
      const float* kr = row(k.values, seq, t, kv_head, s);
      double dot = 0;
      for (int d = 0; d < s.head_dim; ++d) dot += double(q[d]) * kr[d];
      p[t] = dot * scale;
      m = std::max(m, p[t]);
    }
    if (m == -INFINITY) {
      for (int d = 0; d < s.head_dim; ++d) out[d] = 0.f;
      return;
    }
    double sum = 0;
    for (double& x : p) sum += (x = x == -INFINITY ? 0.0 : std::exp(x - m));
    for (int d = 0; d < s.head_dim; ++d) {
      double a = 0;
      for (int t = 0; t <= last; ++t) {
        if (p[t] != 0.0) a += p[t] * row(v.values, seq, t, kv_head, s)[d];
      }
      out[d] = float(a / sum);
    }
  }
};

template <typename T, typename C> void decode(const Shape& s, std::vector<int> context_lens, int partition_size, const char* label) {
  const int num_seqs = static_cast<int>(context_lens.size());
  const int group = s.num_heads / s.num_kv_heads;
  const float scale = 1.f / std::sqrt(float(s.head_dim));
  PagedCache<C> cache(context_lens, s);
  const int q_stride = (s.num_heads + 2 * s.num_kv_heads) * s.head_dim;  // q inside a QKV row
  auto q = random_tensor<T>(size_t(num_seqs) * q_stride);

  std::vector<float> want(size_t(num_seqs) * s.num_heads * s.head_dim);
  for (int seq = 0; seq < num_seqs; ++seq)
    for (int h = 0; h < s.num_heads; ++h)
      cache.attend(q.values.data() + size_t(seq) * q_stride + size_t(h) * s.head_dim, seq, context_lens[seq] - 1,
                   h / group, s, scale, want.data() + (size_t(seq) * s.num_heads + h) * s.head_dim);

  const int max_ctx = *std::max_element(context_lens.begin(), context_lens.end());
  const int partitions = (max_ctx + partition_size - 1) / partition_size;
  const int heads_per_block = std::min({group, 2048 / s.head_dim, 64});
  const int chunks = (group + heads_per_block - 1) / heads_per_block;
  const size_t smem = sizeof(float) * (size_t(heads_per_block) * s.head_dim + heads_per_block * kDecodeTile) +
                      sizeof(C) * kDecodeTile * s.head_dim + sizeof(float) * 3 * heads_per_block;

  DeviceBuffer<T> d_q(q.stored), d_out(want.size());
  DeviceBuffer<C> d_k(cache.k.stored), d_v(cache.v.stored);
  DeviceBuffer<int> d_tables(cache.block_tables), d_lens(context_lens);
  const size_t part_rows = size_t(num_seqs) * s.num_heads * partitions;
  DeviceBuffer<float> d_tmp(part_rows * s.head_dim), d_max(part_rows), d_sum(part_rows);
  d_out.poison();
  d_tmp.poison();
  d_max.poison();
  d_sum.poison();
  const std::string t = type_name<T>();
  auto run = [&] {
    launch("kvasir_paged_attention_decode_" + kv_suffix<T, C>(), dim3(s.num_kv_heads * chunks, num_seqs, partitions), dim3(256), smem,
           d_out.get(), d_tmp.get(), d_max.get(), d_sum.get(), static_cast<const T*>(d_q.get()), q_stride,
           static_cast<const C*>(d_k.get()), static_cast<const C*>(d_v.get()),
           static_cast<const int*>(d_tables.get()), cache.max_blocks_per_seq, static_cast<const int*>(d_lens.get()),
           cache.num_blocks, kBlockSize, s.num_heads, s.num_kv_heads, s.head_dim, heads_per_block, scale,
           partition_size);
    if (partitions > 1) {
      launch("kvasir_paged_attention_reduce_" + t, dim3(s.num_heads, num_seqs), dim3(128), partitions * sizeof(float),
             d_out.get(), static_cast<const float*>(d_tmp.get()), static_cast<const float*>(d_max.get()),
             static_cast<const float*>(d_sum.get()), static_cast<const int*>(d_lens.get()), cache.max_blocks_per_seq,
             kBlockSize, s.num_heads, s.head_dim, partitions, partition_size);
    }
  };
  run();
  Result r{std::string("paged_attention_decode") + label, kv_suffix<T, C>(),
           std::to_string(num_seqs) + "seq " + std::to_string(s.num_heads) + "/" + std::to_string(s.num_kv_heads) +
               "x" + std::to_string(s.head_dim) + " ctx<=" + std::to_string(max_ctx)};
  r.max_error = max_error(d_out.download(), want);
  r.tolerance = 2 * epsilon<C>();
  r.ms = time_ms(run);
  double kv_tokens = 0;
  for (int c : context_lens) kv_tokens += c;
  r.gbytes = kv_tokens * 2 * s.num_kv_heads * s.head_dim * sizeof(C);
  record(r);
}

template <typename T, typename C> void prefill(const Shape& s, const std::vector<int>& context_lens, const std::vector<int>& query_lens,
                                   const char* label) {
  const int num_seqs = static_cast<int>(context_lens.size());
  const int group = s.num_heads / s.num_kv_heads;
  const float scale = 1.f / std::sqrt(float(s.head_dim));
  PagedCache<C> cache(context_lens, s);
  std::vector<int> starts{0};
  for (int ql : query_lens) starts.push_back(starts.back() + ql);
  const int num_tokens = starts.back();
  const int q_stride = (s.num_heads + 2 * s.num_kv_heads) * s.head_dim;
  const int out_stride = s.num_heads * s.head_dim;
  auto q = random_tensor<T>(size_t(num_tokens) * q_stride);

  std::vector<float> want(size_t(num_tokens) * out_stride);
  double flops = 0;
  for (int seq = 0; seq < num_seqs; ++seq) {
    for (int j = 0; j < query_lens[seq]; ++j) {
      const int token = starts[seq] + j;
      const int pos = context_lens[seq] - query_lens[seq] + j;
      for (int h = 0; h < s.num_heads; ++h) {
        cache.attend(q.values.data() + size_t(token) * q_stride + size_t(h) * s.head_dim, seq, pos, h / group, s, scale,
                     want.data() + size_t(token) * out_stride + size_t(h) * s.head_dim);
      }
      flops += 4.0 * (pos + 1) * s.head_dim * s.num_heads;
    }
  }
  const int max_query_len = *std::max_element(query_lens.begin(), query_lens.end());
  const size_t smem = sizeof(float) * size_t(kPrefillRows) * s.head_dim +
                      sizeof(C) * (kPrefillKeys * s.head_dim + kPrefillKeys * (s.head_dim + 2)) +
                      sizeof(float) * (kPrefillRows * kPrefillKeys + 3 * kPrefillRows);
  DeviceBuffer<T> d_q(q.stored), d_out(want.size());
  DeviceBuffer<C> d_k(cache.k.stored), d_v(cache.v.stored);
  DeviceBuffer<int> d_tables(cache.block_tables), d_lens(context_lens), d_starts(starts);
  d_out.poison();
  auto run = [&] {
    launch("kvasir_paged_attention_prefill_" + kv_suffix<T, C>(),
           dim3((max_query_len * group + kPrefillRows - 1) / kPrefillRows, s.num_kv_heads, num_seqs), dim3(256), smem,
           d_out.get(), out_stride, static_cast<const T*>(d_q.get()), q_stride, static_cast<const C*>(d_k.get()),
           static_cast<const C*>(d_v.get()), static_cast<const int*>(d_tables.get()), cache.max_blocks_per_seq,
           static_cast<const int*>(d_starts.get()), static_cast<const int*>(d_lens.get()), cache.num_blocks,
           kBlockSize, s.num_heads, s.num_kv_heads, s.head_dim, scale);
  };
  run();
  Result r{std::string("paged_attention_prefill") + label, kv_suffix<T, C>(),
           std::to_string(num_seqs) + "seq " + std::to_string(num_tokens) + "tok " + std::to_string(s.num_heads) +
               "/" + std::to_string(s.num_kv_heads) + "x" + std::to_string(s.head_dim)};
  r.max_error = max_error(d_out.download(), want);
  r.tolerance = 2 * epsilon<C>();
  r.ms = time_ms(run);
  r.tflops = flops;
  record(r);
}

std::vector<int> random_lens(int n, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<int> v(n);
  for (int& x : v) x = d(rng());
  return v;
}

template <typename T, typename C> void attention_for() {
  const bool small = options().small;
  const Shape llama8b{32, 8, 128}, tiny{8, 4, 8}, mqa{32, 1, 128}, mha64{12, 12, 64};
  // Short contexts: one partition, the kernel writes the output itself.
  decode<T, C>(llama8b, random_lens(small ? 3 : 64, 1, 512), 512, "");
  // Long contexts: split over partitions and reduced.
  decode<T, C>(llama8b, random_lens(small ? 2 : 32, small ? 600 : 1, small ? 1100 : 8192), 512, "_split");
  decode<T, C>(tiny, random_lens(small ? 3 : 16, 1, small ? 200 : 2000), 512, "_hd8");
  decode<T, C>(mqa, random_lens(small ? 2 : 8, 1, small ? 300 : 3000), 256, "_mqa");
  decode<T, C>(mha64, random_lens(small ? 2 : 16, 1, small ? 100 : 1000), 512, "_mha64");

  // Prefill: a whole prompt, a chunk after a cached prefix, a one-token chunk, a ragged batch.
  if (small) {
    prefill<T, C>(llama8b, {45, 70, 3}, {45, 21, 1}, "");
    prefill<T, C>(tiny, {33}, {33}, "_hd8");
  } else {
    prefill<T, C>(llama8b, {512, 1000, 1200, 17}, {512, 333, 300, 1}, "");
    prefill<T, C>(mqa, {300, 700}, {300, 128}, "_mqa");
    prefill<T, C>(tiny, {260, 64}, {100, 64}, "_hd8");
    prefill<T, C>(mha64, {1024}, {1024}, "_mha64");
  }
}

void attention_tests() {
  attention_for<half, half>();
  attention_for<__nv_bfloat16, __nv_bfloat16>();
  // The CUDA backend's case: f32 activations over a 16-bit cache.
  attention_for<float, half>();
  attention_for<float, __nv_bfloat16>();
}
HARNESS_TEST(attention_tests);

}  // namespace
