#!/usr/bin/env bash
# --precision bf16 | int8 on the cpu target: a LeNet trained briefly on the built-in MNIST
# sample, evaluated in fp32, bf16 and int8 (the predictions agree with fp32 on nearly every
# image), an ahead-of-time int8 plan giving the JIT's logits, bf16 training, the
# instruction-set paths and their messages, and the usage errors.
. "$(dirname "$0")/lib.sh"
MNIST="$SNNC_SRC/models/data/mnist-sample"
M="$SNNC_SRC/models/lenet_mnist.yaml"

run 0 train "$M" --data "$MNIST" --epochs 3 --out "$TMP/run" --quiet
W="$TMP/run/last.safetensors"

# agree A B: of two [N, 10] float32 logit files, how many rows have different argmaxes
argmaxes() {
  od -An -v -f -w40 "$1" | awk '{ b = 1; for (k = 2; k <= 10; k++) if ($k > $b) b = k; print b }'
}
agree() {
  argmaxes "$1" >"$TMP/a.txt"
  argmaxes "$2" >"$TMP/b.txt"
  paste "$TMP/a.txt" "$TMP/b.txt" | awk '$1 != $2 { n++ } END { print n + 0 }'
}

run 0 eval "$M" --data "$MNIST" --weights "$W" --dump-logits "$TMP/fp32.bin" --quiet
for p in bf16 int8; do
  run 0 eval "$M" --data "$MNIST" --weights "$W" --precision $p --dump-logits "$TMP/$p.bin" --quiet
  has "$ERR" "precision $p:"
  d=$(agree "$TMP/fp32.bin" "$TMP/$p.bin")
  check "$p predictions agree with fp32 on all but a few of 500 images ($d differ)" test "$d" -le 10
done

# the reference interpreter has bf16 semantics too
run 0 eval "$M" --data "$MNIST" --weights "$W" --precision bf16 --target ref --limit 64 --quiet
has "$OUT" "top-1:"

# int8 ahead of time: the plan is calibrated at compile time and gives the JIT's logits
run 0 compile "$M" --precision int8 --weights "$W" --data "$MNIST" -o "$TMP/plan"
run 0 eval --plan "$TMP/plan" --data "$MNIST" --weights "$W" --dump-logits "$TMP/aot.bin" --quiet
check "the compiled int8 plan gives the JIT's int8 logits" cmp -s "$TMP/int8.bin" "$TMP/aot.bin"
# a plan records its instruction-set level: a lower level refuses it
SNNC_ISA=avx2 run 2 eval --plan "$TMP/plan" --data "$MNIST" --weights "$W" --quiet
has "$ERR" "instructions, which this CPU (avx2) cannot run"
run 0 inspect "$M" --stage plan --precision bf16
has "$OUT" "cpu.prep_conv_q"

# paths: forced lower levels say how they run the precision
SNNC_ISA=avx2 run 0 eval "$M" --data "$MNIST" --weights "$W" --precision int8 --limit 64 --quiet
has "$ERR" "precision int8: unavailable with instruction set avx2"
SNNC_ISA=avx2 run 0 eval "$M" --data "$MNIST" --weights "$W" --precision bf16 --limit 64 --quiet
has "$ERR" "precision bf16: emulated on the fp32 FMA units"
if grep -qw avx512bw /proc/cpuinfo 2>/dev/null; then
  SNNC_ISA=avx512 run 0 eval "$M" --data "$MNIST" --weights "$W" --precision int8 --limit 64 --quiet
  has "$ERR" "emulated with vpmaddwd"
fi

# spiking networks: the converted quantized LeNet at both precisions
for p in bf16 int8; do
  run 0 snn "$SNNC_SRC/models/quant_lenet_mnist.yaml" --data "$MNIST" \
    --weights "$SNNC_SRC/tests/golden/quant_lenet_mnist.safetensors" --T 1 --limit 32 \
    --precision $p --quiet --no-metrics
  has "$OUT" "T=1 noise=0: top-1"
  has "$ERR" "precision $p:"
done

# bf16 training (fp32 master weights) and bench side by side
run 0 train "$M" --data "$MNIST" --steps 20 --precision bf16 --out "$TMP/bf" --quiet
check "bf16 training wrote a checkpoint" test -s "$TMP/bf/last.safetensors"
run 0 bench "$M" --precision fp32,bf16,int8 --fusion on --iters 2 --batch 16 --calib 64
has "$OUT" "precisions (same interleaved rounds)"
has "$OUT" "vpdpbusd"

# usage errors
run 2 eval "$M" --data "$MNIST" --precision tf32
has "$ERR" "applies to --target cuda only"
run 2 eval "$M" --data "$MNIST" --precision int8 --target ref
has "$ERR" "applies to --target cpu only"
run 2 eval "$M" --data "$MNIST" --precision fp16
has "$ERR" "--precision"
run 2 train "$M" --data "$MNIST" --precision int8 --steps 1 --out "$TMP/i8"
has "$ERR" "post-training quantization"
run 2 bench "$M" --precision fp32,int8 --mode train --iters 1
has "$ERR" "post-training quantization"
run 2 bench "$M" --precision fp32,fp64
has "$ERR" "expected fp32, tf32, bf16 or int8"
run 2 eval "$M" --data "$MNIST" --weights "$W" --precision int8 --calib 0
has "$ERR" "--calib"
run 2 compile "$M" --precision int8 -o "$TMP/nope"
has "$ERR" "give --weights"
SNNC_ISA=avx3 run 2 eval "$M" --data "$MNIST" --limit 4
has "$ERR" "SNNC_ISA=avx3: expected one of amx, avx512bf16"
no_crash

exit $((FAILS > 0))
