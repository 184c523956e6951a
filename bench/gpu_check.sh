#!/usr/bin/env bash
# The first minutes on a GPU machine, in one call: builds a CUDA-only snnc there (no LLVM
# needed; libyaml from ../shared/vendor/debian12 when the machine lacks it), then
#   1. test_cuda_gpu: every model and the small nets against the reference interpreter
#      (fp32, TF32, BF16; fusion on and off; training steps);
#   2. test_cuda_conformance: every op, fused group and training step, every template;
#   3. compute-sanitizer on one small model: memcheck (out-of-bounds and misaligned
#      accesses, every buffer its own allocation) and racecheck (shared-memory races);
#   4. bench/gpu_vs_torch.py: VGG16 inference and training at batch 128, snnc fused and
#      unfused against PyTorch eager and torch.compile, fp32 and TF32;
# and writes everything to one log (default gpu_check.log in the repository root), with a
# summary line per stage. Each stage has a time limit, so the whole stays under 8 minutes
# on an H100/H200 machine with room for a rerun of what failed (--only).
#
#   bench/gpu_check.sh [--dry-run] [--only STAGES] [--log FILE] [--vendor-yaml] [--jobs N]
#
#   --dry-run      build and check everything up to the first GPU call (on any machine):
#                  the CUDA-only build, NVRTC compiling VGG16's kernels for sm_90, the CUDA
#                  plan printed; then list the GPU stages and stop
#   --only STAGES  comma-separated among build,gpu,conformance,sanitizer,bench (build is
#                  skipped when build-gpu/ exists and it is not listed)
#   --vendor-yaml  use the vendored libyaml even when the machine has one (tests that path)
#   --emulate LIB  rehearse the gpu and conformance stages on the CUDA emulator library LIB
#                  (build/tests/libsnnc_cudaemu.so) instead of a GPU; the sanitizer and
#                  bench stages need a real GPU and are skipped
#
# Exit code: 0 when every stage run passed, 1 otherwise.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LOG="$ROOT/gpu_check.log"
DRY=0
ONLY=""
VENDOR=0
EMU=""
JOBS=$(nproc 2>/dev/null || echo 4)
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --only) ONLY=$2; shift ;;
    --log) LOG=$2; shift ;;
    --vendor-yaml) VENDOR=1 ;;
    --jobs) JOBS=$2; shift ;;
    --emulate) EMU=$2; shift ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
BUILD="$ROOT/build-gpu"
export SNNC_CACHE_DIR="$BUILD/cache"
: >"$LOG"
FAILED=0
SUMMARY=""
T0=$(date +%s)

say() { echo "$*" | tee -a "$LOG"; }
wanted() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# stage NAME SECONDS COMMAND...: runs under a time limit, output to the log
stage() {
  local name=$1 limit=$2
  shift 2
  [ -n "$EMU" ] && limit=$((limit * 10)) # the emulator is slow, not the GPU
  local t=$(date +%s)
  say ""
  say "==== $name (limit ${limit} s): $*"
  # through bash, so a stage may be one of this script's functions (exported below)
  timeout --kill-after=10 "$limit" bash -c '"$@"' bash "$@" >>"$LOG" 2>&1
  local rc=$?
  local dt=$(($(date +%s) - t))
  local verdict="passed"
  [ $rc = 0 ] || verdict="FAILED (exit $rc)"
  [ $rc = 124 ] && verdict="TIMED OUT after ${limit} s"
  [ $rc = 0 ] || FAILED=1
  say "==== $name: $verdict in ${dt} s"
  SUMMARY="$SUMMARY
  $(printf '%-24s %s in %s s' "$name" "$verdict" "$dt")"
  return $rc
}

say "snnc GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname 2>/dev/null), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "log: $LOG"
{
  echo "---- machine"
  nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
  (command -v nvcc >/dev/null && nvcc --version | tail -2) || ls -d /usr/local/cuda* 2>&1
  cmake --version 2>&1 | head -1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())' 2>&1
  (command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer) 2>&1
  echo "cores: $JOBS"
} >>"$LOG" 2>&1

# ---- libyaml: the machine's, or the vendored Debian 12 packages unpacked under build-gpu/
yaml_env() {
  if [ $VENDOR = 0 ] && pkg-config --exists yaml-0.1 2>/dev/null; then
    say "libyaml: the system's ($(pkg-config --modversion yaml-0.1))"
    return 0
  fi
  local dir=""
  for d in "$ROOT/../shared/vendor/debian12" "$ROOT/shared/vendor/debian12"; do
    [ -d "$d" ] && dir=$d && break
  done
  if [ -z "$dir" ]; then
    say "libyaml: not found (pkg-config yaml-0.1) and no ../shared/vendor/debian12 with its .deb files"
    return 1
  fi
  local prefix="$BUILD/deps"
  mkdir -p "$prefix"
  for deb in "$dir"/libyaml-0-2_*.deb "$dir"/libyaml-dev_*.deb; do
    [ -f "$deb" ] || { say "libyaml: $deb missing"; return 1; }
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$prefix" || return 1
    else # no dpkg: a .deb is an ar archive holding data.tar.*
      local tmp
      tmp=$(mktemp -d)
      (cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$prefix") || { rm -rf "$tmp"; return 1; }
      rm -rf "$tmp"
    fi
  done
  local pc
  pc=$(dirname "$(find "$prefix" -name yaml-0.1.pc | head -1)")
  [ -n "$pc" ] || { say "libyaml: no yaml-0.1.pc in the unpacked packages"; return 1; }
  export PKG_CONFIG_PATH="$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export PKG_CONFIG_SYSROOT_DIR="$prefix"
  local lib
  lib=$(dirname "$(find "$prefix" -name 'libyaml-0.so.2*' | head -1)")
  export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "libyaml: unpacked from $dir into $prefix"
}

build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSNNC_WITH_LLVM=OFF &&
    cmake --build "$BUILD" -j "$JOBS"
}

export -f build
export ROOT BUILD JOBS
yaml_env || { say "cannot provide libyaml: stopping"; exit 1; }
if wanted build || [ ! -x "$BUILD/snnc" ]; then
  stage "build (CUDA only)" 240 build || { say "the build failed: stopping"; exit 1; }
fi
SNNC="$BUILD/snnc"
if [ -n "$EMU" ]; then
  [ -f "$EMU" ] || { say "--emulate $EMU: no such library"; exit 2; }
  export SNNC_LIBCUDA=$EMU SNNC_CUBLAS=$EMU SNNC_NVRTC=$EMU
  say "emulated: SNNC_LIBCUDA, SNNC_CUBLAS and SNNC_NVRTC = $EMU"
fi

if [ $DRY = 1 ]; then
  stage "snnc runs" 30 "$SNNC" --version
  stage "NVRTC: VGG16 kernels" 300 "$SNNC" compile models/vgg16_cifar10.yaml --target cuda \
    --arch sm_90 --precision tf32 --mode train -o "$BUILD/dry-vgg16"
  stage "CUDA plan (no GPU)" 60 "$SNNC" inspect models/vgg16_cifar10.yaml --stage plan \
    --target cuda --mode train --batch 128
  stage "GPU tests built" 10 test -x "$BUILD/tests/test_cuda_gpu" -a -x "$BUILD/tests/test_cuda_conformance"
  stage "benchmark script" 30 python3 -c "import ast; ast.parse(open('bench/gpu_vs_torch.py').read())"
  say ""
  say "dry run: stopping before the first GPU call. The GPU stages would run:"
  say "  gpu:         $BUILD/tests/test_cuda_gpu"
  say "  conformance: $BUILD/tests/test_cuda_conformance"
  say "  sanitizer:   compute-sanitizer --tool memcheck|racecheck on test_cuda_gpu lenet_mnist / test_cuda_conformance conv_c20"
  say "  bench:       python3 bench/gpu_vs_torch.py --snnc $SNNC --batch 128 --precision fp32|tf32"
else
  if wanted gpu; then
    stage "test_cuda_gpu" 120 "$BUILD/tests/test_cuda_gpu"
  fi
  if wanted conformance; then
    stage "test_cuda_conformance" 90 "$BUILD/tests/test_cuda_conformance"
  fi
  if [ -n "$EMU" ]; then
    say "(emulated: the sanitizer and bench stages need a GPU, skipped)"
  fi
  if wanted sanitizer && [ -z "$EMU" ]; then
    CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    # kernels come from the cache the stages above filled; every buffer its own allocation,
    # so memcheck sees each one's bounds
    SNNC_CUDA_SEPARATE=1 stage "memcheck (lenet_mnist)" 75 "$CS" --tool memcheck \
      --error-exitcode 1 --leak-check no "$BUILD/tests/test_cuda_gpu" lenet_mnist
    SNNC_CUDA_SEPARATE=1 stage "racecheck (conv case)" 75 "$CS" --tool racecheck \
      --error-exitcode 1 "$BUILD/tests/test_cuda_conformance" conv_c20_o35_odd_map_pool_floor
  fi
  if wanted bench && [ -z "$EMU" ]; then
    stage "bench fp32 (eager)" 90 python3 bench/gpu_vs_torch.py --snnc "$SNNC" --batch 128 \
      --models vgg16_cifar10 --modes infer,train --precision fp32 --no-compile
    stage "bench tf32 (eager, compile)" 150 python3 bench/gpu_vs_torch.py --snnc "$SNNC" \
      --batch 128 --models vgg16_cifar10 --modes infer,train --precision tf32
  fi
fi
say ""
say "==== summary ($(($(date +%s) - T0)) s in all)$SUMMARY"
exit $FAILED
