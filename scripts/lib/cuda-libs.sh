# Sourced by scripts/kvasir (for --device cuda) and gpu-check: puts the CUDA libraries JavaCPP
# loads on LD_LIBRARY_PATH. The org.bytedeco:cuda jars carry only the JNI bindings; libcuda.so.1
# comes from the NVIDIA driver (usually already on the loader's path; containers often mount it
# under /usr/local/nvidia), and libcudart/libcublas/libcublasLt 13 from CUDA_HOME (default
# /usr/local/cuda) or from the nvidia-* Python wheels' lib folders (system Python, a user install,
# or a virtual environment such as /opt/*/.venv; CUDA 13 wheels keep them in nvidia/cu13/lib).
# libnccl.so.2 (tensor parallelism's all-reduce) likewise: a CUDA/NCCL install or the
# nvidia-nccl-cu13 wheel's nvidia/nccl/lib, which the nvidia/*/lib patterns below find.
kvasir_cuda_libs() {
  local cuda_home="${CUDA_HOME:-/usr/local/cuda}" libs d
  libs="$cuda_home/lib64:$cuda_home/targets/x86_64-linux/lib"
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
           /usr/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
           /usr/local/lib/python3*/site-packages/nvidia/*/lib "$HOME"/.local/lib/python3*/site-packages/nvidia/*/lib \
           /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib; do
    [ -d "$d" ] && libs="$libs:$d"
  done
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$cuda_home/bin:$PATH"
}
