// A fake cuBLAS (libcublas.so.13) for the Kvasir CPU simulator: the cuBLAS calls the Java CUDA
// backend makes (kernels/src/main/java/dev/kvasir/kernels/cuda/Cublas.java), implemented on the host
// per the cuBLAS documentation, so that CI tests the Java side's transposes, m/n/k, leading
// dimensions and data types. THIS IS NOT cuBLAS: no tensor cores, no algorithm selection; the
// GEMM accumulates in f32 in its own order and rounds C to its type once, round-to-nearest-even.
//
// The CUDA install on the CI machines has no cuBLAS headers, so the few declarations below are
// written out here with cuBLAS 13's exact symbol names (cublas_v2.h maps cublasCreate to
// cublasCreate_v2 etc.; libjnicublas.so references exactly these) and enum values (checked against
// org.bytedeco.cuda.global.cublas's constants). libjnicublas.so asks for them at version
// "libcublas.so.13", which build-sim-libs.sh's version script defines.
//
// Device operands are checked against the fake driver's live allocations (kvasir_sim_check_device_range
// in sim/driver.cpp): an operand that does not fit in its allocation fails the call with
// CUBLAS_STATUS_EXECUTION_FAILED and makes the context's error sticky (CUDA_ERROR_ILLEGAL_ADDRESS),
// which is what a real out-of-bounds GEMM would do at the next synchronisation.
#include "fp16.h"
#include <cuda.h>
#include <library_types.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <mutex>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

extern "C" {

typedef enum {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16
} cublasStatus_t;

typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2, CUBLAS_OP_CONJG = 3 } cublasOperation_t;

typedef enum {
  CUBLAS_COMPUTE_16F = 64,
  CUBLAS_COMPUTE_16F_PEDANTIC = 65,
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_PEDANTIC = 69,
  CUBLAS_COMPUTE_32F_FAST_16F = 74,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
} cublasComputeType_t;

typedef enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 } cublasPointerMode_t;
typedef int cublasGemmAlgo_t;  // CUBLAS_GEMM_DEFAULT = -1, 0..23, CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99, 100..115

struct cublasContext;
typedef struct cublasContext* cublasHandle_t;

// In sim/driver.cpp (libcuda.so.1).
int kvasir_sim_check_device_range(const char* call, const char* which, const void* p, size_t bytes);
void kvasir_sim_fail_context(int error);

}  // extern "C"

struct cublasContext {
  CUstream stream = nullptr;
  cublasPointerMode_t pointerMode = CUBLAS_POINTER_MODE_HOST;
};

namespace {

std::mutex mu;
std::set<cublasContext*> handles;

bool live(cublasHandle_t h) {
  std::lock_guard<std::mutex> lock(mu);
  return h != nullptr && handles.count(h) != 0;
}





size_t typeBytes(cudaDataType t) { return t == CUDA_R_32F ? 4 : 2; }

float load(const void* base, size_t index, cudaDataType t) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(base)[index];
    case CUDA_R_16F: return kvsim_fp::f16_to_f32(static_cast<const uint16_t*>(base)[index]);
    default: return kvsim_fp::bf16_to_f32(static_cast<const uint16_t*>(base)[index]);
  }
}

void store(void* base, size_t index, cudaDataType t, float v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(base)[index] = v; break;
    case CUDA_R_16F: static_cast<uint16_t*>(base)[index] = kvsim_fp::f32_to_f16(v); break;
    default: static_cast<uint16_t*>(base)[index] = kvsim_fp::f32_to_bf16(v); break;
  }
}

// Bytes spanned by a column-major rows x cols operand with leading dimension ld.
size_t span(int64_t rows, int64_t cols, int64_t ld, cudaDataType t) {
  if (rows == 0 || cols == 0) return 0;
  return static_cast<size_t>((cols - 1) * ld + rows) * typeBytes(t);
}

// Four dot products of length k4 (a multiple of 4) of rows a0..a3 with b.
inline void dot4(const float* a0, const float* a1, const float* a2, const float* a3, const float* b, int64_t k4,
                 float out[4]) {
#if defined(__SSE2__)
  __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(), s3 = _mm_setzero_ps();
  for (int64_t p = 0; p < k4; p += 4) {
    __m128 bv = _mm_loadu_ps(b + p);
    s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a0 + p), bv));
    s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a1 + p), bv));
    s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(a2 + p), bv));
    s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(a3 + p), bv));
  }
  alignas(16) float t[4][4];
  _mm_store_ps(t[0], s0);
  _mm_store_ps(t[1], s1);
  _mm_store_ps(t[2], s2);
  _mm_store_ps(t[3], s3);
  for (int r = 0; r < 4; r++) out[r] = (t[r][0] + t[r][1]) + (t[r][2] + t[r][3]);
#else
  const float* a[4] = {a0, a1, a2, a3};
  for (int r = 0; r < 4; r++) {
    float s[4] = {0, 0, 0, 0};
    for (int64_t p = 0; p < k4; p += 4)
      for (int l = 0; l < 4; l++) s[l] += a[r][p + l] * b[p + l];
    out[r] = (s[0] + s[1]) + (s[2] + s[3]);
  }
#endif
}

// C = alpha op(A) op(B) + beta C in f32, column-major, already validated.
void gemm(cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n, int64_t k, float alpha, const void* A,
          cudaDataType at, int64_t lda, const void* B, cudaDataType bt, int64_t ldb, float beta, void* C,
          cudaDataType ct, int64_t ldc) {
  auto finish = [&](int64_t i, int64_t j, float acc) {
    size_t c = static_cast<size_t>(i + j * ldc);
    float v = alpha * acc;
    if (beta != 0) v += beta * load(C, c, ct);  // beta == 0: C is not read (it may hold NaN)
    store(C, c, ct, v);
  };
  if (k == 0 || alpha == 0) {
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i < m; i++) finish(i, j, 0);
    return;
  }
  const int64_t k4 = (k + 3) / 4 * 4;
  // op(B) as n rows of k floats, converted once.
  std::vector<float> bp(static_cast<size_t>(n * k4), 0.f);
  for (int64_t j = 0; j < n; j++)
    for (int64_t p = 0; p < k; p++)
      bp[j * k4 + p] = load(B, static_cast<size_t>(tb == CUBLAS_OP_N ? p + j * ldb : j + p * ldb), bt);
  // op(A) in panels of rows, converted once per panel.
  constexpr int64_t kPanel = 64;
  std::vector<float> ap(static_cast<size_t>(kPanel * k4), 0.f);
  for (int64_t i0 = 0; i0 < m; i0 += kPanel) {
    int64_t rows = std::min(kPanel, m - i0);
    for (int64_t r = 0; r < rows; r++) {
      float* dst = &ap[r * k4];
      int64_t i = i0 + r;
      if (ta == CUBLAS_OP_N) {
        for (int64_t p = 0; p < k; p++) dst[p] = load(A, static_cast<size_t>(i + p * lda), at);
      } else if (at == CUDA_R_32F) {
        std::memcpy(dst, static_cast<const float*>(A) + i * lda, static_cast<size_t>(k) * 4);
      } else {
        const auto* src = static_cast<const uint16_t*>(A) + i * lda;
        if (at == CUDA_R_16F) {
          for (int64_t p = 0; p < k; p++) dst[p] = kvsim_fp::f16_to_f32(src[p]);
        } else {
          for (int64_t p = 0; p < k; p++) dst[p] = kvsim_fp::bf16_to_f32(src[p]);
        }
      }
    }
    for (int64_t r = rows; r < kPanel && r < ((rows + 3) / 4) * 4; r++) std::fill_n(&ap[r * k4], k4, 0.f);
    for (int64_t j = 0; j < n; j++) {
      const float* b = &bp[j * k4];
      for (int64_t r = 0; r < rows; r += 4) {
        float out[4];
        dot4(&ap[r * k4], &ap[(r + 1) * k4], &ap[(r + 2) * k4], &ap[(r + 3) * k4], b, k4, out);
        for (int64_t q = 0; q < 4 && r + q < rows; q++) finish(i0 + r + q, j, out[q]);
      }
    }
  }
}

const char* opName(cublasOperation_t op) {
  switch (op) {
    case CUBLAS_OP_N: return "N";
    case CUBLAS_OP_T: return "T";
    case CUBLAS_OP_C: return "C";
    default: return "?";
  }
}

cublasStatus_t gemmEx(const char* call, cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                      int64_t m, int64_t n, int64_t k, const void* alpha, const void* A, cudaDataType Atype,
                      int64_t lda, const void* B, cudaDataType Btype, int64_t ldb, const void* beta, void* C,
                      cudaDataType Ctype, int64_t ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  auto invalid = [&](const char* why) {
    std::fprintf(stderr,
                 "kvasir-sim: %s(%s, %s, m=%lld, n=%lld, k=%lld, lda=%lld, ldb=%lld, ldc=%lld): %s -> "
                 "CUBLAS_STATUS_INVALID_VALUE\n",
                 call, opName(transa), opName(transb), static_cast<long long>(m), static_cast<long long>(n),
                 static_cast<long long>(k), static_cast<long long>(lda), static_cast<long long>(ldb),
                 static_cast<long long>(ldc), why);
    return CUBLAS_STATUS_INVALID_VALUE;
  };
  if (transa != CUBLAS_OP_N && transa != CUBLAS_OP_T && transa != CUBLAS_OP_C) return invalid("bad transa");
  if (transb != CUBLAS_OP_N && transb != CUBLAS_OP_T && transb != CUBLAS_OP_C) return invalid("bad transb");
  if (m < 0 || n < 0 || k < 0) return invalid("negative size");
  if (lda < std::max<int64_t>(1, transa == CUBLAS_OP_N ? m : k)) return invalid("lda < max(1, transa == N ? m : k)");
  if (ldb < std::max<int64_t>(1, transb == CUBLAS_OP_N ? k : n)) return invalid("ldb < max(1, transb == N ? k : n)");
  if (ldc < std::max<int64_t>(1, m)) return invalid("ldc < max(1, m)");
  if (!((algo >= -1 && algo <= 23) || (algo >= 99 && algo <= 115))) return invalid("unknown algorithm");
  if (alpha == nullptr || beta == nullptr) return invalid("alpha or beta is null");

  // The type combinations cuBLAS's cublasGemmEx supports for these compute types (real types only).
  bool supported = false, halfScale = false;
  switch (computeType) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
      supported = Atype == Btype && ((Atype == CUDA_R_32F && Ctype == CUDA_R_32F) ||
                                     (Atype == CUDA_R_16F && (Ctype == CUDA_R_16F || Ctype == CUDA_R_32F)) ||
                                     (Atype == CUDA_R_16BF && (Ctype == CUDA_R_16BF || Ctype == CUDA_R_32F)));
      break;
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:  // simulated as plain f32
      supported = Atype == CUDA_R_32F && Btype == CUDA_R_32F && Ctype == CUDA_R_32F;
      break;
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:  // simulated with f32 accumulation
      supported = Atype == CUDA_R_16F && Btype == CUDA_R_16F && Ctype == CUDA_R_16F;
      halfScale = true;
      break;
    default:
      break;
  }
  if (!supported) {
    std::fprintf(stderr,
                 "kvasir-sim: %s: compute type %d with A type %d, B type %d, C type %d is not a combination cuBLAS "
                 "supports (or not one the simulator implements) -> CUBLAS_STATUS_NOT_SUPPORTED\n",
                 call, static_cast<int>(computeType), static_cast<int>(Atype), static_cast<int>(Btype),
                 static_cast<int>(Ctype));
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (handle->pointerMode != CUBLAS_POINTER_MODE_HOST) {
    std::fprintf(stderr, "kvasir-sim: %s: device pointer mode is not simulated\n", call);
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  float a = halfScale ? kvsim_fp::f16_to_f32(*static_cast<const uint16_t*>(alpha)) : *static_cast<const float*>(alpha);
  float b = halfScale ? kvsim_fp::f16_to_f32(*static_cast<const uint16_t*>(beta)) : *static_cast<const float*>(beta);
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;

  int64_t aRows = transa == CUBLAS_OP_N ? m : k, aCols = transa == CUBLAS_OP_N ? k : m;
  int64_t bRows = transb == CUBLAS_OP_N ? k : n, bCols = transb == CUBLAS_OP_N ? n : k;
  bool readsAB = k > 0 && a != 0;
  if ((readsAB && (!kvasir_sim_check_device_range(call, "A", A, span(aRows, aCols, lda, Atype)) ||
                   !kvasir_sim_check_device_range(call, "B", B, span(bRows, bCols, ldb, Btype)))) ||
      !kvasir_sim_check_device_range(call, "C", C, span(m, n, ldc, Ctype))) {
    std::fprintf(stderr, "kvasir-sim: %s(%s, %s, m=%lld, n=%lld, k=%lld, lda=%lld, ldb=%lld, ldc=%lld): operand out of "
                 "bounds -> CUBLAS_STATUS_EXECUTION_FAILED, context error CUDA_ERROR_ILLEGAL_ADDRESS\n",
                 call, opName(transa), opName(transb), static_cast<long long>(m), static_cast<long long>(n),
                 static_cast<long long>(k), static_cast<long long>(lda), static_cast<long long>(ldb),
                 static_cast<long long>(ldc));
    kvasir_sim_fail_context(CUDA_ERROR_ILLEGAL_ADDRESS);
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  // Real types only, so CUBLAS_OP_C is CUBLAS_OP_T.
  gemm(transa == CUBLAS_OP_N ? CUBLAS_OP_N : CUBLAS_OP_T, transb == CUBLAS_OP_N ? CUBLAS_OP_N : CUBLAS_OP_T, m, n, k,
       a, A, Atype, lda, B, Btype, ldb, b, C, Ctype, ldc);
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  auto* h = new cublasContext();
  std::lock_guard<std::mutex> lock(mu);
  handles.insert(h);
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  std::lock_guard<std::mutex> lock(mu);
  if (handle == nullptr || handles.erase(handle) == 0) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, CUstream streamId) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, CUstream* streamId) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (streamId == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *streamId = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (!live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE) return CUBLAS_STATUS_INVALID_VALUE;
  handle->pointerMode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
  }
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "an error was detected when checking the current licensing";
    default: return "unknown error";
  }
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  return gemmEx("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype,
                ldc, computeType, algo);
}

cublasStatus_t cublasGemmEx_64(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int64_t m,
                               int64_t n, int64_t k, const void* alpha, const void* A, cudaDataType Atype, int64_t lda,
                               const void* B, cudaDataType Btype, int64_t ldb, const void* beta, void* C,
                               cudaDataType Ctype, int64_t ldc, cublasComputeType_t computeType,
                               cublasGemmAlgo_t algo) {
  return gemmEx("cublasGemmEx_64", handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C,
                Ctype, ldc, computeType, algo);
}

}  // extern "C"
