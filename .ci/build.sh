#!/usr/bin/env bash
# Build snnc on a fresh Debian 12 machine, installing missing packages, then optionally:
#   .ci/build.sh demo   build, then run the main job on the built-in MNIST sample
#   .ci/build.sh test   build, then run the whole test suite (normal build, then again
#                       under AddressSanitizer + UndefinedBehaviorSanitizer, then a
#                       libFuzzer replay of the malformed-input corpus)
#   .ci/build.sh        build only
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc 2>/dev/null || echo 2)

need=()
for pkg in cmake make gcc g++ pkg-config libyaml-dev llvm-dev clang libclang-rt-dev libhdf5-dev \
  python3-numpy libopenmpi-dev openmpi-bin; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

build() { # dir, cmake args...
  local dir=$1; shift
  mkdir -p "$dir"
  cmake -S "$ROOT" -B "$dir" -DSNNC_WERROR=ON "$@" >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; exit 1; }
  if ! cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1; then
    grep -E -A5 "error|Error" "$dir/build.log" | head -80
    exit 1
  fi
}

echo "== building build/ (release)"
mkdir -p build
build build -DCMAKE_BUILD_TYPE=Release
echo "== built build/snnc"

case "${1:-}" in
  demo)
    shift
    exec "$ROOT/build/snnc" demo "$@"
    ;;
  test)
    echo "== unit, conformance and CLI tests (release build)"
    (cd build && ctest --output-on-failure -j "$JOBS")
    echo "== the same tests under ASan + UBSan"
    mkdir -p build-asan
    build build-asan -DCMAKE_BUILD_TYPE=Debug -DSNNC_SANITIZE=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -j "$JOBS")
    echo "== libFuzzer: frontend and NIR importer on their corpora and seeds (replay + 20 s + 10 s of fuzzing)"
    mkdir -p build-fuzz
    build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSNNC_FUZZ=ON
    work=$(mktemp -d)
    cp -r "$ROOT/tests/fuzz/corpus_frontend/." "$work/" 2>/dev/null || true
    build-fuzz/tests/fuzz_frontend -max_total_time=20 -timeout=10 -rss_limit_mb=2048 \
      "$work" "$ROOT/tests/corpus" >build-fuzz/fuzz.log 2>&1 \
      || { tail -40 build-fuzz/fuzz.log; rm -rf "$work"; exit 1; }
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" build-fuzz/fuzz.log | tail -1 || tail -2 build-fuzz/fuzz.log
    rm -rf "$work"
    work=$(mktemp -d)
    build-fuzz/tests/fuzz_nir -max_total_time=10 -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      "$work" "$ROOT/tests/fuzz/corpus_nir" >build-fuzz/fuzz_nir.log 2>&1 \
      || { tail -40 build-fuzz/fuzz_nir.log; rm -rf "$work"; exit 1; }
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" build-fuzz/fuzz_nir.log | tail -1 || tail -2 build-fuzz/fuzz_nir.log
    rm -rf "$work"
    echo "== all tests passed"
    ;;
  "") ;;
  *) echo "usage: .ci/build.sh [demo|test]" >&2; exit 2 ;;
esac
