// A fake CUDA driver (libcuda.so.1) for the Kvasir CPU simulator: the driver API calls the Java CUDA
// backend makes (kernels/src/main/java/dev/kvasir/kernels/cuda), implemented on the host so that the
// Java side's argument marshalling, sizes, kernel names and launch shapes are tested in CI, where
// there is no GPU. Kernels run through kvsim::launch (sim/kvsim.h) on the CPU.
//
// THIS IS NOT A GPU. The device it reports is named "Kvasir CPU simulator (not a GPU)". It is built
// only into native/target/sim/lib by native/scripts/build-sim-libs.sh and put on LD_LIBRARY_PATH only
// by the cuda-sim Surefire executions; scripts/gpu-check and scripts/kvasir never see it.
//
// What it models of the real driver:
//   * CUDA_ERROR_NOT_INITIALIZED before cuInit, CUDA_ERROR_INVALID_VALUE for null outputs and bad
//     arguments, CUDA_ERROR_INVALID_CONTEXT without a current context, CUDA_ERROR_INVALID_HANDLE for
//     unknown streams, modules and functions, CUDA_ERROR_NOT_FOUND for a kernel name the module lacks;
//   * device memory: real host memory, 256-byte aligned, counted against a simulated device size
//     (8 GiB, or env KVASIR_SIM_DEVICE_BYTES) -> CUDA_ERROR_OUT_OF_MEMORY beyond it; cuMemGetInfo
//     reports what is allocated;
//   * KVASIR_SIM_DEVICES=N (default 1, at most 16) devices, all named as above, each with its own
//     primary context, memory accounting, modules and streams (one address space, as with unified
//     addressing); a stream used while another device's context is current is
//     CUDA_ERROR_INVALID_HANDLE. The fake NCCL (sim/nccl.cpp) checks its buffers against the
//     devices' allocations through kvasir_sim_check_device_range_on;
//   * every copy and memset checks that its device range lies inside ONE live allocation, and says
//     on stderr why not (CUDA_ERROR_INVALID_VALUE): this is what catches size bugs on the Java side;
//   * launch shapes (block <= 1024 threads, 1024 x 1024 x 64; grid y, z <= 65535; no zero
//     dimension), dynamic shared memory above 48 KiB only after cuFuncSetAttribute opt-in, and
//     never above the opt-in limit 232448 (an H100's);
//   * a kernel that fails in the simulator (barrier divergence, bad shuffle, ...) gives
//     CUDA_ERROR_LAUNCH_FAILED with the simulator's message on stderr, and the error is sticky:
//     every later call in the context returns it, as on a real GPU.
// What it does not model: asynchrony (streams run synchronously), timing, real memory protection
// (an out-of-bounds access inside a kernel is not caught here), peer access rules (any device's
// memory is reachable from any context), concurrency between devices.
#include <cuda.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kvsim.h"

namespace {

constexpr const char* kDeviceName = "Kvasir CPU simulator (not a GPU)";
constexpr int kDriverVersion = 13000;
constexpr size_t kAlign = 256;
constexpr int kDefaultSmem = 48 * 1024;
constexpr int kOptInSmem = 232448;
constexpr int kStaticSmemPerFunction = 0;  // the simulator does not know a kernel's static shared memory
constexpr int kMaxDevices = 16;

struct Allocation {
  size_t size;
  bool host;  // pinned host memory from cuMemHostAlloc, else device memory
  int device;  // the device whose context allocated it
};

struct Function;

struct Module {
  int device;
  std::map<std::string, Function*> functions;
};

struct Function {
  const kvsim::KernelEntry* entry;
  Module* module;
  int maxDynamicSmem = kDefaultSmem;
};

struct Stream {
  unsigned flags;
  int device;
};

struct Context {
  int refs = 0;
  bool alive = false;
  CUresult sticky = CUDA_SUCCESS;
  int device = 0;
  size_t used = 0;  // device memory allocated in it (rounded), against deviceBytes()
};

std::recursive_mutex mu;
bool initialized = false;
Context primaries[kMaxDevices];  // each device's primary context; its handle is &primaries[device]
thread_local CUcontext current = nullptr;
std::map<uintptr_t, Allocation> allocations;  // by start address, every device's
std::set<Module*> modules;
std::set<Function*> functions;
std::set<Stream*> streams;

size_t deviceBytes() {
  static size_t bytes = [] {
    const char* env = std::getenv("KVASIR_SIM_DEVICE_BYTES");
    if (env != nullptr && *env != 0) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(env, &end, 10);
      if (end != nullptr && *end == 0 && v > 0) return static_cast<size_t>(v);
      std::fprintf(stderr, "kvasir-sim: ignoring KVASIR_SIM_DEVICE_BYTES=%s (not a positive byte count)\n", env);
    }
    return static_cast<size_t>(8) << 30;
  }();
  return bytes;
}

// KVASIR_SIM_DEVICES: how many devices the driver reports (1 unless set).
int deviceCount() {
  static int count = [] {
    const char* env = std::getenv("KVASIR_SIM_DEVICES");
    if (env != nullptr && *env != 0) {
      char* end = nullptr;
      long v = std::strtol(env, &end, 10);
      if (end != nullptr && *end == 0 && v >= 1 && v <= kMaxDevices) return static_cast<int>(v);
      std::fprintf(stderr, "kvasir-sim: ignoring KVASIR_SIM_DEVICES=%s (not a device count from 1 to %d)\n", env,
                   kMaxDevices);
    }
    return 1;
  }();
  return count;
}

bool validDevice(CUdevice dev) { return dev >= 0 && dev < deviceCount(); }

Context* currentContext() { return reinterpret_cast<Context*>(current); }

size_t rounded(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// The allocation holding address p, or end() when none does.
std::map<uintptr_t, Allocation>::iterator containing(uintptr_t p) {
  auto it = allocations.upper_bound(p);
  if (it == allocations.begin()) return allocations.end();
  --it;
  if (p >= it->first && p < it->first + it->second.size) return it;
  return allocations.end();
}

// Checks that [p, p + bytes) lies inside one live allocation (a device one unless host is allowed).
bool checkRange(const char* call, const char* which, uintptr_t p, size_t bytes, bool allowHost) {
  if (bytes == 0) return true;
  auto it = containing(p);
  if (it == allocations.end()) {
    std::fprintf(stderr, "kvasir-sim: %s: %s 0x%llx (%zu bytes) is not in any live device allocation\n", call, which,
                 static_cast<unsigned long long>(p), bytes);
    return false;
  }
  if (it->second.host && !allowHost) {
    std::fprintf(stderr, "kvasir-sim: %s: %s 0x%llx is pinned host memory, not device memory\n", call, which,
                 static_cast<unsigned long long>(p));
    return false;
  }
  size_t offset = p - it->first;
  if (bytes > it->second.size - offset) {
    std::fprintf(stderr,
                 "kvasir-sim: %s: %s range 0x%llx + %zu bytes runs past the end of its allocation of %zu bytes at "
                 "0x%llx (offset %zu, %zu bytes over)\n",
                 call, which, static_cast<unsigned long long>(p), bytes, it->second.size,
                 static_cast<unsigned long long>(it->first), offset, bytes - (it->second.size - offset));
    return false;
  }
  return true;
}

// For generic copies (unified addressing): a pointer inside an allocation must fit in it; a
// pointer outside every allocation is pageable host memory, which the real driver also accepts.
bool checkGeneric(const char* call, const char* which, uintptr_t p, size_t bytes) {
  if (bytes == 0) return true;
  if (p == 0) {
    std::fprintf(stderr, "kvasir-sim: %s: %s is a null pointer\n", call, which);
    return false;
  }
  if (containing(p) == allocations.end()) {
    // A range that starts in host memory but reaches into an allocation is still a bug.
    auto next = allocations.upper_bound(p);
    if (next != allocations.end() && next->first < p + bytes) {
      std::fprintf(stderr, "kvasir-sim: %s: %s range 0x%llx + %zu bytes straddles the allocation at 0x%llx\n", call,
                   which, static_cast<unsigned long long>(p), bytes, static_cast<unsigned long long>(next->first));
      return false;
    }
    return true;
  }
  return checkRange(call, which, p, bytes, true);
}

// The common prologue of a call that needs an initialised driver and a current, healthy context.
CUresult needContext() {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  auto* c = reinterpret_cast<Context*>(current);
  if (!c->alive) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  if (c->sticky != CUDA_SUCCESS) return c->sticky;
  return CUDA_SUCCESS;
}

CUresult needStream(CUstream s) {
  if (s == nullptr || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) return CUDA_SUCCESS;
  auto* st = reinterpret_cast<Stream*>(s);
  if (streams.count(st) == 0) {
    std::fprintf(stderr, "kvasir-sim: unknown or destroyed stream %p\n", static_cast<void*>(s));
    return CUDA_ERROR_INVALID_HANDLE;
  }
  if (current != nullptr && st->device != currentContext()->device) {
    std::fprintf(stderr, "kvasir-sim: stream %p belongs to device %d's context, but device %d's is current\n",
                 static_cast<void*>(s), st->device, currentContext()->device);
    return CUDA_ERROR_INVALID_HANDLE;
  }
  return CUDA_SUCCESS;
}

void destroyPrimary(int dev) {
  Context& primary = primaries[dev];
  size_t device = 0, host = 0, bytes = 0;
  for (auto it = allocations.begin(); it != allocations.end();) {
    if (it->second.device != dev) {
      ++it;
      continue;
    }
    (it->second.host ? host : device)++;
    bytes += it->second.size;
    std::free(reinterpret_cast<void*>(it->first));
    it = allocations.erase(it);
  }
  if (device + host != 0) {
    std::fprintf(stderr,
                 "kvasir-sim: the primary context of device %d was released with %zu device and %zu pinned host "
                 "allocations (%zu bytes) still live; freed them as the driver does\n",
                 dev, device, host, bytes);
  }
  primary.used = 0;
  for (auto it = functions.begin(); it != functions.end();) {
    if ((*it)->module->device == dev) {
      delete *it;
      it = functions.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = modules.begin(); it != modules.end();) {
    if ((*it)->device == dev) {
      delete *it;
      it = modules.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = streams.begin(); it != streams.end();) {
    if ((*it)->device == dev) {
      delete *it;
      it = streams.erase(it);
    } else {
      ++it;
    }
  }
  primary.alive = false;
  primary.sticky = CUDA_SUCCESS;
}

struct ErrorText {
  CUresult code;
  const char* name;
  const char* text;
};

const ErrorText kErrors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_CONTEXT_IS_DESTROYED, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const ErrorText* findError(CUresult e) {
  for (const ErrorText& t : kErrors)
    if (t.code == e) return &t;
  return nullptr;
}

int attribute(CUdevice_attribute a) {
  switch (a) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return kDefaultSmem;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return 1980000;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: return 512;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: return 1;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return 132;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: return 0;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: return 0;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: return CU_COMPUTEMODE_DEFAULT;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: return 1;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: return 0;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return 2619000;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: return 5120;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: return 50 * 1024 * 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return 2048;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return 2;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return 9;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return 0;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: return 233472;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: return 65536;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: return 1;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: return 0;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: return 1;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: return kOptInSmem;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: return 32;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: return 1;
    default: return 0;
  }
}

}  // namespace

// Lets the fake cuBLAS (sim/cublas.cpp) check its operands the way copies are checked, and make an
// illegal access sticky like a real one. Not part of the CUDA API.
extern "C" int kvasir_sim_check_device_range(const char* call, const char* which, const void* p, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  return checkRange(call, which, reinterpret_cast<uintptr_t>(p), bytes, false) ? 1 : 0;
}

extern "C" void kvasir_sim_fail_context(int error) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  Context* c = current != nullptr ? currentContext() : &primaries[0];
  if (c->alive && c->sticky == CUDA_SUCCESS) c->sticky = static_cast<CUresult>(error);
}

// For the fake NCCL (sim/nccl.cpp): the number of devices, and a range check that also requires the
// allocation to belong to the given device (a communicator's rank). Not part of the CUDA API.
extern "C" int kvasir_sim_device_count(void) { return deviceCount(); }

extern "C" int kvasir_sim_check_device_range_on(int device, const char* call, const char* which, const void* p,
                                                size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  auto at = reinterpret_cast<uintptr_t>(p);
  if (!checkRange(call, which, at, bytes, false)) return 0;
  if (bytes == 0) return 1;
  int owner = containing(at)->second.device;
  if (owner != device) {
    std::fprintf(stderr, "kvasir-sim: %s: %s %p is memory of device %d, but the communicator's rank is on device %d\n",
                 call, which, p, owner, device);
    return 0;
  }
  return 1;
}

extern "C" {

CUresult CUDAAPI cuGetErrorName(CUresult error, const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* t = findError(error);
  *pStr = t == nullptr ? nullptr : t->name;
  return t == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* t = findError(error);
  *pStr = t == nullptr ? nullptr : t->text;
  return t == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult CUDAAPI cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::recursive_mutex> lock(mu);
  for (int d = 0; d < kMaxDevices; d++) primaries[d].device = d;
  initialized = true;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int* driverVersion) {
  if (driverVersion == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *driverVersion = kDriverVersion;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int* count) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = deviceCount();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice* device, int ordinal) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!validDevice(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (!validDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  std::strncpy(name, kDeviceName, static_cast<size_t>(len) - 1);
  name[len - 1] = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!validDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  if (attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX) return CUDA_ERROR_INVALID_VALUE;
  *pi = attribute(attrib);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceTotalMem(size_t* bytes, CUdevice dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!validDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *bytes = deviceBytes();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!validDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::recursive_mutex> lock(mu);
  Context& primary = primaries[dev];
  if (primary.refs++ == 0) {
    primary.alive = true;
    primary.sticky = CUDA_SUCCESS;
  }
  *pctx = reinterpret_cast<CUcontext>(&primary);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (!validDevice(dev)) return CUDA_ERROR_INVALID_DEVICE;
  std::lock_guard<std::recursive_mutex> lock(mu);
  Context& primary = primaries[dev];
  if (primary.refs == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--primary.refs == 0) destroyPrimary(dev);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  auto* c = reinterpret_cast<Context*>(ctx);
  if (ctx != nullptr && (c < primaries || c >= primaries + deviceCount())) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx != nullptr && !c->alive) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  current = ctx;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext* pctx) {
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = current;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  return needContext();
}

// ---- memory ----

CUresult CUDAAPI cuMemGetInfo(size_t* free, size_t* total) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *total = deviceBytes();
  *free = deviceBytes() - currentContext()->used;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAlloc(CUdeviceptr* dptr, size_t bytesize) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  size_t size = rounded(bytesize);
  Context* c = currentContext();
  if (size > deviceBytes() - c->used) return CUDA_ERROR_OUT_OF_MEMORY;
  void* p = std::aligned_alloc(kAlign, size);
  if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  // Fresh device memory holds garbage, not zeros: NaN bytes, so a read before a write shows.
  std::memset(p, 0xff, size);
  allocations[reinterpret_cast<uintptr_t>(p)] = Allocation{bytesize, false, c->device};
  c->used += size;
  *dptr = reinterpret_cast<CUdeviceptr>(p);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr dptr) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (dptr == 0) return CUDA_SUCCESS;
  auto it = allocations.find(static_cast<uintptr_t>(dptr));
  if (it == allocations.end() || it->second.host) {
    std::fprintf(stderr, "kvasir-sim: cuMemFree(0x%llx): not the start of a live device allocation\n",
                 static_cast<unsigned long long>(dptr));
    return CUDA_ERROR_INVALID_VALUE;
  }
  primaries[it->second.device].used -= rounded(it->second.size);
  std::free(reinterpret_cast<void*>(it->first));
  allocations.erase(it);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostAlloc(void** pp, size_t bytesize, unsigned int flags) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (pp == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED)) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  void* p = std::aligned_alloc(4096, (bytesize + 4095) / 4096 * 4096);
  if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  allocations[reinterpret_cast<uintptr_t>(p)] = Allocation{bytesize, true, currentContext()->device};
  *pp = p;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost(void** pp, size_t bytesize) { return cuMemHostAlloc(pp, bytesize, 0); }

CUresult CUDAAPI cuMemFreeHost(void* p) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  auto it = allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == allocations.end() || !it->second.host) {
    std::fprintf(stderr, "kvasir-sim: cuMemFreeHost(%p): not the start of a live pinned host allocation\n", p);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::free(p);
  allocations.erase(it);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (ByteCount == 0) return CUDA_SUCCESS;
  if (srcHost == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!checkRange("cuMemcpyHtoD", "destination", dstDevice, ByteCount, false)) return CUDA_ERROR_INVALID_VALUE;
  std::memmove(reinterpret_cast<void*>(dstDevice), srcHost, ByteCount);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoH(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (ByteCount == 0) return CUDA_SUCCESS;
  if (dstHost == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!checkRange("cuMemcpyDtoH", "source", srcDevice, ByteCount, false)) return CUDA_ERROR_INVALID_VALUE;
  std::memmove(dstHost, reinterpret_cast<const void*>(srcDevice), ByteCount);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (ByteCount == 0) return CUDA_SUCCESS;
  if (!checkRange("cuMemcpyDtoD", "destination", dstDevice, ByteCount, false) ||
      !checkRange("cuMemcpyDtoD", "source", srcDevice, ByteCount, false))
    return CUDA_ERROR_INVALID_VALUE;
  std::memmove(reinterpret_cast<void*>(dstDevice), reinterpret_cast<const void*>(srcDevice), ByteCount);
  return CUDA_SUCCESS;
}

}  // extern "C"

static CUresult genericCopy(const char* call, CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (CUresult r = needStream(stream)) return r;
  if (bytes == 0) return CUDA_SUCCESS;
  if (!checkGeneric(call, "destination", dst, bytes) || !checkGeneric(call, "source", src, bytes))
    return CUDA_ERROR_INVALID_VALUE;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  return CUDA_SUCCESS;
}

extern "C" {

CUresult CUDAAPI cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
  return genericCopy("cuMemcpy", dst, src, ByteCount, nullptr);
}

CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
  return genericCopy("cuMemcpyAsync", dst, src, ByteCount, hStream);
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount, CUstream hStream) {
  {
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (initialized && current != nullptr)
      if (CUresult r = needStream(hStream)) return r;
  }
  return cuMemcpyHtoD(dstDevice, srcHost, ByteCount);
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
  {
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (initialized && current != nullptr)
      if (CUresult r = needStream(hStream)) return r;
  }
  return cuMemcpyDtoH(dstHost, srcDevice, ByteCount);
}

}  // extern "C"

static CUresult memsetImpl(const char* call, CUdeviceptr dst, const void* value, size_t width, size_t count,
                       CUstream stream) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (CUresult r = needStream(stream)) return r;
  if (count == 0) return CUDA_SUCCESS;
  if (dst % width != 0) {
    std::fprintf(stderr, "kvasir-sim: %s: 0x%llx is not %zu-byte aligned\n", call, static_cast<unsigned long long>(dst),
                 width);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (!checkRange(call, "destination", dst, count * width, false)) return CUDA_ERROR_INVALID_VALUE;
  auto* d = reinterpret_cast<unsigned char*>(dst);
  for (size_t i = 0; i < count; i++) std::memcpy(d + i * width, value, width);
  return CUDA_SUCCESS;
}

extern "C" {

CUresult CUDAAPI cuMemsetD8(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
  return memsetImpl("cuMemsetD8", dstDevice, &uc, 1, N, nullptr);
}
CUresult CUDAAPI cuMemsetD16(CUdeviceptr dstDevice, unsigned short us, size_t N) {
  return memsetImpl("cuMemsetD16", dstDevice, &us, 2, N, nullptr);
}
CUresult CUDAAPI cuMemsetD32(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
  return memsetImpl("cuMemsetD32", dstDevice, &ui, 4, N, nullptr);
}
CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
  return memsetImpl("cuMemsetD8Async", dstDevice, &uc, 1, N, hStream);
}
CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream) {
  return memsetImpl("cuMemsetD16Async", dstDevice, &us, 2, N, hStream);
}
CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
  return memsetImpl("cuMemsetD32Async", dstDevice, &ui, 4, N, hStream);
}

// ---- streams ----

CUresult CUDAAPI cuStreamCreate(CUstream* phStream, unsigned int Flags) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (phStream == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((Flags & ~static_cast<unsigned>(CU_STREAM_NON_BLOCKING)) != 0) return CUDA_ERROR_INVALID_VALUE;
  auto* s = new Stream{Flags, currentContext()->device};
  streams.insert(s);
  *phStream = reinterpret_cast<CUstream>(s);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamDestroy(CUstream hStream) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  auto* s = reinterpret_cast<Stream*>(hStream);
  if (hStream == nullptr || streams.erase(s) == 0) return CUDA_ERROR_INVALID_HANDLE;
  delete s;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamSynchronize(CUstream hStream) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  return needStream(hStream);  // work ran when it was queued
}

// ---- modules and launches ----

CUresult CUDAAPI cuModuleLoadData(CUmodule* module, const void* image) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Our image is nvcc's fatbin (magic 0xBA55ED50); the simulator runs the kernels compiled from the
  // same sources into libkvsim.a instead of the image's SASS.
  uint32_t magic;
  std::memcpy(&magic, image, 4);
  if (magic != 0xBA55ED50u) {
    std::fprintf(stderr, "kvasir-sim: cuModuleLoadData: the image is not a fatbin (magic 0x%08x)\n", magic);
    return CUDA_ERROR_INVALID_IMAGE;
  }
  auto* m = new Module();
  m->device = currentContext()->device;
  modules.insert(m);
  *module = reinterpret_cast<CUmodule>(m);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleUnload(CUmodule hmod) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  auto* m = reinterpret_cast<Module*>(hmod);
  if (hmod == nullptr || modules.erase(m) == 0) return CUDA_ERROR_INVALID_HANDLE;
  for (auto& [name, f] : m->functions) {
    functions.erase(f);
    delete f;
  }
  delete m;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto* m = reinterpret_cast<Module*>(hmod);
  if (hmod == nullptr || modules.count(m) == 0) return CUDA_ERROR_INVALID_HANDLE;
  auto it = m->functions.find(name);
  if (it == m->functions.end()) {
    const kvsim::KernelEntry* entry = kvsim::find_kernel(name);
    if (entry == nullptr) {
      std::fprintf(stderr, "kvasir-sim: cuModuleGetFunction: no kernel named %s\n", name);
      return CUDA_ERROR_NOT_FOUND;
    }
    auto* f = new Function{entry, m};
    functions.insert(f);
    it = m->functions.emplace(name, f).first;
  }
  *hfunc = reinterpret_cast<CUfunction>(it->second);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  auto* f = reinterpret_cast<Function*>(hfunc);
  if (hfunc == nullptr || functions.count(f) == 0) return CUDA_ERROR_INVALID_HANDLE;
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      if (value < 0 || value > kOptInSmem - kStaticSmemPerFunction) {
        std::fprintf(stderr, "kvasir-sim: cuFuncSetAttribute(%s): %d bytes of dynamic shared memory is over the %d limit\n",
                     f->entry->name, value, kOptInSmem - kStaticSmemPerFunction);
        return CUDA_ERROR_INVALID_VALUE;
      }
      f->maxDynamicSmem = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      return value >= -1 && value <= 100 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                unsigned int sharedMemBytes, CUstream hStream, void** kernelParams, void** extra) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (CUresult r = needContext()) return r;
  auto* fn = reinterpret_cast<Function*>(f);
  if (f == nullptr || functions.count(fn) == 0) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult r = needStream(hStream)) return r;
  const char* name = fn->entry->name;
  if (gridDimX == 0 || gridDimY == 0 || gridDimZ == 0 || blockDimX == 0 || blockDimY == 0 || blockDimZ == 0 ||
      gridDimX > 2147483647u || gridDimY > 65535 || gridDimZ > 65535 || blockDimX > 1024 || blockDimY > 1024 ||
      blockDimZ > 64 || static_cast<unsigned long long>(blockDimX) * blockDimY * blockDimZ > 1024) {
    std::fprintf(stderr, "kvasir-sim: cuLaunchKernel(%s): invalid shape grid %ux%ux%u block %ux%ux%u\n", name, gridDimX,
                 gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (static_cast<int>(sharedMemBytes) > fn->maxDynamicSmem || sharedMemBytes > static_cast<unsigned>(kOptInSmem)) {
    std::fprintf(stderr,
                 "kvasir-sim: cuLaunchKernel(%s): %u bytes of dynamic shared memory, over the function's limit of %d"
                 " (raise it with cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES))\n",
                 name, sharedMemBytes, fn->maxDynamicSmem);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (kernelParams != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (kernelParams == nullptr) {
    std::fprintf(stderr, "kvasir-sim: cuLaunchKernel(%s): no kernelParams (the simulator does not take 'extra')\n", name);
    return CUDA_ERROR_INVALID_VALUE;
  }
  static const bool trace = std::getenv("KVASIR_SIM_TRACE") != nullptr && *std::getenv("KVASIR_SIM_TRACE") != 0;
  if (trace) {  // KVASIR_SIM_TRACE=1: every launch and its first 24 parameter slots, 8 bytes each
    std::fprintf(stderr, "kvasir-sim: launch %s grid %ux%ux%u block %ux%ux%u smem %u:", name, gridDimX, gridDimY, gridDimZ,
                 blockDimX, blockDimY, blockDimZ, sharedMemBytes);
    for (int i = 0; i < 24 && kernelParams[i] != nullptr; i++) {
      unsigned long long v;
      std::memcpy(&v, kernelParams[i], 8);
      std::fprintf(stderr, " %llx", v);
    }
    std::fprintf(stderr, "\n");
  }
  std::string error = kvsim::launch(*fn->entry, kvsim::Dim3{gridDimX, gridDimY, gridDimZ},
                                    kvsim::Dim3{blockDimX, blockDimY, blockDimZ}, sharedMemBytes, kernelParams);
  if (!error.empty()) {
    std::fprintf(stderr, "kvasir-sim: kernel %s (grid %ux%ux%u, block %ux%ux%u, %u bytes shared) failed: %s\n", name,
                 gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, error.c_str());
    auto* c = reinterpret_cast<Context*>(current);
    c->sticky = CUDA_ERROR_LAUNCH_FAILED;
    return CUDA_ERROR_LAUNCH_FAILED;
  }
  return CUDA_SUCCESS;
}

}  // extern "C"
