# Sourced by scripts/kvasir (for --device cuda) and gpu-check: puts the CUDA libraries JavaCPP
# loads on LD_LIBRARY_PATH. The org.bytedeco:cuda jars carry only the JNI bindings; libcuda.so.1
# comes from the NVIDIA driver (already on the loader's path), and libcudart/libcublas/libcublasLt
# 13 from CUDA_HOME (default /usr/local/cuda) or from the nvidia-* Python wheels' lib folders.
kvasir_cuda_libs() {
  local cuda_home="${CUDA_HOME:-/usr/local/cuda}" libs d
  libs="$cuda_home/lib64:$cuda_home/targets/x86_64-linux/lib"
  for d in /usr/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
           /usr/local/lib/python3*/site-packages/nvidia/*/lib "$HOME"/.local/lib/python3*/site-packages/nvidia/*/lib; do
    [ -d "$d" ] && libs="$libs:$d"
  done
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$cuda_home/bin:$PATH"
}
