// Kvasir's CUDA simulator: runs the kernels of native/src on the CPU so that their indexing,
// reductions and barriers are tested in CI, where there is no GPU. It is a test tool, not a
// backend: nothing it passes is a claim that the kernels work on a GPU (scripts/gpu-check is).
//
// Host side of the simulator, shared by the C++ harness (native/tests, through the runtime-API
// shim in sim/include/cuda_runtime.h) and by the fake driver and cuBLAS libraries that let the
// Java CUDA backend run its tests on the CPU (sim/driver.cpp, sim/cublas.cpp).
#pragma once

#include <cstddef>
#include <string>

namespace kvsim {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

// Calls one kernel entry point with its arguments unpacked from a cuLaunchKernel-style array
// (params[i] points at argument i).
using Invoker = void (*)(void** params);

struct KernelEntry {
  const char* name;  // the extern "C" name, e.g. "kvasir_rmsnorm_f16"
  Invoker invoke;
};

// The entry point of that name among native/src's kernels, or nullptr when there is none.
const KernelEntry* find_kernel(const char* name);

// Runs grid x block threads of `kernel`: blocks one after another, the threads of a block as
// cooperatively scheduled fibers that switch at __syncthreads and warp shuffles. Returns an empty
// string on success, else what went wrong (bad launch shape, more dynamic shared memory than
// max_dynamic_smem(), a barrier not reached by every live thread, a shuffle with lanes missing).
std::string launch(const KernelEntry& kernel, Dim3 grid, Dim3 block, size_t dynamic_smem, void** params);

// The dynamic shared memory limit the simulator enforces (an H100's opt-in limit, 227 KiB).
size_t max_dynamic_smem();

}  // namespace kvsim
