#!/usr/bin/env bash
# Builds the FAKE CUDA libraries of the Kvasir CPU simulator into SIM_DIR/lib:
#   libcuda.so.1       sim/driver.cpp + SIM_DIR/libkvsim.a (the driver API; kernels run on the CPU)
#   libcublas.so.13    sim/cublas.cpp (cublasGemmEx and the handle calls, on the CPU)
#   libnccl.so.2       sim/nccl.cpp (communicators of one process, grouped all-reduce, on the CPU)
#   libcudart.so.13    empty: libjnicudart.so needs it loaded, nothing of ours calls it
#   libcublasLt.so.13  empty: libjnicublas.so needs it loaded, nothing of ours calls it
#     build-sim-libs.sh SIM_DIR
# Only the cuda-sim Surefire executions put SIM_DIR/lib on LD_LIBRARY_PATH, so that the Java CUDA
# backend's tests run in CI without a GPU. These libraries are NOT a GPU and must never be on the
# library path of scripts/gpu-check or scripts/kvasir; the device they report is named
# "Kvasir CPU simulator (not a GPU)". Outputs are rebuilt only when an input is newer.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sim_dir="$1"
lib_dir="$sim_dir/lib"
kvsim="$sim_dir/libkvsim.a"
cuda_include="${CUDA_HOME:-/usr/local/cuda}/include"
cxx="${CXX:-g++}"
script="$here/scripts/build-sim-libs.sh"

if [ ! -f "$cuda_include/cuda.h" ] || [ ! -f "$cuda_include/library_types.h" ]; then
  # Without the CUDA headers (no toolkit installed) the root pom's no-cuda-headers profile skips
  # the cuda-sim Java tests; the kernel harness on the simulator needs g++ only and still runs.
  echo "kvasir-sim: $cuda_include/cuda.h not found (set CUDA_HOME); the fake CUDA libraries are not built and the cuda-sim Java tests are skipped"
  exit 0
fi
if [ ! -f "$kvsim" ]; then
  echo "kvasir-sim: $kvsim not found; build it with native/scripts/build-sim.sh first" >&2
  exit 1
fi
mkdir -p "$lib_dir"
work="$(mktemp -d "$sim_dir/.libs.XXXXXX")"
trap 'rm -rf "$work"' EXIT

source "$here/scripts/lib.sh"

# Plain -O2 for the CI machines (no -march); the exported names only, nothing of libkvsim or libstdc++.
flags=(-std=c++17 -O2 -fPIC -Wall -Wextra -Werror -I "$cuda_include" -I "$here/sim")

# build OUT SONAME VERSION_NODE EXPORTS [INPUTS...] -- COMPILE_AND_LINK_ARGS...
build() {
  local out="$1" soname="$2" node="$3" exports="$4"; shift 4
  local inputs=()
  while [ "$1" != "--" ]; do inputs+=("$1"); shift; done
  shift
  if newer_than "$lib_dir/$out" "${inputs[@]}" "$script"; then
    return 0
  fi
  echo "kvasir-sim: building $lib_dir/$out"
  if [ -n "$node" ]; then
    printf '%s { global: %s; local: *; };\n' "$node" "$exports" > "$work/$out.map"
  else
    printf '{ global: %s; local: *; };\n' "$exports" > "$work/$out.map"
  fi
  "$cxx" "${flags[@]}" -shared -o "$work/$out" -Wl,-soname,"$soname" -Wl,--version-script="$work/$out.map" \
    -Wl,-z,defs "$@"
  mv -f "$work/$out" "$lib_dir/$out"
}

# libcuda.so.1: the real driver has no symbol versions, and libjnicudart.so asks for none.
build libcuda.so.1 libcuda.so.1 "" "cu*; kvasir_sim_*" "$here/sim/driver.cpp" "$here/sim/kvsim.h" "$kvsim" -- \
  "$here/sim/driver.cpp" "$kvsim" -lpthread

# libcublas.so.13: libjnicublas.so asks for its symbols at version "libcublas.so.13".
build libcublas.so.13 libcublas.so.13 libcublas.so.13 "cublas*" "$here/sim/cublas.cpp" "$here/sim/fp16.h" "$lib_dir/libcuda.so.1" -- \
  "$here/sim/cublas.cpp" "$lib_dir/libcuda.so.1" -Wl,-rpath,'$ORIGIN'

# libnccl.so.2: NCCL's symbols carry no version; libjninccl.so asks for none. Its buffers are checked
# against the fake driver's devices (kvasir_sim_check_device_range_on).
build libnccl.so.2 libnccl.so.2 "" "nccl*; pnccl*" "$here/sim/nccl.cpp" "$here/sim/fp16.h" "$lib_dir/libcuda.so.1" -- \
  "$here/sim/nccl.cpp" "$lib_dir/libcuda.so.1" -Wl,-rpath,'$ORIGIN' -lpthread

# The two empty ones: a marker symbol under the version node the JNI libraries ask for.
for lib in libcudart.so.13 libcublasLt.so.13; do
  marker="kvasir_sim_$(echo "${lib%%.so*}" | tr -c 'a-zA-Z0-9\n' '_')_is_empty"
  cat > "$work/$lib.cpp" <<EOF
// Kvasir CPU simulator: an EMPTY stand-in for $lib. The JavaCPP JNI libraries list it as needed,
// so it must load, but nothing Kvasir calls goes through it (the backend uses the driver API and
// cublasGemmEx only); a call into it would fail with an undefined-symbol error, loudly.
extern "C" const char $marker[] = "Kvasir CPU simulator (not a GPU)";
EOF
  build "$lib" "$lib" "$lib" "$marker" "$script" -- "$work/$lib.cpp"
done

# The libraries' self-test (sim/libs_test.cpp): the driver's, cuBLAS's and NCCL's error behaviour that the
# Java tests rely on. Rebuilt and run whenever it or a library changed.
self_test="$sim_dir/sim_libs_test"
if ! newer_than "$self_test" "$here/sim/libs_test.cpp" "$lib_dir"/*.so.* "$script"; then
  echo "kvasir-sim: building and running the fake libraries' self-test"
  "$cxx" "${flags[@]}" -o "$work/sim_libs_test" "$here/sim/libs_test.cpp" -L "$lib_dir" -l:libcublas.so.13 \
    -l:libnccl.so.2 -l:libcuda.so.1 -Wl,-rpath,"$lib_dir" -lpthread
  # Once with the default single device, once with two (the multi-device driver and NCCL checks).
  env -u KVASIR_SIM_DEVICES "$work/sim_libs_test" 2> "$work/sim_libs_test.log" || { cat "$work/sim_libs_test.log" >&2; exit 1; }
  KVASIR_SIM_DEVICES=2 KVASIR_SIM_NCCL_WAIT_MS=100 "$work/sim_libs_test" 2> "$work/sim_libs_test.log" \
    || { cat "$work/sim_libs_test.log" >&2; exit 1; }
  mv -f "$work/sim_libs_test" "$self_test"
fi
