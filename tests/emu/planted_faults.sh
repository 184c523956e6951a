#!/usr/bin/env bash
# Shows that the emulated conformance can fail: three faults planted in the rendered kernels
# (SNNC_EMU_MUTATE rewrites a kernel's source before the emulator compiles it; the
# templates themselves are untouched), each of which test_cuda_conformance must catch on a
# convolution whose 35 output channels do not fill a 64-row GEMM tile:
#   1. an off-by-one in the implicit-GEMM tile loader (rows m <= M loaded): reads past the
#      weights, reported as an out-of-bounds read naming the kernel;
#   2. a wrong fragment lane in the tensor-core path (t = (lane + 1) % 4): TF32 and BF16
#      results differ from the reference;
#   3. the barrier after the fp32 GEMM's inner product removed: a fast thread overwrites the
#      shared tiles others still read, and the fp32 results differ.
# Usage: planted_faults.sh TEST_CUDA_CONFORMANCE EMULATOR_LIBRARY
set -u
conf=$1
emu=$2
export SNNC_LIBCUDA=$emu SNNC_CUBLAS=$emu SNNC_NVRTC=$emu SNNC_CUDA_SEPARATE=1
case_name=conv_c20_o35_odd_map_pool_floor
fails=0
out=$(mktemp)
# a fresh kernel cache: each mutated kernel is compiled (and announced) by this run
export SNNC_CACHE_DIR=$(mktemp -d)
trap 'rm -rf "$out" "$SNNC_CACHE_DIR"' EXIT

expect() { # expect DESCRIPTION MUTATION PATTERN...: the run fails and prints every PATTERN
  local what=$1 mutation=$2
  shift 2
  if SNNC_EMU_MUTATE="$mutation" "$conf" "$case_name" >"$out" 2>&1; then
    echo "FAIL: $what: the conformance run passed with the fault planted"
    fails=$((fails + 1))
    return
  fi
  grep -q "planted fault" "$out" || { echo "FAIL: $what: the mutation matched no kernel"; fails=$((fails + 1)); }
  for pat in "$@"; do
    if ! grep -qE -- "$pat" "$out"; then
      echo "FAIL: $what: expected /$pat/ in the output:"
      grep -v "^cuda:" "$out" | head -8 | sed 's/^/  /'
      fails=$((fails + 1))
    fi
  done
  echo "caught: $what"
  grep -m1 -E -- "$1" "$out" | cut -c1-220 | sed 's/^/  /'
}

# without a fault the selection passes
if ! "$conf" "$case_name" >"$out" 2>&1; then
  echo "FAIL: the unmutated run failed:"
  grep -v "^cuda:" "$out" | head -8
  exit 1
fi

expect "off-by-one in the GEMM tile loader" \
  '(m < GM && k < GK) ? load_a=>(m <= GM && k < GK) ? load_a' \
  "out-of-bounds read .* past the end of a [0-9]+-byte device allocation" \
  "CUDA_ERROR_ILLEGAL_ADDRESS.*kernel snk_conv_f_0_relu"
expect "wrong fragment lane in the tensor-core GEMM" \
  'g = lane / 4, t = lane % 4;=>g = lane / 4, t = (lane + 1) % 4;' \
  "\[tf32, fusion on, in order\] tensor f.1:out: [0-9]+ of 6615 differ" \
  "\[bf16, fusion on, in order\] tensor f.1:out"
expect "missing __syncthreads() in the fp32 GEMM" \
  'racc[i][j] += ra[i] * rb[j];\n        }\n        __syncthreads();=>racc[i][j] += ra[i] * rb[j];\n        }' \
  "\[fp32, fusion on, in order\] tensor f.1:out: [0-9]+ of 6615 differ"
[ "$fails" = 0 ] || exit 1
echo "all three planted faults caught"
