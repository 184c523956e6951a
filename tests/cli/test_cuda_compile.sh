#!/usr/bin/env bash
# The CUDA target from the command line, on a machine without a GPU: 'snnc compile --target
# cuda' writes every kernel's .cu, .ptx and .cubin and cuda_plan.json; NVRTC results are
# cached; bad --arch / --precision are usage errors; '--target cuda' runs without a driver
# fail with exit code 1 and say so. Skips (77) where snnc has no CUDA backend or no NVRTC.
. "$(dirname "$0")/lib.sh"
M="$SNNC_SRC/models/lenet_mnist.yaml"
MNIST="$SNNC_SRC/models/data/mnist-sample"
export SNNC_CACHE_DIR="$TMP/cache"

"$SNNC" compile "$M" --target cuda --arch sm_90 -o "$TMP/probe" >"$OUT" 2>"$ERR"
if grep -qE "without the CUDA backend|NVRTC not found" "$ERR"; then
  echo "SKIP: $(head -1 "$ERR")"
  exit 77
fi

# ahead of time for both architectures the test suite covers
for arch in sm_80 sm_90; do
  run 0 compile "$M" --target cuda --arch $arch -o "$TMP/$arch" --batch 16
  has "$OUT" "compiled lenet_mnist for $arch"
  has "$OUT" "kernels (0 from the cache) compiled by NVRTC"
  has "$OUT" "cuBLAS GEMMs"
  check "$arch: cuda_plan.json written" test -s "$TMP/$arch/cuda_plan.json"
  n=$(ls "$TMP/$arch"/kernels/*.cu | wc -l)
  check "$arch: kernels written" test "$n" -ge 3
  check "$arch: a .ptx per kernel" test "$(ls "$TMP/$arch"/kernels/*.ptx | wc -l)" -eq "$n"
  check "$arch: a .cubin per kernel" test "$(ls "$TMP/$arch"/kernels/*.cubin | wc -l)" -eq "$n"
  has "$TMP/$arch/cuda_plan.json" "\"arch\": \"$arch\""
  has "$TMP/$arch/cuda_plan.json" "\"kind\": \"launch\""
  has "$TMP/$arch/cuda_plan.json" "\"grid\": ["
  has "$TMP/$arch/cuda_plan.json" "\"kind\": \"sgemm\""
  check "$arch: PTX targets $arch" grep -q "^.target $arch" $(ls "$TMP/$arch"/kernels/*.ptx | head -1)
  check "$arch: fused conv epilogue" grep -q "relu" "$TMP/$arch"/kernels/snk_conv_features_0_*.cu
done
# the plan is valid JSON when python3 is around
if command -v python3 >/dev/null; then
  check "cuda_plan.json parses" python3 -c "import json,sys; json.load(open(sys.argv[1]))" \
    "$TMP/sm_90/cuda_plan.json"
fi
# a second compile comes from the cache, with the same PTX
run 0 compile "$M" --target cuda --arch sm_90 -o "$TMP/again" --batch 16
has "$OUT" "from the cache)"
hasnt "$OUT" "(0 from the cache)"
check "cached PTX identical" diff -r "$TMP/sm_90/kernels" "$TMP/again/kernels"
# SNNC_DUMP also receives the sources; tensor cores; a training step
SNNC_DUMP="$TMP/dump" run 0 compile "$M" --target cuda --arch sm_80 -o "$TMP/tc" --precision tf32
check "dump has .cu files" test "$(ls "$TMP"/dump/*.cu | wc -l)" -ge 3
check "tf32 conv uses mma" grep -q "mma.sync.aligned.m16n8k8" "$TMP"/tc/kernels/snk_conv_features_0_*.ptx
run 0 compile "$M" --target cuda --arch sm_90 -o "$TMP/train" --mode train --batch 8
has "$OUT" "training step"
check "training kernels" test "$(ls "$TMP"/train/kernels/*.cu | wc -l)" -gt "$n"
check "sgd kernel" test -n "$(ls "$TMP"/train/kernels/ | grep -E '^snk_sgd_.*\.cubin$')"

# usage errors (exit 2)
run 2 compile "$M" --target cuda --arch sm_9 -o "$TMP/x"
has "$ERR" "expected sm_NN or compute_NN"
run 2 compile "$M" --target cuda --arch sm_10 -o "$TMP/x"
has "$ERR" "does not support it (supported:"
run 2 compile "$M" --target cuda --arch sm_75 --precision bf16 -o "$TMP/x"
has "$ERR" "needs tensor cores of sm_80 or later"
run 2 compile "$M" --target cuda --arch sm_90 --precision fp64 -o "$TMP/x"
run 2 compile "$M" --target gpu -o "$TMP/x"
has "$ERR" "cuda"

# running on the cuda target needs the driver: without one, exit 1 and a clear message
if ! ldconfig -p 2>/dev/null | grep -q "libcuda.so.1"; then
  run 1 eval "$M" --target cuda --data "$MNIST" --limit 8
  has "$ERR" "no CUDA driver found (libcuda.so.1):"
  run 1 train "$M" --target cuda --data "$MNIST" --steps 1 --out "$TMP/run"
  has "$ERR" "no CUDA driver found (libcuda.so.1):"
  run 1 compile "$M" --target cuda -o "$TMP/noarch"
  has "$ERR" "no CUDA driver found (libcuda.so.1):"
  has "$ERR" "give --arch"
  no_crash
fi
# a driver whose calls fail (the toolkit's stub library): the call, file:line and the result
STUB=/usr/local/cuda/lib64/stubs/libcuda.so
if [ -f "$STUB" ]; then
  SNNC_LIBCUDA="$STUB" run 1 eval "$M" --target cuda --data "$MNIST" --limit 8
  has "$ERR" "CUDA call cuInit(0) failed: CUDA_ERROR_STUB_LIBRARY"
  has "$ERR" "compiler/backends/cuda/driver.c:"
fi
finish
