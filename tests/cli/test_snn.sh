#!/usr/bin/env bash
# snnc convert / snnc snn on the built-in MNIST sample (real digits), with trained weights:
# the exact T = 1 conversion of the quantized LeNet predicts the quantized ANN's class for
# every test image (on the CPU backend, fused and unfused, and on the reference
# interpreter); the written SNN directory reloads in eval and snn; spike metrics, CSVs and
# charts; the noise experiment; rate conversion of a plain ANN gets better with T; errors.
. "$(dirname "$0")/lib.sh"
MNIST="$SNNC_SRC/models/data/mnist-sample"
Q="$SNNC_SRC/models/quant_lenet_mnist.yaml"
L="$SNNC_SRC/models/lenet_mnist.yaml"

# train the quantized LeNet briefly (2,500 training digits, 2 epochs)
run 0 train "$Q" --data "$MNIST" --epochs 2 --quiet --out "$TMP/q"
check "trained weights written" test -s "$TMP/q/last.safetensors"
W="$TMP/q/last.safetensors"

# T = 1 exactness, CPU fused / unfused, every test image of the sample (500)
for fusion in on off; do
  run 0 snn "$Q" --weights "$W" --data "$MNIST" --T 1 --compare-ann --fusion $fusion --quiet
  has "$OUT" "same class as the ANN: 500/500 images"
done
# and on the reference interpreter (slower: 100 images)
run 0 snn "$Q" --weights "$W" --data "$MNIST" --T 1 --compare-ann --target ref --limit 100 --quiet
has "$OUT" "same class as the ANN: 100/100 images"
ann=$(sed -n 's/^ANN quant_lenet_mnist: top-1 \([0-9.]*\)%.*/\1/p' "$OUT")
snn=$(sed -n 's/^quant_lenet_mnist_snn T=1 noise=0: top-1 \([0-9.]*\)%.*/\1/p' "$OUT")
check "SNN accuracy ($snn) equals the ANN's ($ann)" test -n "$ann" -a "$ann" = "$snn"
check "the trained ANN is far above chance ($ann%)" awk -v a="$ann" 'BEGIN { exit !(a > 70) }'

# convert to a directory; the SNN model reloads in eval, and its logits' classes match the
# quantized ANN's (eval --dump-logits of both)
run 0 convert "$Q" --weights "$W" -o "$TMP/snn" --quiet
has "$OUT" "converted quant_lenet_mnist -> quant_lenet_mnist_snn"
for f in model.yaml weights.safetensors conversion.txt; do
  check "convert wrote $f" test -s "$TMP/snn/$f"
done
has "$TMP/snn/model.yaml" "threshold: {units: 4}"
has "$TMP/snn/model.yaml" "input_scale: 2"
run 0 inspect "$TMP/snn/model.yaml"
has "$OUT" "threshold"
run 0 eval "$Q" --weights "$W" --data "$MNIST" --dump-logits "$TMP/ann.f32" --quiet
run 0 eval "$TMP/snn/model.yaml" --weights "$TMP/snn/weights.safetensors" --data "$MNIST" \
  --dump-logits "$TMP/snn.f32" --quiet
argmax() { od -An -v -f -w40 "$1" | awk '{ b = 1; for (i = 2; i <= NF; i++) if ($i > $b) b = i; print b }'; }
argmax "$TMP/ann.f32" >"$TMP/ann.cls"
argmax "$TMP/snn.f32" >"$TMP/snn.cls"
check "500 classes from each" test "$(wc -l <"$TMP/ann.cls")" = 500 -a "$(wc -l <"$TMP/snn.cls")" = 500
check "eval of the converted SNN: the ANN's class for every image" cmp -s "$TMP/ann.cls" "$TMP/snn.cls"

# metrics, CSVs and charts; the noise experiment
run 0 snn "$TMP/snn/model.yaml" --weights "$TMP/snn/weights.safetensors" --data "$MNIST" \
  --noise 0,0.3,0.9 --out "$TMP/m" --quiet
for f in layers.csv accuracy.csv firing_rate.svg sops_vs_macs.svg accuracy_vs_noise.svg; do
  check "snn --out wrote $f" test -s "$TMP/m/$f"
done
has "$TMP/m/layers.csv" "T,noise,layer,type,neurons,units,spikes_per_image,firing_rate,sops_per_image,ann_macs_per_image"
has "$TMP/m/layers.csv" "1,0,features.1,spiking,12544,4,"
check "accuracy.csv: header + 3 runs" test "$(wc -l <"$TMP/m/accuracy.csv")" = 4
check "firing rates are in (0, 1)" awk -F, 'NR > 1 && $4 == "spiking" { if (!($8 > 0 && $8 < 1)) bad = 1; n++ } END { exit bad || n == 0 }' "$TMP/m/layers.csv"
check "SOPs below the ANN's MACs for every spike-fed layer" awk -F, 'NR > 1 && $4 == "synaptic" { if (!($9 > 0 && $9 < $10)) bad = 1; n++ } END { exit bad || n == 0 }' "$TMP/m/layers.csv"
check "deleting 90% of the first layer's spikes costs accuracy" awk -F, 'NR == 2 { a = $4 } NR == 4 { b = $4 } END { exit !(b < a - 5) }' "$TMP/m/accuracy.csv"
check "deleting spikes lowers the encoding layer's count" awk -F, '$3 == "features.1" && $2 == 0 { a = $7 } $3 == "features.1" && $2 == 0.9 { b = $7 } END { exit !(b < a * 0.2) }' "$TMP/m/layers.csv"
has "$TMP/m/accuracy_vs_noise.svg" "<svg"

# rate conversion of a plain LeNet: accuracy rises with T towards the ANN's
run 0 train "$L" --data "$MNIST" --epochs 2 --quiet --out "$TMP/l"
run 0 eval "$L" --weights "$TMP/l/last.safetensors" --data "$MNIST" --json --quiet
annr=$(sed -n 's/.*"top1": \([0-9.]*\).*/\1/p' "$OUT")
run 0 snn "$L" --weights "$TMP/l/last.safetensors" --data "$MNIST" --T 1,4,32 --calib 500 \
  --out "$TMP/r" --quiet
has "$OUT" "lenet_mnist_snn T=32"
check "rate SNN: accuracy vs T chart" test -s "$TMP/r/accuracy_vs_T.svg"
check "rate SNN: T=32 beats T=1 and is within 5 points of the ANN ($annr%)" awk -F, -v a="$annr" 'NR == 2 { t1 = $4 } NR == 4 { t32 = $4 } END { exit !(t32 > t1 && t32 > a - 5) }' "$TMP/r/accuracy.csv"

# errors
run 2 snn "$Q" --weights "$W" --data "$MNIST" --T 0
has "$ERR" "--T: 0 is out of range"
run 2 snn "$Q" --weights "$W" --data "$MNIST" --noise 1.5
has "$ERR" "--noise: 1.5 is out of range"
run 2 snn "$Q" --weights "$W" --data "$MNIST" --T 1,2 --dump-logits "$TMP/x.f32"
has "$ERR" "--dump-logits needs a single --T value"
run 2 convert "$Q" -o "$TMP/none"
has "$ERR" "missing --weights"
run 2 snn "$TMP/snn/model.yaml" --weights "$TMP/snn/weights.safetensors" --data "$MNIST" --compare-ann
has "$ERR" "--compare-ann needs the ANN"
run 2 snn "$TMP/snn/model.yaml" --weights "$W" --data "$MNIST"
has "$ERR" "theta"

finish
