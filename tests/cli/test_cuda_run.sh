#!/usr/bin/env bash
# '--target cuda' from the command line, against the mock driver and cuBLAS of tests/mock
# (no GPU here: kernels are not run, so accuracies are meaningless; what is checked is that
# eval, train, snn and bench lower, compile, load, allocate, copy, launch and report, that
# trained weights are written from the device, and that driver failures exit 1 with the
# call, file:line and kernel). Skips (77) without the mock, the CUDA backend or NVRTC.
. "$(dirname "$0")/lib.sh"
M="$SNNC_SRC/models/lenet_mnist.yaml"
MNIST="$SNNC_SRC/models/data/mnist-sample"
export SNNC_CACHE_DIR="$TMP/cache"
if [ -z "${SNNC_MOCK_CUDA:-}" ] || [ ! -f "$SNNC_MOCK_CUDA" ]; then
  echo "SKIP: no mock CUDA library (\$SNNC_MOCK_CUDA)"
  exit 77
fi
export SNNC_LIBCUDA="$SNNC_MOCK_CUDA" SNNC_CUBLAS="$SNNC_MOCK_CUDA"
"$SNNC" compile "$M" --target cuda --arch sm_90 -o "$TMP/probe" >"$OUT" 2>"$ERR"
if grep -qE "without the CUDA backend|NVRTC not found" "$ERR"; then
  echo "SKIP: $(head -1 "$ERR")"
  exit 77
fi

run 0 eval "$M" --target cuda --data "$MNIST" --limit 40 --batch 16
has "$ERR" "cuda: snnc mock GPU (sm_90)"
has "$OUT" "top-1:"
has "$OUT" "target cuda"
no_crash
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
run 0 bench "$M" --target cuda --iters 2 --batch 8 --mode train --fusion on
has "$OUT" "images/s"

# driver failures: exit 1, the call, snnc's file:line and the kernel; no half-written files
MOCK_CUDA_FAIL=cuLaunchKernel:2 run 1 eval "$M" --target cuda --data "$MNIST" --limit 16
has "$ERR" "CUDA call cuLaunchKernel("
has "$ERR" "CUDA_ERROR_LAUNCH_FAILED"
has "$ERR" "compiler/backends/cuda/driver.c:"
has "$ERR" "kernel snk_"
MOCK_CUDA_FAIL=cuMemAlloc_v2:1 run 1 train "$M" --target cuda --data "$MNIST" --steps 1 \
  --out "$TMP/oom"
has "$ERR" "CUDA_ERROR_OUT_OF_MEMORY"
check "no run directory left by a failed start" test ! -e "$TMP/oom/last.safetensors"
MOCK_CUDA_FAIL=cuCtxSynchronize:1 SNNC_CUDA_SYNC=1 run 1 eval "$M" --target cuda --data "$MNIST" \
  --limit 16
has "$ERR" "in kernel snk_"
no_crash
finish
