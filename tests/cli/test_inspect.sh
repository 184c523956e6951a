#!/usr/bin/env bash
# snnc inspect: tables, JSON, stages, dot; the resolved spec round-trips.
. "$(dirname "$0")/lib.sh"

for m in "$SNNC_SRC"/models/*.yaml; do
  name=$(basename "$m" .yaml)
  run 0 inspect "$m"
  has "$OUT" "total:"
  run 0 inspect "$m" --json
  has "$OUT" "\"params\": "
  has "$OUT" "\"macs\": "
  has "$OUT" "\"layers\": ["
  cp "$OUT" "$TMP/$name.json"
  # the resolved spec parses back to the same model
  run 0 inspect "$m" --stage spec
  cp "$OUT" "$TMP/$name.resolved.yaml"
  run 0 inspect "$TMP/$name.resolved.yaml" --json
  check "$name: resolved spec gives the same model" cmp -s "$OUT" "$TMP/$name.json"
  run 0 inspect "$m" --stage ir
  has "$OUT" "return %"
  run 0 inspect "$m" --stage plan
  has "$OUT" "arena:"
done

run 0 inspect "$SNNC_SRC/models/vgg16_cifar10.yaml" --json
has "$OUT" "\"params\": 15106240"
has "$OUT" "\"macs\": 313592320"
run 0 inspect "$SNNC_SRC/models/quant_vgg_cifar10.yaml" --json
has "$OUT" "\"params\": 5074368"
run 0 inspect "$SNNC_SRC/models/vgg16_narrow_cifar10.yaml" --set vgg.cfg=[16,M,32,M,64,M,128,M,128,M] --json
has "$OUT" "\"params\": "
run 0 inspect "$SNNC_SRC/models/lif_fc_mnist.yaml" --set snn.T=10 --json
has "$OUT" "\"macs\": 78400"
run 0 inspect "$SNNC_SRC/models/vgg16_cifar10.yaml" --dot "$TMP/g.dot"
check "dot file written" grep -q "digraph snnc" "$TMP/g.dot"
run 2 inspect "$SNNC_SRC/models/vgg16_cifar10.yaml" --stage nope
has "$ERR" "is not one of"
run 2 inspect "$SNNC_SRC/models/vgg16_cifar10.yaml" --set train.lrr=3
has "$ERR" "did you mean 'lr'"
run 2 inspect "$SNNC_SRC/models/vgg16_cifar10.yaml" --set input.height=16
has "$ERR" "larger than its input"
no_crash
finish
