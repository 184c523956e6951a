#!/usr/bin/env bash
# The runtime library split (CMakeLists.txt, docs/artifacts.md): runtime/ includes nothing
# from compiler/, LLVM or libyaml, and the built libsnnc_rt.a and the deployable archive
# embedded in snnc need none of their symbols. (tests/unit/test_rt_*.c link libsnnc_rt
# alone, which checks the same at link time.)
. "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$SNNC")
bad=$(grep -rnE '#include *[<"]([./]*compiler/|llvm-c/|yaml\.h)' "$SNNC_SRC/runtime" || true)
check "runtime/ includes no compiler, LLVM or libyaml header${bad:+: $bad}" test -z "$bad"
for lib in "$BUILD/libsnnc_rt.a" "$BUILD/deploy/libsnnc_rt_deploy.a"; do
  check "$lib exists" test -s "$lib"
  und=$(nm -u "$lib" 2>/dev/null | grep -E ' (LLVM|yaml_|sn_jit|sn_lower|sn_spec|sn_graph)' || true)
  check "$(basename "$lib") needs no compiler, LLVM or libyaml symbol${und:+: $und}" test -z "$und"
done
# the deployable archive is position-independent and free of sanitizer instrumentation,
# whatever this build is (users link it into their programs)
und=$(nm -u "$BUILD/deploy/libsnnc_rt_deploy.a" | grep -E '__asan|__ubsan|__sanitizer' || true)
check "the deployable runtime has no sanitizer calls${und:+: $und}" test -z "$und"
finish
