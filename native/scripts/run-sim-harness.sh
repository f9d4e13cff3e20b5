#!/usr/bin/env bash
# Runs the kernel tests on the CPU simulator (see build-sim.sh), the CI substitute for the GPU run
# and for compute-sanitizer: the simulator's self-test, then the kernel harness in --small mode
# under AddressSanitizer + UBSan, once with the threads of each block run in forward order between
# sync points and once in reverse order (a missing __syncthreads shows in at least one of them).
# The two orders run side by side (one core each) with the same fixed seed, printed;
# KVASIR_SIM_SEED overrides it. Fails on any failure.
#   run-sim-harness.sh SIM_DIR
set -euo pipefail
sim_dir="$1"
harness="$sim_dir/kvasir_kernel_tests_sim"
selftest="$sim_dir/kvsim_selftest"
seed="${KVASIR_SIM_SEED:-20250101}"
if [ ! -x "$harness" ] || [ ! -x "$selftest" ]; then
  echo "kvasir-native: simulator harness not built (run scripts/build-sim.sh $sim_dir)" >&2
  exit 1
fi
# Leak checking is off: it needs ptrace-free containers, and a leak is not what we look for here.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
for order in forward reverse; do
  KVASIR_SIM_ORDER=$order "$selftest" || status=1
done

echo "kvasir-native: kernel tests on the CPU simulator (ASan + UBSan, --small), seed $seed, forward and reverse thread order"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
pids=()
for order in forward reverse; do
  (KVASIR_SIM_ORDER=$order "$harness" "$sim_dir/kernels.sim" --small --seed "$seed" > "$tmp/$order.log" 2>&1;
   echo $? > "$tmp/$order.rc") &
  pids+=($!)
done
wait "${pids[@]}" || true
for order in forward reverse; do
  echo "==== simulator, $order thread order (KVASIR_SIM_ORDER=$order), seed $seed ===="
  cat "$tmp/$order.log"
  rc=$(cat "$tmp/$order.rc" 2>/dev/null || echo 1)
  if [ "$rc" -ne 0 ]; then
    echo "kvasir-native: simulator kernel tests FAILED in $order order (exit $rc); rerun with:"
    echo "  KVASIR_SIM_ORDER=$order $harness $sim_dir/kernels.sim --small --seed $seed"
    status=1
  fi
done
echo "kvasir-native: simulator kernel tests took $(( $(date +%s) - start )) s"
exit $status
