// Self-test of the CPU simulator's fake libcuda.so.1 and libcublas.so.13 (sim/driver.cpp,
// sim/cublas.cpp): the error behaviour the Java backend's tests rely on, checked against the real
// driver's and cuBLAS's documented results. build-sim-libs.sh runs it after (re)building the
// libraries; it exits non-zero, naming the check, when one fails.
#include <cuda.h>
#include <library_types.h>

#include <cmath>
#include <thread>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
int cublasCreate_v2(void** handle);
int cublasDestroy_v2(void* handle);
int cublasSetStream_v2(void* handle, CUstream stream);
int cublasGemmEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A, int Atype,
                 int lda, const void* B, int Btype, int ldb, const void* beta, void* C, int Ctype, int ldc,
                 int computeType, int algo);
// sim/nccl.cpp's ABI (nccl.h): ncclComm_t is an opaque pointer, the enums are ints.
int ncclGetVersion(int* version);
const char* ncclGetErrorString(int result);
int ncclCommInitAll(void** comms, int ndev, const int* devlist);
int ncclCommDestroy(void* comm);
int ncclCommCount(void* comm, int* count);
int ncclCommUserRank(void* comm, int* rank);
int ncclGroupStart();
int ncclGroupEnd();
int ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, int datatype, int op, void* comm, CUstream stream);
}

namespace {
int failures = 0;

void expect(long got, long want, const char* what) {
  if (got != want) {
    std::fprintf(stderr, "sim libs test FAILED: %s: got %ld, want %ld\n", what, got, want);
    failures++;
  }
}

constexpr int kOpN = 0, kOpT = 1, kCompute32F = 68, kAlgoDefault = -1;
constexpr int kInvalidValue = 7, kNotSupported = 15, kNotInitialized = 1;
constexpr int kNcclInvalidArgument = 4, kNcclInvalidUsage = 5, kNcclSum = 0;
constexpr int kNcclFloat16 = 6, kNcclFloat32 = 7, kNcclBfloat16 = 9;

// KVASIR_SIM_DEVICES=2: two devices with their own contexts and memory, and the fake NCCL over them.
int twoDevices() {
  int count = 0;
  expect(cuInit(0), CUDA_SUCCESS, "cuInit");
  expect(cuDeviceGetCount(&count), CUDA_SUCCESS, "cuDeviceGetCount");
  expect(count, 2, "device count with KVASIR_SIM_DEVICES=2");
  CUdevice dev[2];
  expect(cuDeviceGet(&dev[1], 1), CUDA_SUCCESS, "cuDeviceGet(1)");
  expect(cuDeviceGet(&dev[0], 0), CUDA_SUCCESS, "cuDeviceGet(0)");
  expect(cuDeviceGet(&dev[0], 2), CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet(2)");
  char name[64];
  expect(cuDeviceGetName(name, sizeof name, dev[1]), CUDA_SUCCESS, "cuDeviceGetName(1)");
  expect(std::strcmp(name, "Kvasir CPU simulator (not a GPU)"), 0, "device 1's name");
  CUcontext ctx[2];
  expect(cuDevicePrimaryCtxRetain(&ctx[0], dev[0]), CUDA_SUCCESS, "retain device 0");
  expect(cuDevicePrimaryCtxRetain(&ctx[1], dev[1]), CUDA_SUCCESS, "retain device 1");
  expect(ctx[0] != ctx[1], 1, "one primary context per device");
  // Memory is counted per device.
  size_t free0, free1, total;
  expect(cuCtxSetCurrent(ctx[1]), CUDA_SUCCESS, "device 1 current");
  cuMemGetInfo(&free1, &total);
  expect(cuCtxSetCurrent(ctx[0]), CUDA_SUCCESS, "device 0 current");
  CUdeviceptr big;
  expect(cuMemAlloc(&big, 1 << 20), CUDA_SUCCESS, "cuMemAlloc on device 0");
  cuMemGetInfo(&free0, &total);
  expect(static_cast<long>(total - free0), 1 << 20, "device 0 counts its allocation");
  CUstream s0;
  expect(cuStreamCreate(&s0, 0), CUDA_SUCCESS, "stream on device 0");
  expect(cuCtxSetCurrent(ctx[1]), CUDA_SUCCESS, "device 1 current again");
  size_t free1b;
  cuMemGetInfo(&free1b, &total);
  expect(static_cast<long>(free1 - free1b), 0, "device 1 does not count device 0's allocation");
  std::fprintf(stderr, "sim libs test: a stream error is expected next:\n");
  expect(cuStreamSynchronize(s0), CUDA_ERROR_INVALID_HANDLE, "device 0's stream with device 1 current");
  expect(cuMemFree(big), CUDA_SUCCESS, "cuMemFree");

  // NCCL: two ranks on devices 0 and 1.
  int version = 0;
  expect(ncclGetVersion(&version), 0, "ncclGetVersion");
  expect(version, 22903, "NCCL version code");
  expect(std::strcmp(ncclGetErrorString(kNcclInvalidUsage), "invalid usage (run with NCCL_DEBUG=WARN for details)"), 0,
         "ncclGetErrorString");
  void* comms[2];
  const int missing[2] = {0, 2}, twice[2] = {1, 1};
  std::fprintf(stderr, "sim libs test: NCCL errors are expected next:\n");
  expect(ncclCommInitAll(comms, 2, missing), kNcclInvalidArgument, "ncclCommInitAll with device 2");
  expect(ncclCommInitAll(comms, 2, twice), kNcclInvalidUsage, "ncclCommInitAll with a device twice");
  expect(ncclCommInitAll(comms, 2, nullptr), 0, "ncclCommInitAll(2)");
  int n = 0, rank = -1;
  expect(ncclCommCount(comms[1], &n), 0, "ncclCommCount");
  expect(n, 2, "communicator size");
  expect(ncclCommUserRank(comms[1], &rank), 0, "ncclCommUserRank");
  expect(rank, 1, "rank of the second communicator");

  constexpr int kCount = 64;
  CUdeviceptr buf[2], half[2];
  std::vector<float> host[2] = {std::vector<float>(kCount), std::vector<float>(kCount)};
  for (int r = 0; r < 2; r++) {
    cuCtxSetCurrent(ctx[r]);
    expect(cuMemAlloc(&buf[r], kCount * 4), CUDA_SUCCESS, "cuMemAlloc f32 buffer");
    expect(cuMemAlloc(&half[r], 8), CUDA_SUCCESS, "cuMemAlloc 16-bit buffer");
    for (int i = 0; i < kCount; i++) host[r][i] = r == 0 ? i : 10.f * i;
    cuMemcpyHtoD(buf[r], host[r].data(), kCount * 4);
  }
  auto allReduce = [&](CUdeviceptr* p, size_t count, int type) {
    ncclGroupStart();
    for (int r = 0; r < 2; r++)
      ncclAllReduce(reinterpret_cast<void*>(p[r]), reinterpret_cast<void*>(p[r]), count, type, kNcclSum, comms[r],
                    nullptr);
    return ncclGroupEnd();
  };
  expect(allReduce(buf, kCount, kNcclFloat32), 0, "grouped f32 all-reduce");
  for (int r = 0; r < 2; r++) {
    cuCtxSetCurrent(ctx[r]);
    cuMemcpyDtoH(host[r].data(), buf[r], kCount * 4);
    int wrong = 0;
    for (int i = 0; i < kCount; i++) wrong += host[r][i] != 11.f * i;
    expect(wrong, 0, "f32 elements not the sum");
  }
  // f16: accumulated in float, rounded once: 1.5 + 2.25 = 3.75; 2048 + 3 = 2051 -> 2052 (ties to even).
  uint16_t h0[2] = {0x3E00, 0x6800}, h1[2] = {0x4080, 0x4200}, out[2];
  cuCtxSetCurrent(ctx[0]);
  cuMemcpyHtoD(half[0], h0, 4);
  cuCtxSetCurrent(ctx[1]);
  cuMemcpyHtoD(half[1], h1, 4);
  expect(allReduce(half, 2, kNcclFloat16), 0, "grouped f16 all-reduce");
  cuMemcpyDtoH(out, half[1], 4);
  expect(out[0], 0x4380, "f16 1.5 + 2.25");
  expect(out[1], 0x6802, "f16 2048 + 3 rounds to 2052");
  uint16_t b[2] = {0x3F80, 0x3F80};  // bf16 1.0
  cuMemcpyHtoD(half[1], b, 4);
  cuCtxSetCurrent(ctx[0]);
  cuMemcpyHtoD(half[0], b, 4);
  expect(allReduce(half, 2, kNcclBfloat16), 0, "grouped bf16 all-reduce");
  cuMemcpyDtoH(out, half[0], 4);
  expect(out[0], 0x4000, "bf16 1 + 1");

  // Misuse.
  std::fprintf(stderr, "sim libs test: NCCL errors are expected next:\n");
  ncclGroupStart();
  ncclAllReduce(reinterpret_cast<void*>(buf[0]), reinterpret_cast<void*>(buf[0]), kCount, kNcclFloat32, kNcclSum,
                comms[0], nullptr);
  ncclAllReduce(reinterpret_cast<void*>(buf[1]), reinterpret_cast<void*>(buf[1]), kCount - 1, kNcclFloat32, kNcclSum,
                comms[1], nullptr);
  expect(ncclGroupEnd(), kNcclInvalidUsage, "mismatched counts");
  cuMemcpyDtoH(host[0].data(), buf[0], 4 * kCount);
  expect(host[0][3] == 33.f, 1, "a failed collective leaves the buffers alone");
  expect(ncclAllReduce(reinterpret_cast<void*>(buf[1]), reinterpret_cast<void*>(buf[1]), kCount, kNcclFloat32,
                       kNcclSum, comms[0], nullptr),
         kNcclInvalidArgument, "device 1's buffer for rank 0");
  expect(ncclAllReduce(reinterpret_cast<void*>(buf[0]), reinterpret_cast<void*>(buf[0]), kCount + 1, kNcclFloat32,
                       kNcclSum, comms[0], nullptr),
         kNcclInvalidArgument, "a count past the allocation");
  expect(ncclAllReduce(reinterpret_cast<void*>(buf[0]), reinterpret_cast<void*>(buf[0]), kCount, kNcclFloat32,
                       kNcclSum, comms[0], nullptr),
         kNcclInvalidUsage, "one thread, two ranks, no group: would hang");
  // One thread per rank needs no group.
  int results[2] = {-1, -1};
  std::thread t0([&] {
    results[0] = ncclAllReduce(reinterpret_cast<void*>(buf[0]), reinterpret_cast<void*>(buf[0]), kCount, kNcclFloat32,
                               kNcclSum, comms[0], nullptr);
  });
  std::thread t1([&] {
    results[1] = ncclAllReduce(reinterpret_cast<void*>(buf[1]), reinterpret_cast<void*>(buf[1]), kCount, kNcclFloat32,
                               kNcclSum, comms[1], nullptr);
  });
  t0.join();
  t1.join();
  expect(results[0], 0, "thread per rank: rank 0");
  expect(results[1], 0, "thread per rank: rank 1");
  cuMemcpyDtoH(host[0].data(), buf[0], 4 * kCount);
  expect(host[0][3] == 66.f, 1, "thread per rank: the sum");

  expect(ncclCommDestroy(comms[0]), 0, "ncclCommDestroy(0)");
  expect(ncclCommDestroy(comms[1]), 0, "ncclCommDestroy(1)");
  for (int r = 0; r < 2; r++) {
    cuCtxSetCurrent(ctx[r]);
    expect(cuMemFree(buf[r]), CUDA_SUCCESS, "cuMemFree buf");
    expect(cuMemFree(half[r]), CUDA_SUCCESS, "cuMemFree half");
  }
  expect(cuDevicePrimaryCtxRelease(dev[0]), CUDA_SUCCESS, "release device 0");
  expect(cuDevicePrimaryCtxRelease(dev[1]), CUDA_SUCCESS, "release device 1");
  if (failures != 0) {
    std::fprintf(stderr, "sim libs test (2 devices): %d check(s) FAILED\n", failures);
    return 1;
  }
  std::printf("kvasir-sim: fake libcuda/libnccl two-device self-test passed\n");
  return 0;
}
}  // namespace

int main() {
  const char* devices = std::getenv("KVASIR_SIM_DEVICES");
  if (devices != nullptr && std::strcmp(devices, "2") == 0) return twoDevices();
  CUdevice dev;
  int count = 0;
  expect(cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGetCount before cuInit");
  expect(cuInit(1), CUDA_ERROR_INVALID_VALUE, "cuInit with flags");
  expect(cuInit(0), CUDA_SUCCESS, "cuInit");
  expect(cuDeviceGetCount(&count), CUDA_SUCCESS, "cuDeviceGetCount");
  expect(count, 1, "device count");
  expect(cuDeviceGet(&dev, 1), CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet(1)");
  expect(cuDeviceGet(nullptr, 0), CUDA_ERROR_INVALID_VALUE, "cuDeviceGet(null)");
  expect(cuDeviceGet(&dev, 0), CUDA_SUCCESS, "cuDeviceGet(0)");
  char name[64];
  expect(cuDeviceGetName(name, sizeof name, dev), CUDA_SUCCESS, "cuDeviceGetName");
  expect(std::strcmp(name, "Kvasir CPU simulator (not a GPU)"), 0, "device name");
  int major = 0, optin = 0, warp = 0;
  cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev);
  cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev);
  expect(major, 9, "compute capability major");
  expect(optin, 232448, "opt-in shared memory");
  expect(warp, 32, "warp size");
  expect(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_MAX, dev), CUDA_ERROR_INVALID_VALUE, "attribute MAX");

  CUdeviceptr p;
  expect(cuMemAlloc(&p, 1024), CUDA_ERROR_INVALID_CONTEXT, "cuMemAlloc without a context");
  CUcontext ctx;
  expect(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS, "cuDevicePrimaryCtxRetain");
  expect(cuCtxSetCurrent(ctx), CUDA_SUCCESS, "cuCtxSetCurrent");

  size_t free0, total;
  expect(cuMemGetInfo(&free0, &total), CUDA_SUCCESS, "cuMemGetInfo");
  expect(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE, "cuMemAlloc(0)");
  expect(cuMemAlloc(&p, total + 1), CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc past the device size");
  expect(cuMemAlloc(&p, 1000), CUDA_SUCCESS, "cuMemAlloc(1000)");
  expect(static_cast<long>(p % 256), 0, "256-byte alignment");
  size_t free1;
  cuMemGetInfo(&free1, &total);
  expect(static_cast<long>(free0 - free1), 1024, "cuMemGetInfo counts the allocation (rounded to 256)");
  std::vector<float> host(300, 1.f);
  std::fprintf(stderr, "sim libs test: two range errors are expected next:\n");
  expect(cuMemcpyHtoD(p, host.data(), 1000), CUDA_SUCCESS, "cuMemcpyHtoD inside");
  expect(cuMemcpyHtoD(p + 8, host.data(), 1000), CUDA_ERROR_INVALID_VALUE, "cuMemcpyHtoD past the end");
  expect(cuMemcpyDtoH(host.data(), p + 4096 * 1024, 4), CUDA_ERROR_INVALID_VALUE, "cuMemcpyDtoH outside");

  CUstream stream;
  expect(cuStreamCreate(&stream, 0), CUDA_SUCCESS, "cuStreamCreate");
  CUmodule mod;
  const uint32_t notFatbin[4] = {0x464c457f, 0, 0, 0};
  expect(cuModuleLoadData(&mod, notFatbin), CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData(not a fatbin)");
  const uint32_t fatbin[4] = {0xBA55ED50u, 0, 0, 0};
  expect(cuModuleLoadData(&mod, fatbin), CUDA_SUCCESS, "cuModuleLoadData");
  CUfunction f;
  expect(cuModuleGetFunction(&f, mod, "kvasir_no_such_kernel"), CUDA_ERROR_NOT_FOUND, "unknown kernel");
  expect(cuModuleGetFunction(&f, mod, "kvasir_add_f32"), CUDA_SUCCESS, "kvasir_add_f32");

  // kvasir_add_f32(float* acc, const float* x, long long n): acc += x.
  CUdeviceptr a, b;
  cuMemAlloc(&a, 256 * 4);
  cuMemAlloc(&b, 256 * 4);
  std::vector<float> va(256), vb(256);
  for (int i = 0; i < 256; i++) va[i] = i, vb[i] = 2 * i;
  cuMemcpyHtoD(a, va.data(), 1024);
  cuMemcpyHtoD(b, vb.data(), 1024);
  long long n = 256;
  void* params[] = {&a, &b, &n};
  expect(cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, stream, params, nullptr), CUDA_ERROR_INVALID_VALUE, "2048 threads");
  expect(cuLaunchKernel(f, 1, 65536, 1, 256, 1, 1, 0, stream, params, nullptr), CUDA_ERROR_INVALID_VALUE, "grid y 65536");
  expect(cuLaunchKernel(f, 0, 1, 1, 256, 1, 1, 0, stream, params, nullptr), CUDA_ERROR_INVALID_VALUE, "empty grid");
  expect(cuLaunchKernel(f, 1, 1, 1, 256, 1, 1, 64 * 1024, stream, params, nullptr), CUDA_ERROR_INVALID_VALUE,
         "64 KiB shared memory without opt-in");
  expect(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 232449), CUDA_ERROR_INVALID_VALUE,
         "opt-in past the limit");
  expect(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024), CUDA_SUCCESS, "opt-in");
  expect(cuLaunchKernel(f, 1, 1, 1, 256, 1, 1, 0, stream, params, nullptr), CUDA_SUCCESS, "kvasir_add_f32 launch");
  expect(cuStreamSynchronize(stream), CUDA_SUCCESS, "cuStreamSynchronize");
  cuMemcpyDtoH(va.data(), a, 1024);
  expect(static_cast<long>(va[255]), 3 * 255, "kvasir_add_f32 result");

  // cuBLAS: column-major C (m x n) = A^T (A stored k x m) * B (k x n), f16 A/B, f32 C.
  void* h = nullptr;
  expect(cublasCreate_v2(&h), 0, "cublasCreate");
  expect(cublasSetStream_v2(h, stream), 0, "cublasSetStream");
  const int m = 3, nn = 2, k = 5;
  std::vector<uint16_t> A16(k * m), B16(k * nn);
  std::vector<float> Af(k * m), Bf(k * nn);
  for (int i = 0; i < k * m; i++) Af[i] = (i % 7) * 0.25f - 0.5f;
  for (int i = 0; i < k * nn; i++) Bf[i] = (i % 5) * 0.5f - 1.f;
  auto toHalf = [](float x) {  // exact for these values
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    if ((bits & 0x7fffffff) == 0) return static_cast<uint16_t>(bits >> 16);
    return static_cast<uint16_t>(((bits >> 16) & 0x8000) | ((((bits >> 23) & 0xff) - 112) << 10) | ((bits >> 13) & 0x3ff));
  };
  for (int i = 0; i < k * m; i++) A16[i] = toHalf(Af[i]);
  for (int i = 0; i < k * nn; i++) B16[i] = toHalf(Bf[i]);
  CUdeviceptr dA, dB, dC;
  cuMemAlloc(&dA, A16.size() * 2);
  cuMemAlloc(&dB, B16.size() * 2);
  cuMemAlloc(&dC, m * nn * 4);
  cuMemcpyHtoD(dA, A16.data(), A16.size() * 2);
  cuMemcpyHtoD(dB, B16.data(), B16.size() * 2);
  float one = 1, zero = 0;
  auto* A = reinterpret_cast<void*>(dA);
  auto* B = reinterpret_cast<void*>(dB);
  auto* C = reinterpret_cast<void*>(dC);
  expect(cublasGemmEx(h, kOpT, kOpN, m, nn, k, &one, A, CUDA_R_16F, k, B, CUDA_R_16F, k, &zero, C, CUDA_R_32F, m,
                      kCompute32F, kAlgoDefault), 0, "cublasGemmEx T,N");
  std::vector<float> Cv(m * nn);
  cuMemcpyDtoH(Cv.data(), dC, Cv.size() * 4);
  for (int j = 0; j < nn; j++)
    for (int i = 0; i < m; i++) {
      float want = 0;
      for (int p = 0; p < k; p++) want += Af[p + i * k] * Bf[p + j * k];
      if (std::fabs(Cv[i + j * m] - want) > 1e-5f) {
        std::fprintf(stderr, "sim libs test FAILED: gemm C[%d,%d] = %g, want %g\n", i, j, Cv[i + j * m], want);
        failures++;
      }
    }
  std::fprintf(stderr, "sim libs test: cuBLAS argument errors are expected next:\n");
  expect(cublasGemmEx(h, kOpT, kOpN, m, nn, k, &one, A, CUDA_R_16F, k - 1, B, CUDA_R_16F, k, &zero, C, CUDA_R_32F, m,
                      kCompute32F, kAlgoDefault), kInvalidValue, "lda < k with op T");
  expect(cublasGemmEx(h, kOpN, kOpN, m, nn, k, &one, A, CUDA_R_16F, m - 1, B, CUDA_R_16F, k, &zero, C, CUDA_R_32F, m,
                      kCompute32F, kAlgoDefault), kInvalidValue, "lda < m with op N");
  expect(cublasGemmEx(h, kOpT, kOpN, m, nn, k, &one, A, CUDA_R_16F, k, B, CUDA_R_16F, k, &zero, C, CUDA_R_32F, m - 1,
                      kCompute32F, kAlgoDefault), kInvalidValue, "ldc < m");
  expect(cublasGemmEx(h, kOpT, kOpN, m, nn, k, &one, A, CUDA_R_16F, k, B, CUDA_R_16BF, k, &zero, C, CUDA_R_32F, m,
                      kCompute32F, kAlgoDefault), kNotSupported, "mixed A/B types");
  expect(cublasGemmEx(nullptr, kOpT, kOpN, m, nn, k, &one, A, CUDA_R_16F, k, B, CUDA_R_16F, k, &zero, C, CUDA_R_32F, m,
                      kCompute32F, kAlgoDefault), kNotInitialized, "null handle");
  // B one column short of its allocation: out of bounds, an execution failure that poisons the context.
  expect(cublasGemmEx(h, kOpT, kOpN, m, nn + 1, k, &one, A, CUDA_R_16F, k, B, CUDA_R_16F, k, &zero, C, CUDA_R_32F, m,
                      kCompute32F, kAlgoDefault), 13, "B out of bounds");
  expect(cuStreamSynchronize(stream), CUDA_ERROR_ILLEGAL_ADDRESS, "sticky error after the bad GEMM");
  expect(cuMemAlloc(&p, 16), CUDA_ERROR_ILLEGAL_ADDRESS, "sticky error on cuMemAlloc");
  expect(cublasDestroy_v2(h), 0, "cublasDestroy");
  // Releasing the primary context ends the error; a new one works.
  expect(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS, "cuDevicePrimaryCtxRelease");
  expect(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS, "cuDevicePrimaryCtxRetain again");
  expect(cuCtxSetCurrent(ctx), CUDA_SUCCESS, "cuCtxSetCurrent again");
  expect(cuMemAlloc(&p, 16), CUDA_SUCCESS, "cuMemAlloc in the new context");
  expect(cuMemFree(p), CUDA_SUCCESS, "cuMemFree");
  expect(cuMemFree(p), CUDA_ERROR_INVALID_VALUE, "double cuMemFree");
  expect(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS, "cuDevicePrimaryCtxRelease again");

  if (failures != 0) {
    std::fprintf(stderr, "sim libs test: %d check(s) FAILED\n", failures);
    return 1;
  }
  std::printf("kvasir-sim: fake libcuda/libcublas self-test passed\n");
  return 0;
}
