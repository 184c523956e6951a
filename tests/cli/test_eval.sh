#!/usr/bin/env bash
# snnc eval on the built-in MNIST sample and a synthetic CIFAR file: accuracy lines,
# logits dump, weights errors, data errors.
. "$(dirname "$0")/lib.sh"
MNIST="$SNNC_SRC/models/data/mnist-sample"
G="$SNNC_SRC/tests/golden"

run 0 eval "$SNNC_SRC/models/quant_lenet_mnist.yaml" --data "$MNIST" --weights "$G/quant_lenet_mnist.safetensors" \
  --target ref --limit 37 --batch 16 --dump-logits "$TMP/logits.bin" --quiet
has "$OUT" "top-1: "
has "$OUT" "/37)"
has "$OUT" "top-5: "
check "logits are 37 x 10 float32" test "$(stat -c %s "$TMP/logits.bin")" = 1480
run 0 eval "$SNNC_SRC/models/quant_lenet_mnist.yaml" --data "$MNIST" --weights "$G/quant_lenet_mnist.safetensors" \
  --target ref --limit 37 --batch 5 --dump-logits "$TMP/logits5.bin" --json
has "$OUT" "\"images\": 37"
check "ref logits do not depend on the batch size" cmp -s "$TMP/logits.bin" "$TMP/logits5.bin"
for f in on off; do
  for b in 16 5; do
    run 0 eval "$SNNC_SRC/models/quant_lenet_mnist.yaml" --data "$MNIST" --weights "$G/quant_lenet_mnist.safetensors" \
      --target cpu --fusion $f --limit 37 --batch $b --dump-logits "$TMP/cpu_${f}_$b.bin" --quiet
  done
  check "cpu logits (fusion $f) do not depend on the batch size" cmp -s "$TMP/cpu_${f}_16.bin" "$TMP/cpu_${f}_5.bin"
done

# random init: works, says so
run 0 eval "$SNNC_SRC/models/lif_fc_mnist.yaml" --data "$MNIST" --limit 20 --set snn.T=4
has "$ERR" "seeded random initialization"

# weights that do not match: every problem listed
run 2 eval "$SNNC_SRC/models/lif_fc_mnist.yaml" --data "$MNIST" --weights "$G/quant_lenet_mnist.safetensors" --limit 4
has "$ERR" "missing: layer.1.weight"
has "$ERR" "extra: features.0.weight"
run 2 eval "$SNNC_SRC/models/lif_fc_mnist.yaml" --data "$MNIST" --weights "$TMP/none.safetensors"
has "$ERR" "none.safetensors"
printf 'garbage' >"$TMP/bad.safetensors"
run 2 eval "$SNNC_SRC/models/lif_fc_mnist.yaml" --data "$MNIST" --weights "$TMP/bad.safetensors"
has "$ERR" "bad.safetensors"

# CIFAR: a synthetic file works; a truncated one is an error naming file and offset
make_cifar "$TMP/cifar" 12
run 0 eval "$SNNC_SRC/models/vgg16_narrow_cifar10.yaml" --data "$TMP/cifar" --batch 5 --quiet

has "$OUT" "12 images"
head -c 20000 "$TMP/cifar/test_batch.bin" >"$TMP/cifar/t.bin" && mv "$TMP/cifar/t.bin" "$TMP/cifar/test_batch.bin"
run 2 eval "$SNNC_SRC/models/vgg16_narrow_cifar10.yaml" --data "$TMP/cifar"
has "$ERR" "test_batch.bin"
has "$ERR" "offset"
run 2 eval "$SNNC_SRC/models/vgg16_narrow_cifar10.yaml" --data "$MNIST"
no_crash
# the data path of the model is used when --data is absent; a missing one is an error
run 2 eval "$SNNC_SRC/models/vgg16_narrow_cifar10.yaml" --set data.path="$TMP/nowhere"
has "$ERR" "nowhere"
finish
