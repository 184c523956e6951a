#!/usr/bin/env bash
# snnc train / init / demo on the built-in MNIST sample: the run directory's files, exact
# resume (after --steps, after SIGINT), divergence, checkpoints as weights, bad input.
. "$(dirname "$0")/lib.sh"
MNIST="$SNNC_SRC/models/data/mnist-sample"
M="$SNNC_SRC/models/lenet_mnist.yaml"
SMALL=(--data "$MNIST" --limit-train 500 --limit-test 100 --quiet)

# a full run: every file, in the shapes they promise
run 0 train "$M" "${SMALL[@]}" --epochs 3 --out "$TMP/a"
has "$OUT" "epoch 3/3: train loss"
has "$OUT" "done: 30 steps"
for f in model.yaml run.json steps.csv epochs.csv log.jsonl last.safetensors best.safetensors \
  loss.svg accuracy.svg lr.svg; do
  check "run directory holds $f" test -s "$TMP/a/$f"
done
check "steps.csv: header and 30 rows" test "$(wc -l <"$TMP/a/steps.csv")" = 31
has "$TMP/a/steps.csv" "step,epoch,loss,lr,accuracy"
check "epochs.csv: header and 3 rows" test "$(wc -l <"$TMP/a/epochs.csv")" = 4
has "$TMP/a/epochs.csv" "epoch,train_loss,train_acc,test_top1,test_topk,seconds"
has "$TMP/a/log.jsonl" '"event": "start"'
has "$TMP/a/log.jsonl" '"event": "epoch", "epoch": 3'
has "$TMP/a/log.jsonl" '"event": "end"'
has "$TMP/a/accuracy.svg" "<svg"
has "$TMP/a/accuracy.svg" "test top-1"
has "$TMP/a/run.json" '"train_images": 500'
check "the loss fell over 3 epochs" awk -F, 'NR == 2 { a = $2 } NR == 4 { b = $2 } END { exit !(b < a) }' "$TMP/a/epochs.csv"
check "cosine schedule: the last epoch runs at a quarter of the lr" awk -F, 'NR == 2 { a = $4 } END { exit !($4 < a / 3) }' "$TMP/a/steps.csv"
# the resolved model reloads, and the checkpoint works as --weights
run 0 eval "$TMP/a/model.yaml" --weights "$TMP/a/best.safetensors" --limit 100 --quiet
has "$OUT" "top-1: "
best=$(awk -F, 'NR > 1 && $4 > m { m = $4 } END { print m }' "$TMP/a/epochs.csv")
has "$OUT" "top-1: $(printf %.2f "$best")%"

# the same run is reproducible bit for bit, and independent of the thread count
run 0 train "$M" "${SMALL[@]}" --epochs 3 --out "$TMP/a1" --threads 1
check "rerun (1 thread): identical steps.csv" cmp -s "$TMP/a/steps.csv" "$TMP/a1/steps.csv"
check "rerun (1 thread): identical checkpoint" cmp -s "$TMP/a/last.safetensors" "$TMP/a1/last.safetensors"

# stop mid-epoch with --steps, resume: identical losses and final checkpoint
run 0 train "$M" "${SMALL[@]}" --set train.epochs=3 --steps 13 --out "$TMP/b"
has "$OUT" "step 13 (mid-epoch 2)"
run 0 train --resume "$TMP/b" --quiet --checkpoint-every 4
has "$OUT" "continuing at step 13 (epoch 2, batch 3)"
check "resumed steps.csv equals the uninterrupted run's" cmp -s "$TMP/a/steps.csv" "$TMP/b/steps.csv"
check "resumed checkpoint equals the uninterrupted run's" cmp -s "$TMP/a/last.safetensors" "$TMP/b/last.safetensors"
check "resumed epochs.csv equals (but for seconds)" \
  cmp -s <(cut -d, -f1-5 "$TMP/a/epochs.csv") <(cut -d, -f1-5 "$TMP/b/epochs.csv")
run 2 train --resume "$TMP/b" --quiet
has "$ERR" "nothing to do"
run 0 train --resume "$TMP/b" --quiet --epochs 4
has "$OUT" "epoch 4/4"

# --holdout: the last N of the (--limit-train) training images are the evaluation split
# and are not trained on; its accuracy equals eval's on a test split of exactly those images
run 0 train "$M" --data "$MNIST" --limit-train 600 --holdout 100 --quiet --epochs 1 --out "$TMP/ho"
has "$OUT" "500 training images"
has "$OUT" "100 holdout, 10 steps/epoch"
has "$OUT" "holdout top-1"
has "$TMP/ho/run.json" '"eval_split": "holdout"'
has "$TMP/ho/run.json" '"train_images": 500'
has "$TMP/ho/accuracy.svg" "holdout top-1"
mkdir "$TMP/hod"
{
  printf '\x00\x00\x08\x03\x00\x00\x00\x64\x00\x00\x00\x1c\x00\x00\x00\x1c'
  tail -c +$((16 + 500 * 784 + 1)) "$MNIST/train-images-idx3-ubyte" | head -c $((100 * 784))
} >"$TMP/hod/t10k-images-idx3-ubyte"
{
  printf '\x00\x00\x08\x01\x00\x00\x00\x64'
  tail -c +$((8 + 500 + 1)) "$MNIST/train-labels-idx1-ubyte" | head -c 100
} >"$TMP/hod/t10k-labels-idx1-ubyte"
run 0 eval "$TMP/ho/model.yaml" --weights "$TMP/ho/last.safetensors" --data "$TMP/hod" --quiet
has "$OUT" "top-1: $(printf %.2f "$(awk -F, 'NR == 2 { print $4 }' "$TMP/ho/epochs.csv")")%"
run 0 train --resume "$TMP/ho" --quiet --epochs 2
has "$OUT" "500 training images"
has "$OUT" "epoch 2/2"
has "$OUT" "holdout top-1"
run 2 train --resume "$TMP/ho" --holdout 50 --epochs 3
has "$ERR" "--resume continues a run as it was started"
run 2 train "$M" --data "$MNIST" --limit-train 600 --holdout 600 --quiet --out "$TMP/ho2"
has "$ERR" "cannot hold out 600 of 600 images"
check "no run directory for a holdout that leaves nothing to train on" test ! -e "$TMP/ho2"

# SIGINT: finishes the step, writes a checkpoint, exits 130; the resumed run matches one
# that was never interrupted
"$SNNC" train "$M" "${SMALL[@]}" --set train.epochs=400 --out "$TMP/c" >"$OUT" 2>"$ERR" &
pid=$!
for _ in $(seq 200); do
  [ "$(wc -l 2>/dev/null <"$TMP/c/steps.csv" || echo 0)" -gt 25 ] && break
  sleep 0.05
done
kill -INT $pid
wait $pid
check "SIGINT exits 130" test $? = 130
has "$ERR" "snnc train --resume $TMP/c"
k=$(tail -n 1 "$TMP/c/steps.csv" | cut -d, -f1)
check "interrupted mid-run (step $k)" test "$k" -gt 25 -a "$k" -lt 4000
run 0 train --resume "$TMP/c" --quiet --steps $((k + 7))
run 0 train "$M" "${SMALL[@]}" --set train.epochs=400 --steps $((k + 7)) --out "$TMP/c2"
check "after SIGINT + resume: identical steps.csv" cmp -s "$TMP/c/steps.csv" "$TMP/c2/steps.csv"
check "after SIGINT + resume: identical checkpoint" cmp -s "$TMP/c/last.safetensors" "$TMP/c2/last.safetensors"

# divergence: clear message, exit 1, the last good checkpoint still loads
run 1 train "$M" "${SMALL[@]}" --set train.lr=1e30 --out "$TMP/d"
has "$ERR" "training diverged"
has "$ERR" "last good weights are in $TMP/d/last.safetensors"
has "$TMP/d/log.jsonl" '"event": "diverged"'
run 0 eval "$TMP/d/model.yaml" --weights "$TMP/d/last.safetensors" --limit 10 --quiet

# init: seeded weights, reproducible, usable with --init and --weights
run 0 init "$M" --out "$TMP/w1.safetensors" --seed 7
has "$OUT" "206922 values"
run 0 init "$M" --out "$TMP/w2.safetensors" --seed 7
check "init: same seed, same bytes" cmp -s "$TMP/w1.safetensors" "$TMP/w2.safetensors"
run 0 init "$M" --out "$TMP/w3.safetensors" --seed 8
check "init: another seed, other weights" bash -c "! cmp -s '$TMP/w1.safetensors' '$TMP/w3.safetensors'"
run 0 train "$M" "${SMALL[@]}" --steps 3 --init "$TMP/w1.safetensors" --out "$TMP/e"
run 0 train "$M" "${SMALL[@]}" --steps 3 --init "$TMP/a/last.safetensors" --out "$TMP/e2"
run 2 init "$M"
has "$ERR" "--out FILE is required"

# bad input: clear errors, exit 2, nothing half-written
run 2 train "$M" "${SMALL[@]}" --epochs 1 --out "$TMP/a"
has "$ERR" "already holds a run"
run 2 train "$M" "${SMALL[@]}" --epochs 1 --steps 3
has "$ERR" "not both"
run 2 train --resume "$TMP/nonexistent"
has "$ERR" "not a run directory"
run 2 train --resume "$TMP/a" --set train.lr=1
has "$ERR" "--resume continues a run as it was started"
run 2 train "$M" --data "$TMP/nodata" --epochs 1 --out "$TMP/f"
has "$ERR" "$TMP/nodata"
check "no run directory for a run that could not start" test ! -e "$TMP/f/model.yaml"
run 2 train "$M" "${SMALL[@]}" --batch 600 --out "$TMP/g"
has "$ERR" "fewer than one batch"
run 2 train "$M" "${SMALL[@]}" --init "$TMP/a/steps.csv" --out "$TMP/h"
has "$ERR" "steps.csv"
run 2 train "$SNNC_SRC/models/quant_lenet_mnist.yaml" "${SMALL[@]}" --init "$TMP/w1.safetensors" --out "$TMP/i"
has "$ERR" "features.0.weight"
# a corrupt checkpoint is refused on resume
cp -r "$TMP/a" "$TMP/j"
head -c 1000 "$TMP/a/last.safetensors" >"$TMP/j/last.safetensors"
run 2 train --resume "$TMP/j" --epochs 5
has "$ERR" "last.safetensors"
no_crash

# demo: the main job, on a shortened schedule
run 0 demo --epochs 1 --out "$TMP/demo"
has "$OUT" "epoch 1/1"
has "$OUT" "evaluating the best checkpoint"
has "$OUT" "top-1: "
finish
