#!/usr/bin/env bash
# NIR interchange and recorded inputs end to end: snnc export / import / snn --input --record
# / inspect on models of this repository and, when ../shared/data/nir is there, on the files
# Norse, Sinabs and NumPy wrote (Norse's LIF trace reproduced spike for spike); export ->
# import reproduces a converted network's outputs bit for bit; bad input of every kind exits 2
# with a message. Skipped (77) when snnc was built without HDF5, after checking it says so.
. "$(dirname "$0")/lib.sh"
NIR="$SNNC_SRC/../shared/data/nir"
M="$SNNC_SRC/models"

"$SNNC" import "$TMP/none.nir" -o "$TMP/x" >"$OUT" 2>"$ERR"
rc=$?
if grep -qF "built without HDF5" "$ERR"; then
  check "no HDF5: exit 1" test $rc = 1
  has "$ERR" "install libhdf5-dev and rebuild"
  run 1 export "$M/lif_fc_mnist.yaml" --weights "$SNNC_SRC/tests/golden/lif_fc_mnist.safetensors" \
    --format nir -o "$TMP/x.nir"
  has "$ERR" "built without HDF5"
  [ "$FAILS" -eq 0 ] && exit 77
  finish
fi
check "missing file: exit 2" test $rc = 2 # (with HDF5 a missing file is bad input)
has "$ERR" "none.nir: cannot open the file"

# npy_u8 FILE SHAPE DATA: an .npy file of bytes (numpy.save's layout: header padded to 64)
npy_u8() {
  local dict="{'descr': '|u1', 'fortran_order': False, 'shape': $2, }"
  local len=$(((10 + ${#dict} + 1 + 63) / 64 * 64 - 10))
  {
    printf '\223NUMPY\001\000'
    printf "\\$(printf %03o $((len % 256)))\\$(printf %03o $((len / 256)))"
    printf '%s' "$dict"
    printf '%*s\n' $((len - ${#dict} - 1)) ''
    cat "$3"
  } >"$1"
}
# floats FILE: the float32 values of an .npy file written by snnc, one per line
floats() {
  local len
  len=$(od -An -t u2 -j 8 -N 2 "$1" | tr -d ' ')
  od -An -v -t f4 -w4 -j $((10 + len)) "$1" | tr -d ' '
}

# ---- an snnc model out and back in: lif_fc_mnist ----
W="$SNNC_SRC/tests/golden/lif_fc_mnist.safetensors"
run 0 export "$M/lif_fc_mnist.yaml" --weights "$W" --format nir -o "$TMP/lif.nir"
has "$OUT" "exported lif_fc_mnist: 5 NIR nodes, 4 edges"
has "$OUT" "largest float32 below each theta"
has "$OUT" "Poisson spike trains"
run 0 import "$TMP/lif.nir" -o "$TMP/lif"
has "$OUT" "time step 0.0001 s from the file's metadata"
has "$TMP/lif/model.yaml" "nir_lif: {dt: 0.0001, discretization: euler, reset: value, compare: ge}"
has "$TMP/lif/model.yaml" "snn: {T: 50"
run 0 inspect "$TMP/lif/model.yaml"
has "$OUT" "net.2                  nir_lif          [50, 1, 10]"
# the same spikes from both on one recorded input (T = 6, N = 2 digits of 0/4 spikes)
# (a fixed pseudo-random pattern, LCG exact in awk's doubles: every run sees the same input)
awk -v n=$((6 * 2 * 784)) 'BEGIN { s = 12345; for (i = 0; i < n; i++) {
  s = (s * 69069 + 1) % 4294967296; printf "%c", (int(s / 65536) % 5 == 0) ? 4 : 0 } }' \
  >"$TMP/x.bin" 2>/dev/null
check "784 x 12 input bytes" test "$(wc -c <"$TMP/x.bin")" = $((6 * 2 * 784))
npy_u8 "$TMP/x.npy" "(6, 2, 1, 28, 28)" "$TMP/x.bin"
run 0 snn "$M/lif_fc_mnist.yaml" --weights "$W" --input "$TMP/x.npy" --record layer.2 --out "$TMP/ra"
has "$OUT" "lif_fc_mnist: 2 samples x 6 steps"
run 0 snn "$TMP/lif/model.yaml" --weights "$TMP/lif/weights.safetensors" --input "$TMP/x.npy" \
  --record net.2 --out "$TMP/rb"
for f in layer.2.npy layer.2.v.npy output.npy; do check "wrote $f" test -s "$TMP/ra/$f"; done
check "the same spikes after export + import" cmp -s "$TMP/ra/layer.2.npy" "$TMP/rb/net.2.npy"
check "the same potentials" cmp -s "$TMP/ra/layer.2.v.npy" "$TMP/rb/net.2.v.npy"
check "the same readout" cmp -s "$TMP/ra/output.npy" "$TMP/rb/output.npy"
check "traces are [T, N, 10] float32" grep -qF "'shape': (6, 2, 10)" "$TMP/ra/layer.2.npy"
check "some spikes" test "$(floats "$TMP/ra/layer.2.npy" | grep -c '^1$')" -gt 0
# the reference interpreter gives the same traces
run 0 snn "$TMP/lif/model.yaml" --weights "$TMP/lif/weights.safetensors" --input "$TMP/x.npy" \
  --record net.2 --out "$TMP/rc" --target ref --quiet
check "ref = cpu" cmp -s "$TMP/rb/net.2.npy" "$TMP/rc/net.2.npy"

# ---- an exactly converted network (threshold units -> parallel NIR Threshold nodes) ----
run 0 init "$M/quant_lenet_mnist.yaml" --out "$TMP/q.safetensors"
run 0 convert "$M/quant_lenet_mnist.yaml" --weights "$TMP/q.safetensors" --mode exact -o "$TMP/qs" --quiet
run 0 export "$TMP/qs/model.yaml" --weights "$TMP/qs/weights.safetensors" -o "$TMP/q.nir"
run 0 import "$TMP/q.nir" -o "$TMP/qi"
has "$OUT" "parallel Threshold nodes summed by the next node"
has "$TMP/qi/model.yaml" "threshold: {units: 4}"
has "$TMP/qi/model.yaml" "readout: membrane"
head -c $((2 * 3 * 784)) /dev/urandom >"$TMP/q.bin"
npy_u8 "$TMP/q.npy" "(2, 3, 1, 28, 28)" "$TMP/q.bin"
run 0 snn "$TMP/qs/model.yaml" --weights "$TMP/qs/weights.safetensors" --input "$TMP/q.npy" --out "$TMP/qa" --quiet
run 0 snn "$TMP/qi/model.yaml" --weights "$TMP/qi/weights.safetensors" --input "$TMP/q.npy" --out "$TMP/qb" --quiet
check "converted network: the same outputs after export + import" cmp -s "$TMP/qa/output.npy" "$TMP/qb/output.npy"

# ---- what NIR cannot express, and other refusals ----
run 0 init "$M/lenet_mnist.yaml" --out "$TMP/l.safetensors"
run 2 export "$M/lenet_mnist.yaml" --weights "$TMP/l.safetensors" -o "$TMP/ann.nir"
has "$ERR" "is an ANN; NIR describes spiking networks: convert it first"
run 0 convert "$M/lenet_mnist.yaml" --weights "$TMP/l.safetensors" --mode rate --calib 64 \
  --data "$M/data/mnist-sample" -o "$TMP/ls" --quiet
run 2 export "$TMP/ls/model.yaml" --weights "$TMP/ls/weights.safetensors" -o "$TMP/ls.nir"
has "$ERR" "(maxpool): NIR has no max-pooling node"
check "nothing written on failure" test ! -e "$TMP/ls.nir"
run 2 export "$M/lif_fc_mnist.yaml" --weights "$W" -o "$TMP/y.nir" --format onnx
has "$ERR" "--format"
run 2 export "$M/lif_fc_mnist.yaml" -o "$TMP/y.nir"
has "$ERR" "--weights FILE is required"
run 2 import "$TMP/lif.nir"
has "$ERR" "-o DIR is required"
run 2 import "$SNNC_SRC/tests/corpus/nir/not_hdf5.nir" -o "$TMP/b"
has "$ERR" "not an HDF5 file"
run 2 import "$SNNC_SRC/tests/corpus/nir/lif_bool_r.nir" --dt 1e-4 -o "$TMP/b"
has "$ERR" "/node/nodes/lif/r: unsupported HDF5 datatype"
check "nothing written on failure" test ! -e "$TMP/b/model.yaml"
run 2 import "$TMP/lif.nir" -o "$TMP/b" --reset sometimes
has "$ERR" "--reset"

# ---- bad recorded inputs ----
L="$TMP/lif/model.yaml"
LW="$TMP/lif/weights.safetensors"
printf 'not numpy' >"$TMP/bad.npy"
run 2 snn "$L" --weights "$LW" --input "$TMP/bad.npy"
has "$ERR" "bad.npy: not a NumPy .npy file"
head -c 100 /dev/zero >"$TMP/z.bin"
npy_u8 "$TMP/shape.npy" "(4, 25)" "$TMP/z.bin"
run 2 snn "$L" --weights "$LW" --input "$TMP/shape.npy"
has "$ERR" "shape.npy: shape [4, 25] does not fit the model's input [1, 28, 28]"
npy_u8 "$TMP/short.npy" "(6, 2, 1, 28, 28)" "$TMP/z.bin"
run 2 snn "$L" --weights "$LW" --input "$TMP/short.npy"
has "$ERR" "truncated .npy file"
run 2 snn "$L" --weights "$LW" --input "$TMP/x.npy" --record net.9 --out "$TMP/r"
has "$ERR" "has no layer 'net.9'; did you mean 'net.0'?"
run 2 snn "$L" --weights "$LW" --input "$TMP/x.npy" --record net.2
has "$ERR" "--record needs --out DIR"
run 2 snn "$L" --weights "$LW" --record net.2 --out "$TMP/r"
has "$ERR" "--record needs --input"
run 2 snn "$L" --weights "$LW" --input "$TMP/x.npy" --T 4
has "$ERR" "--T does not apply"
run 2 snn "$L" --weights "$LW" --input "$TMP/x.npy" --target cuda
has "$ERR" "--input runs on the cpu and ref targets"
no_crash

# ---- the files other frameworks wrote ----
if [ -f "$NIR/lif_norse.nir" ]; then
  run 2 import "$NIR/lif_norse.nir" -o "$TMP/n"
  has "$ERR" "give the time step to discretize them at with --dt SECONDS"
  run 0 import "$NIR/lif_norse.nir" --dt 1e-4 -o "$TMP/n"
  has "$OUT" "written by NIR 0.1.1, before 1.0.6"
  # Norse's input column as a [T, 1] bool array
  cut -d, -f1 "$NIR/lif_norse.csv" | while read -r v; do
    if [ "${v%%.*}" = 1 ]; then printf '\001'; else printf '\000'; fi
  done >"$TMP/n.bin"
  npy_u8 "$TMP/n.npy" "(1000, 1)" "$TMP/n.bin"
  sed -i "s/'|u1'/'|b1'/" "$TMP/n.npy"
  run 0 snn "$TMP/n/model.yaml" --weights "$TMP/n/weights.safetensors" --input "$TMP/n.npy" \
    --record all --out "$TMP/nr"
  has "$OUT" "lif_norse: 1 sample x 1000 steps"
  check "net.2.v.npy is [1000, 1]" grep -qF "'shape': (1000, 1)" "$TMP/nr/net.2.v.npy"
  floats "$TMP/nr/net.2.npy" | awk '$1 == 1 { print NR }' >"$TMP/ours"
  awk -F, '$3 == 1 { print NR }' "$NIR/lif_norse.csv" >"$TMP/norse"
  check "Norse's spike steps ($(tr '\n' ' ' <"$TMP/norse"))" cmp -s "$TMP/ours" "$TMP/norse"
  paste -d, <(floats "$TMP/nr/net.2.v.npy") <(cut -d, -f2 "$NIR/lif_norse.csv") >"$TMP/vv"
  check "Norse's potentials to float rounding" awk -F, '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6) bad = 1 } END { exit bad || NR != 1000 }' "$TMP/vv"
fi
if [ -f "$NIR/cnn_sinabs.nir" ]; then
  run 0 import "$NIR/cnn_sinabs.nir" -o "$TMP/s" --T 5
  run 0 inspect "$TMP/s/model.yaml"
  for want in "net.0                  conv2d           [5, 1, 16, 16, 16]" \
    "net.1                  nir_if           [5, 1, 16, 16, 16]" \
    "net.4                  sumpool          [5, 1, 16, 8, 8]" \
    "net.8                  flatten          [5, 1, 128]" \
    "net.12                 nir_if           [5, 1, 10]"; do
    has "$OUT" "$want"
  done
  head -c $((5 * 2 * 2 * 34 * 34)) /dev/urandom | od -An -v -t u1 -w1 | awk '{ printf "%c", ($1 < 60) ? 1 : 0 }' >"$TMP/s.bin" 2>/dev/null
  npy_u8 "$TMP/s.npy" "(5, 2, 2, 34, 34)" "$TMP/s.bin"
  run 0 snn "$TMP/s/model.yaml" --weights "$TMP/s/weights.safetensors" --input "$TMP/s.npy" \
    --record net.1,net.12 --out "$TMP/sr"
  check "net.1 traces [5, 2, 16, 16, 16]" grep -qF "'shape': (5, 2, 16, 16, 16)" "$TMP/sr/net.1.npy"
  # export and import again: the same outputs
  run 0 export "$TMP/s/model.yaml" --weights "$TMP/s/weights.safetensors" -o "$TMP/s2.nir"
  run 0 import "$TMP/s2.nir" -o "$TMP/s2"
  run 0 snn "$TMP/s2/model.yaml" --weights "$TMP/s2/weights.safetensors" --input "$TMP/s.npy" \
    --record net.1,net.12 --out "$TMP/sr2"
  check "Sinabs CNN: the same output after export + import" cmp -s "$TMP/sr/output.npy" "$TMP/sr2/output.npy"
  check "and the same spikes" cmp -s "$TMP/sr/net.12.npy" "$TMP/sr2/net.12.npy"
fi
if [ -f "$NIR/two_lif_neurons.nir" ]; then
  run 0 import "$NIR/two_lif_neurons.nir" --dt 1e-4 -o "$TMP/t"
  run 0 inspect "$TMP/t/model.yaml"
  has "$OUT" "net.2                  nir_lif          [100, 1, 1]"
  head -c 1000 /dev/zero >"$TMP/t.bin"
  npy_u8 "$TMP/t.npy" "(1000, 1)" "$TMP/t.bin"
  run 0 snn "$TMP/t/model.yaml" --weights "$TMP/t/weights.safetensors" --input "$TMP/t.npy" \
    --record net.2 --out "$TMP/tr"
  check "lif1 fires 6 times on its own (v_leak above threshold)" test "$(floats "$TMP/tr/net.2.npy" | grep -c '^1$')" = 6
fi
finish
