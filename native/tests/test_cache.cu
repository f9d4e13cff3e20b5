// reshape_and_cache and copy_blocks against the obvious loops over the
// [num_blocks][block_size][num_kv_heads][head_dim] layout.
#include "harness.cuh"

namespace {
using namespace harness;

constexpr int kBlockSize = 16;

template <typename T, typename C> void reshape_and_cache() {
  const bool small = options().small;
  const int num_tokens = small ? 37 : 512, num_kv_heads = 8, head_dim = 128, num_blocks = small ? 8 : 128;
  const int row = num_kv_heads * head_dim;
  const int key_stride = row + 64;  // K and V as column slices of a wider (QKV-like) row
  const long long num_slots = static_cast<long long>(num_blocks) * kBlockSize;

  // Distinct random slots; every fifth token is padding (-1).
  std::vector<int> slots(num_slots);
  for (int i = 0; i < num_slots; ++i) slots[i] = i;
  std::shuffle(slots.begin(), slots.end(), rng());
  std::vector<int> mapping(num_tokens);
  for (int t = 0; t < num_tokens; ++t) mapping[t] = t % 5 == 4 ? -1 : slots[t % num_slots];

  auto key = random_tensor<T>(static_cast<size_t>(num_tokens) * key_stride);
  auto value = random_tensor<T>(static_cast<size_t>(num_tokens) * key_stride);
  DeviceBuffer<T> d_key(key.stored), d_value(value.stored);
  DeviceBuffer<int> d_map(mapping);
  DeviceBuffer<C> k_cache(num_slots * row), v_cache(num_slots * row);
  k_cache.poison();
  v_cache.poison();
  auto run = [&] {
    launch("kvasir_reshape_and_cache_" + kv_suffix<T, C>(), dim3(num_tokens), dim3(256), 0, d_key.get(),
           d_value.get(), k_cache.get(), v_cache.get(), static_cast<const int*>(d_map.get()), num_tokens,
           num_kv_heads, head_dim, key_stride, key_stride, num_slots);
  };
  run();
  auto k_got = k_cache.download();
  auto v_got = v_cache.download();

  // Written slots hold the rows; every other slot must still hold the poison.
  std::vector<int> writer(num_slots, -1);
  for (int t = 0; t < num_tokens; ++t) if (mapping[t] >= 0) writer[mapping[t]] = t;
  Result r{std::string("reshape_and_cache"), kv_suffix<T, C>(), std::to_string(num_tokens) + "x" + std::to_string(row)};
  for (long long s = 0; s < num_slots && r.failure.empty(); ++s) {
    for (int i = 0; i < row; ++i) {
      const size_t at = s * row + i;
      if (writer[s] < 0) {
        if (!std::isnan(to_f32(k_got[at])) || !std::isnan(to_f32(v_got[at]))) r.failure = "wrote an unmapped slot";
      } else {
        const size_t src = static_cast<size_t>(writer[s]) * key_stride + i;
        // Stored rounded to the cache type, exactly as from_f32 rounds (round to nearest even).
        if (to_f32(k_got[at]) != to_f32(from_f32<C>(key.values[src])) ||
            to_f32(v_got[at]) != to_f32(from_f32<C>(value.values[src]))) {
          r.failure = "slot " + std::to_string(s) + " holds the wrong value";
        }
      }
      if (!r.failure.empty()) break;
    }
  }
  r.ms = time_ms(run);
  r.gbytes = 2.0 * num_tokens * row * (sizeof(T) + sizeof(C));  // read K and V, write both
  record(r);
}

template <typename T> void copy_blocks() {
  const bool small = options().small;
  const int num_kv_heads = 8, head_dim = 128, num_blocks = small ? 16 : 256, num_layers = small ? 2 : 8;
  const long long block_elems = static_cast<long long>(kBlockSize) * num_kv_heads * head_dim;
  const int num_caches = 2 * num_layers;

  std::vector<std::vector<T>> host;
  std::vector<std::unique_ptr<DeviceBuffer<T>>> caches;
  std::vector<unsigned long long> ptrs;
  for (int c = 0; c < num_caches; ++c) {
    host.push_back(random_tensor<T>(num_blocks * block_elems).stored);
    caches.push_back(std::make_unique<DeviceBuffer<T>>(host.back()));
    ptrs.push_back(reinterpret_cast<unsigned long long>(caches.back()->get()));
  }
  // Copy the first half of the blocks onto a random permutation of the second half, plus one
  // out-of-range pair that must be ignored.
  std::vector<int> dst(num_blocks / 2);
  for (int i = 0; i < num_blocks / 2; ++i) dst[i] = num_blocks / 2 + i;
  std::shuffle(dst.begin(), dst.end(), rng());
  std::vector<int> pairs;
  for (int i = 0; i < num_blocks / 2; ++i) {
    pairs.push_back(i);
    pairs.push_back(dst[i]);
  }
  pairs.push_back(0);
  pairs.push_back(num_blocks);  // out of range
  const int num_pairs = static_cast<int>(pairs.size() / 2);
  DeviceBuffer<unsigned long long> d_ptrs(ptrs);
  DeviceBuffer<int> d_pairs(pairs);
  const long long block_bytes = block_elems * static_cast<long long>(sizeof(T));
  auto run = [&] {
    launch("kvasir_copy_blocks", dim3(num_caches, num_pairs), dim3(256), 0,
           static_cast<const unsigned long long*>(d_ptrs.get()), num_caches, static_cast<const int*>(d_pairs.get()),
           num_pairs, num_blocks, block_bytes);
  };
  run();
  Result r{std::string("copy_blocks"), type_name<T>(),
           std::to_string(num_caches) + " caches x " + std::to_string(num_pairs) + " pairs"};
  for (int c = 0; c < num_caches && r.failure.empty(); ++c) {
    std::vector<T> want = host[c];
    for (int i = 0; i < num_blocks / 2; ++i) {
      std::copy(host[c].begin() + i * block_elems, host[c].begin() + (i + 1) * block_elems,
                want.begin() + dst[i] * block_elems);
    }
    const std::vector<T> got = caches[c]->download();
    if (std::memcmp(got.data(), want.data(), got.size() * sizeof(T)) != 0) r.failure = "cache " + std::to_string(c) + " differs";
  }
  r.ms = time_ms(run);
  r.gbytes = 2.0 * num_caches * (num_blocks / 2) * block_bytes;
  record(r);
}

void cache_tests() {
  reshape_and_cache<half, half>();
  reshape_and_cache<__nv_bfloat16, __nv_bfloat16>();
  reshape_and_cache<float, half>();
  reshape_and_cache<float, __nv_bfloat16>();
  copy_blocks<half>();
  copy_blocks<__nv_bfloat16>();
}
HARNESS_TEST(cache_tests);

}  // namespace
