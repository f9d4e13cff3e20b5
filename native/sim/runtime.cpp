// Kvasir CUDA simulator: the CUDA runtime API subset of include/cuda_runtime.h, for the kernel
// test harness. Device memory is host memory (256-byte aligned, filled with 0xff bytes when
// allocated, as garbage would be); copies and launches are synchronous; a "library" is the set of
// kernels linked into the binary, whatever image it is given; events read the wall clock.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "include/cuda_runtime.h"
#include "kvsim.h"

namespace {

struct State {
  std::mutex mutex;
  cudaError_t last = cudaSuccess;
  std::string message;  // the simulator's description of the last failure that has one
  cudaError_t message_code = cudaSuccess;
  std::map<const void*, int> max_dynamic_smem;  // cudaFuncAttributeMaxDynamicSharedMemorySize per kernel
};
State& state() {
  static State* s = new State;
  return *s;
}

cudaError_t fail(cudaError_t e, const std::string& message = {}) {
  State& s = state();
  s.last = e;
  if (!message.empty()) {
    s.message = message;
    s.message_code = e;
  }
  return e;
}

struct Event {
  std::chrono::steady_clock::time_point t;
  bool recorded = false;
};

constexpr size_t kDefaultDynamicSmem = 48 * 1024;
constexpr char kLibraryToken = 0;  // every library handle points here: the linked-in kernels

}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return fail(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (prop == nullptr || device != 0) return fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "%s", "Kvasir CPU simulator (not a GPU)");
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  prop->totalGlobalMem = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  prop->sharedMemPerBlock = kDefaultDynamicSmem;
  prop->sharedMemPerBlockOptin = kvsim::max_dynamic_smem();
  prop->regsPerBlock = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaGetLastError(void) {
  State& s = state();
  const cudaError_t e = s.last;
  s.last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return state().last; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorSymbolNotFound: return "cudaErrorSymbolNotFound";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  State& s = state();
  if (error != cudaSuccess && error == s.message_code && !s.message.empty()) {
    return s.message.c_str();
  }
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorSymbolNotFound: return "named symbol not found";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
  }
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  void* p = ::operator new(size == 0 ? 1 : size, std::align_val_t(256), std::nothrow);
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  std::memset(p, 0xff, size);
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr != nullptr) ::operator delete(ptr, std::align_val_t(256));
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind) {
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return fail(cudaErrorInvalidValue);
  std::memmove(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, count, kind);
}
cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  if (count == 0) return cudaSuccess;
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  std::memset(ptr, value, count);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t) { return cudaMemset(ptr, value, count); }

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (event == nullptr) return fail(cudaErrorInvalidValue);
  *event = reinterpret_cast<cudaEvent_t>(new Event);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete reinterpret_cast<Event*>(event);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  Event* e = reinterpret_cast<Event*>(event);
  e->t = std::chrono::steady_clock::now();
  e->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event == nullptr ? fail(cudaErrorInvalidResourceHandle) : cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  const Event* a = reinterpret_cast<const Event*>(start);
  const Event* b = reinterpret_cast<const Event*>(end);
  if (ms == nullptr || a == nullptr || b == nullptr || !a->recorded || !b->recorded) {
    return fail(cudaErrorInvalidResourceHandle);
  }
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

cudaError_t cudaLibraryLoadData(cudaLibrary_t* library, const void*, cudaJitOption*, void**, unsigned int,
                                cudaLibraryOption*, void**, unsigned int) {
  if (library == nullptr) return fail(cudaErrorInvalidValue);
  *library = reinterpret_cast<cudaLibrary_t>(const_cast<char*>(&kLibraryToken));
  return cudaSuccess;
}
cudaError_t cudaLibraryUnload(cudaLibrary_t) { return cudaSuccess; }

cudaError_t cudaLibraryGetKernel(cudaKernel_t* kernel, cudaLibrary_t library, const char* name) {
  if (kernel == nullptr || name == nullptr) return fail(cudaErrorInvalidValue);
  if (library != reinterpret_cast<cudaLibrary_t>(const_cast<char*>(&kLibraryToken))) {
    return fail(cudaErrorInvalidResourceHandle);
  }
  const kvsim::KernelEntry* entry = kvsim::find_kernel(name);
  if (entry == nullptr) {
    return fail(cudaErrorSymbolNotFound, std::string("kvsim: no kernel named ") + name + " in native/src");
  }
  *kernel = reinterpret_cast<cudaKernel_t>(const_cast<kvsim::KernelEntry*>(entry));
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (func == nullptr) return fail(cudaErrorInvalidResourceHandle);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > kvsim::max_dynamic_smem()) return fail(cudaErrorInvalidValue);
    state().max_dynamic_smem[func] = value;
  }
  return cudaSuccess;
}

cudaError_t cudaLaunchKernel(const void* func, dim3 grid, dim3 block, void** args, size_t shared_mem, cudaStream_t) {
  if (func == nullptr) return fail(cudaErrorInvalidResourceHandle);
  const kvsim::KernelEntry& entry = *static_cast<const kvsim::KernelEntry*>(func);
  State& s = state();
  size_t limit = kDefaultDynamicSmem;
  auto it = s.max_dynamic_smem.find(func);
  if (it != s.max_dynamic_smem.end() && static_cast<size_t>(it->second) > limit) limit = it->second;
  if (shared_mem > limit) {
    return fail(cudaErrorInvalidValue, std::string("kvsim: launch of ") + entry.name + " with " +
                                           std::to_string(shared_mem) + " bytes of dynamic shared memory, more than " +
                                           std::to_string(limit) +
                                           " (above 48 KiB needs cudaFuncAttributeMaxDynamicSharedMemorySize)");
  }
  const std::string error =
      kvsim::launch(entry, kvsim::Dim3{grid.x, grid.y, grid.z}, kvsim::Dim3{block.x, block.y, block.z}, shared_mem, args);
  if (!error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return fail(cudaErrorLaunchFailure, error);
  }
  return cudaSuccess;
}
