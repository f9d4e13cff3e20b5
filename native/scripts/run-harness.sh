#!/usr/bin/env bash
# Runs the C++ kernel tests when a GPU is present; elsewhere says why they were skipped.
#   run-harness.sh FATBIN HARNESS
set -euo pipefail
fatbin="$1"
harness="$2"
if [ ! -x "$harness" ] || [ ! -f "$fatbin" ]; then
  echo "kvasir-native: kernel tests skipped: not built (nvcc was not on the PATH)"
  exit 0
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "kvasir-native: kernel tests skipped: no NVIDIA GPU (nvidia-smi finds none)"
  exit 0
fi
exec "$harness" "$fatbin"
