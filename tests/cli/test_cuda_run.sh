#!/usr/bin/env bash
# '--target cuda' from the command line, on the CUDA emulator of tests/emu (no GPU needed:
# kernels run on the CPU): eval, train, snn and bench lower, compile, load, allocate, copy,
# launch and report; the GPU's accuracy and trained weights equal the CPU's; trained
# weights are written from the device; driver failures exit 1 with the call, file:line and
# kernel. Skips (77) without the emulator or the CUDA backend.
. "$(dirname "$0")/lib.sh"
M="$SNNC_SRC/models/lenet_mnist.yaml"
MNIST="$SNNC_SRC/models/data/mnist-sample"
export SNNC_CACHE_DIR="$TMP/cache"
if [ -z "${SNNC_CUDA_EMU:-}" ] || [ ! -f "$SNNC_CUDA_EMU" ]; then
  echo "SKIP: no CUDA emulator library (\$SNNC_CUDA_EMU)"
  exit 77
fi
export SNNC_LIBCUDA="$SNNC_CUDA_EMU" SNNC_CUBLAS="$SNNC_CUDA_EMU" SNNC_NVRTC="$SNNC_CUDA_EMU"
"$SNNC" compile "$M" --target cuda --arch sm_90 -o "$TMP/probe" >"$OUT" 2>"$ERR"
if grep -qE "without the CUDA backend" "$ERR"; then
  echo "SKIP: $(head -1 "$ERR")"
  exit 77
fi

run 0 eval "$M" --target cuda --data "$MNIST" --limit 40 --batch 16
has "$ERR" "cuda: snnc CUDA emulator (sm_90)"
has "$OUT" "top-1:"
has "$OUT" "target cuda"
no_crash
grep "^top-" "$OUT" >"$TMP/gpu.acc"
run 0 eval "$M" --data "$MNIST" --limit 40 --batch 16
grep "^top-" "$OUT" >"$TMP/cpu.acc"
check "the GPU's top-1 and top-5 are the CPU's" cmp -s "$TMP/gpu.acc" "$TMP/cpu.acc"
run 0 eval "$M" --target cuda --precision tf32 --data "$MNIST" --limit 16 --json
has "$OUT" "\"target\": \"cuda\""
run 2 eval "$M" --target cuda --precision fp16 --data "$MNIST"
run 2 eval "$M" --precision tf32 --data "$MNIST"
has "$ERR" "applies to --target cuda only"

# training: checkpoints come from the device (weights and momentum)
run 0 train "$M" --target cuda --data "$MNIST" --steps 3 --out "$TMP/run" --quiet
has "$OUT" "done: 3 steps"
check "checkpoint written" test -s "$TMP/run/last.safetensors"
has "$TMP/run/last.safetensors" "features.0.weight"
no_crash
run 0 train --resume "$TMP/run" --steps 5 --target cuda --quiet
has "$OUT" "done: 2 steps"
# the same 5 steps on the CPU: the same losses to 4 digits
run 0 train "$M" --data "$MNIST" --steps 5 --out "$TMP/run_cpu" --quiet
losses() { # the loss column of a run's steps.csv
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "loss") c = i; next } { print $c }' "$1"
}
check "GPU and CPU training losses agree to 1e-4" awk 'NR == FNR { a[FNR] = $1; n = FNR; next }
  { d = $1 - a[FNR]; if (d < 0) d = -d; m = $1 < 0 ? -$1 : $1; if (m < 1) m = 1;
    if (d > 1e-4 * m) bad = 1; k = FNR }
  END { exit (bad || k != 5 || n != 5) }' <(losses "$TMP/run/steps.csv") <(losses "$TMP/run_cpu/steps.csv")

# spiking inference runs layer-major; step-major is refused
run 0 snn "$SNNC_SRC/models/lif_fc_mnist.yaml" --target cuda --data "$MNIST" --limit 16 --T 4
has "$OUT" "layer-major"
has "$OUT" "SOPs/img"
run 2 snn "$SNNC_SRC/models/lif_fc_mnist.yaml" --target cuda --data "$MNIST" --limit 16 --T 4 \
  --schedule step
has "$ERR" "layer-major"

# bench: fused and unfused plans, inference and a training step
run 0 bench "$M" --target cuda --iters 2 --batch 8
has "$OUT" "target cuda"
has "$OUT" "fused vs unfused"
# one row per device step, timed with events: the fused conv, and the unfused baseline's parts
has "$OUT" "features.0+relu+maxpool (igemm_fp32)"
has "$OUT" "features.0 (im2col)"
has "$OUT" "classifier.1 (cuBLAS sgemm)"
run 0 bench "$M" --target cuda --iters 2 --batch 8 --mode train --fusion on
has "$OUT" "images/s"

# driver failures: exit 1, the call, snnc's file:line and the kernel; no half-written files
SNNC_EMU_FAIL=cuLaunchKernel:2 run 1 eval "$M" --target cuda --data "$MNIST" --limit 16
has "$ERR" "CUDA call cuLaunchKernel("
has "$ERR" "CUDA_ERROR_LAUNCH_FAILED"
has "$ERR" "compiler/backends/cuda/driver.c:"
has "$ERR" "kernel snk_"
SNNC_EMU_FAIL=cuMemAlloc_v2:1 run 1 train "$M" --target cuda --data "$MNIST" --steps 1 \
  --out "$TMP/oom"
has "$ERR" "CUDA_ERROR_OUT_OF_MEMORY"
check "no run directory left by a failed start" test ! -e "$TMP/oom/last.safetensors"
SNNC_EMU_FAIL=cuCtxSynchronize:1 SNNC_CUDA_SYNC=1 run 1 eval "$M" --target cuda --data "$MNIST" \
  --limit 16
has "$ERR" "in kernel snk_"
no_crash
finish
