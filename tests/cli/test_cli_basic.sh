#!/usr/bin/env bash
# The command line itself: help, version, unknown commands and options, exit codes.
. "$(dirname "$0")/lib.sh"

run 0 --help
has "$OUT" "usage: snnc COMMAND"
for cmd in inspect eval; do
  run 0 "$cmd" --help
  has "$OUT" "usage: snnc $cmd"
  has "$OUT" "--help"
done
run 0 --version
has "$OUT" "snnc "
run 2
run 2 evall
has "$ERR" "did you mean 'eval'?"
run 2 inspect "$SNNC_SRC/models/vgg16_cifar10.yaml" --jsn
has "$ERR" "did you mean '--json'?"
run 2 inspect
has "$ERR" "missing argument"
run 2 inspect a.yaml b.yaml
has "$ERR" "unexpected argument"
run 2 eval "$SNNC_SRC/models/lif_fc_mnist.yaml" --batch 0
has "$ERR" "--batch: 0 is out of range"
run 2 eval "$SNNC_SRC/models/lif_fc_mnist.yaml" --batch abc
has "$ERR" "expected an integer"
run 2 eval "$SNNC_SRC/models/lif_fc_mnist.yaml" --target gpu
has "$ERR" "is not one of"
run 2 inspect "$TMP/does-not-exist.yaml"
has "$ERR" "does-not-exist.yaml"
no_crash
finish
