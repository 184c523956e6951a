#!/usr/bin/env bash
# CPU backend from the command line: the compile cache (hits, misses, read-only and corrupt
# caches), SNNC_DUMP, ahead-of-time plans (same results, tampering detected), bench output.
. "$(dirname "$0")/lib.sh"
MNIST="$SNNC_SRC/models/data/mnist-sample"
G="$SNNC_SRC/tests/golden"
M="$SNNC_SRC/models/quant_lenet_mnist.yaml"
W="$G/quant_lenet_mnist.safetensors"

# a fresh cache fills, a second run hits it and gives the same logits
export SNNC_CACHE_DIR="$TMP/cache"
run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 40 --dump-logits "$TMP/l1.bin" --quiet
check "cache filled" test "$(ls "$TMP/cache" | wc -l)" -gt 0
run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 40 --dump-logits "$TMP/l2.bin" --quiet
check "cached kernels give the same logits" cmp -s "$TMP/l1.bin" "$TMP/l2.bin"
# corrupt every entry: a miss, recompiled, same result
for f in "$TMP"/cache/*; do printf 'garbage' >"$f"; done
run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 40 --dump-logits "$TMP/l3.bin" --quiet
check "corrupt cache is a miss" cmp -s "$TMP/l1.bin" "$TMP/l3.bin"
# truncated entries too
for f in "$TMP"/cache/*; do head -c 40 "$f" >"$f.t" && mv "$f.t" "$f"; done
run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 40 --quiet
# read-only cache directory (root ignores permissions, so also a cache path that is a file)
mkdir -p "$TMP/ro" && chmod 555 "$TMP/ro"
SNNC_CACHE_DIR="$TMP/ro" run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 10 --quiet
touch "$TMP/notadir"
SNNC_CACHE_DIR="$TMP/notadir/sub" run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 10 --quiet
SNNC_NO_CACHE=1 run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 10 --quiet
chmod 755 "$TMP/ro"

# SNNC_DUMP writes the IR and assembly of every kernel
SNNC_DUMP="$TMP/dump" run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 5 --quiet
check "dump has .ll files" test "$(ls "$TMP"/dump/*.ll | wc -l)" -gt 3
check "dump has .s files" test "$(ls "$TMP"/dump/*.s | wc -l)" -gt 3
check "assembly uses vector FMAs" grep -qE "vfmadd|vfnmadd" $(ls "$TMP"/dump/snk_conv_*.s | head -1)

# inspect --stage llvm
run 0 inspect "$M" --stage llvm
has "$OUT" "define void @snk_conv_"
has "$OUT" "<16 x float>"

# ahead of time: compile, then eval --plan gives the same logits as the JIT
run 0 compile "$M" -o "$TMP/plan" --batch 16
has "$OUT" "kernels"
check "plan.json written" test -s "$TMP/plan/plan.json"
check "object files written" test "$(ls "$TMP"/plan/kernels/*.o | wc -l)" -gt 3
check "IR written" test "$(ls "$TMP"/plan/kernels/*.ll | wc -l)" -gt 3
check "assembly written" test "$(ls "$TMP"/plan/kernels/*.s | wc -l)" -gt 3
run 0 eval --plan "$TMP/plan" --data "$MNIST" --weights "$W" --limit 40 --dump-logits "$TMP/lp.bin" --quiet
run 0 eval "$M" --data "$MNIST" --weights "$W" --limit 40 --batch 16 --dump-logits "$TMP/lj.bin" --quiet
check "plan gives the JIT's logits" cmp -s "$TMP/lp.bin" "$TMP/lj.bin"
run 2 eval --plan "$TMP/plan" --data "$MNIST" --batch 8
has "$ERR" "differs from the batch 16"
run 2 eval "$M" --plan "$TMP/plan" --data "$MNIST"
has "$ERR" "give one of them"
run 2 eval --plan "$TMP/nothing" --data "$MNIST"
has "$ERR" "plan.json"
# a changed object file is caught by its checksum
obj=$(ls "$TMP"/plan/kernels/*.o | head -1)
printf 'x' >>"$obj"
run 2 eval --plan "$TMP/plan" --data "$MNIST" --limit 4
has "$ERR" "checksum mismatch"
# a damaged plan.json is a clear error, never a crash
sed -i 's/"bufs": \[/"bufs": [999, /' "$TMP/plan/plan.json"
run 2 eval --plan "$TMP/plan" --data "$MNIST" --limit 4
no_crash
printf '{"format": "snnc-plan-1"' >"$TMP/plan/plan.json"
run 2 eval --plan "$TMP/plan" --data "$MNIST" --limit 4
has "$ERR" "plan.json"
run 2 compile "$M"
has "$ERR" "missing -o DIR"

# bench: per-kernel table and JSON
run 0 bench "$M" --batch 8 --iters 2 --fusion both
has "$OUT" "fp32 peak"
has "$OUT" "fused vs unfused"
has "$OUT" "GFLOP/s"
run 0 bench "$M" --batch 8 --iters 2 --fusion off --json
has "$OUT" "\"images_per_second\""
has "$OUT" "\"compile_cold_s\""
no_crash
finish
