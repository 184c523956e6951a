#!/usr/bin/env bash
# Data-parallel training under mpirun (loopback, one host): 2 and 3 ranks against 1 with the
# same global batch (a BN-free VGG, lif_fc_mnist, a batch-norm net with train.sync_bn), bit-
# identical repeated runs, resuming a 2-rank run with 1 rank, a rank killed mid-epoch, ranks
# that disagree on the model or fail alone, files written by rank 0 only, sharded evaluation.
# Skipped (77) without mpirun or without MPI in the build.
. "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || { echo "skipped: no mpirun (openmpi-bin)"; exit 77; }
"$SNNC" --version | grep -q " mpi" || { echo "skipped: snnc built without MPI"; exit 77; }
: "${SNNC_TOOLS:?SNNC_TOOLS must point at the test tools}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Open MPI keeps its own allocations until exit: under the sanitizers, no leak report
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
QUICK=${SNNC_TEST_QUICK:-0}
MPI=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
MNIST="$SNNC_SRC/models/data/mnist-sample"
TOL=1e-5

# mrun EXPECTED_CODE NRANKS snnc-args...: like run, under mpirun
mrun() {
  local want=$1 n=$2; shift 2
  "${MPI[@]}" -np "$n" "$SNNC" "$@" >"$OUT" 2>"$ERR"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: mpirun -np $n snnc $* exited $got, expected $want" >&2
    sed 's/^/  stderr: /' "$ERR" | head -20 >&2
    FAILS=$((FAILS + 1))
  fi
}

# same_run A B WHAT [--norm]: losses (steps.csv, each step's relative difference) and weights
# of run directories A and B agree within TOL relative: every tensor's max|a - b| / max|a|,
# or with --norm the whole model's ||a - b|| / ||a||; prints the measured figures
same_run() {
  local loss w all
  loss=$(paste -d, "$1/steps.csv" "$2/steps.csv" | awk -F, 'NR > 1 { d = $3 - $8; if (d < 0) d = -d;
    r = d / ($3 < 0 ? -$3 : $3); if (r > m) m = r } END { printf "%.3g", m }')
  w=$("$SNNC_TOOLS/st_compare" --weights ${4:-} "$1/last.safetensors" "$2/last.safetensors" "$TOL")
  local wrc=$?
  all=$("$SNNC_TOOLS/st_compare" "$1/last.safetensors" "$2/last.safetensors")
  echo "$3: losses max rel diff $loss; weights $w; with optimizer state $all"
  check "$3: steps.csv has every step" test "$(wc -l <"$1/steps.csv")" = "$(wc -l <"$2/steps.csv")"
  check "$3: losses within $TOL" awk -v m="$loss" -v t="$TOL" 'BEGIN { exit !(m <= t) }'
  check "$3: weights within $TOL" test "$wrc" = 0
}

# ---- a BN-free VGG (dropout in the classifier) on the MNIST sample: 1, 2 and 3 ranks ------
cat >"$TMP/vgg.yaml" <<EOF
name: dist_vgg
input: {channels: 1, height: 28, width: 28}
num_classes: 10
vgg:
  cfg: [8, M, 16, M, 32, M, 32, M]
  conv: {kernel_size: 3, padding: 1, bias: true}
  classifier: {hidden: [32], dropout: 0.5, bias: true}
data: {dataset: mnist, path: $MNIST, scale: 0.00392156863, mean: [0.1307], std: [0.3081]}
train: {optimizer: sgd, lr: 0.05, momentum: 0.9, weight_decay: 5.0e-4, epochs: 1, batch_size: 16}
EOF
V=(train "$TMP/vgg.yaml" --steps 20 --limit-test 100 --threads 1 --quiet)
run 0 "${V[@]}" --out "$TMP/v1"
mrun 0 2 "${V[@]}" --out "$TMP/v2"
has "$OUT" "2 ranks (mpi): 16 images per step, 8 + 8"
same_run "$TMP/v1" "$TMP/v2" "VGG, 2 ranks vs 1"
# the two ranks packed the weights into shared memory, each its share of the layers; packing
# each its own gives the same bytes, so the same run bit for bit
has "$TMP/v2/log.jsonl" '"packing_steps": 11, "packing_own_steps": 7'
SNNC_SHARE_PACKING=0 mrun 0 2 "${V[@]}" --out "$TMP/u2"
hasnt "$TMP/u2/log.jsonl" packing_shared_bytes
check "unshared packing: identical steps.csv" cmp -s "$TMP/v2/steps.csv" "$TMP/u2/steps.csv"
check "unshared packing: identical checkpoint" cmp -s "$TMP/v2/last.safetensors" "$TMP/u2/last.safetensors"
# nowhere to put the shared memory (Open MPI would fail it on one rank and leave the other
# waiting): the ranks agree to pack each its own, no hang
OMPI_MCA_osc_sm_backing_directory="$TMP/nowhere" mrun 0 2 "${V[@]}" --out "$TMP/u3"
hasnt "$TMP/u3/log.jsonl" packing_shared_bytes
check "no shared memory: identical checkpoint" cmp -s "$TMP/v2/last.safetensors" "$TMP/u3/last.safetensors"
# rank 0 alone writes the run directory; the sharded evaluation equals a single process's
check "one steps.csv header" test "$(grep -c '^step,' "$TMP/v2/steps.csv")" = 1
check "no stray run directories" test "$(ls "$TMP" | grep -c '^v2')" = 1
top=$(sed -n 's/.*(mid-epoch 1): test top-1 \([0-9.]*\)%.*/\1/p' "$OUT")
run 0 eval "$TMP/v2/model.yaml" --weights "$TMP/v2/last.safetensors" --limit 100 --quiet
has "$OUT" "top-1: $top%"
if [ "$QUICK" = 0 ]; then
  mrun 0 3 "${V[@]}" --out "$TMP/v3"
  has "$OUT" "6 + 5 + 5"
  same_run "$TMP/v1" "$TMP/v3" "VGG, 3 ranks vs 1"
  # the same ranks repeat a run bit for bit (the reduction order is fixed)
  mrun 0 2 "${V[@]}" --out "$TMP/v2b"
  check "2-rank rerun: identical steps.csv" cmp -s "$TMP/v2/steps.csv" "$TMP/v2b/steps.csv"
  check "2-rank rerun: identical checkpoint" cmp -s "$TMP/v2/last.safetensors" "$TMP/v2b/last.safetensors"
fi

# ---- resume a 2-rank run with 1 rank (and with 2: bit-identical) -------------------------
mrun 0 2 train "$TMP/vgg.yaml" --steps 10 --set train.epochs=1 --limit-test 100 --threads 1 \
  --quiet --out "$TMP/r"
cp -r "$TMP/r" "$TMP/r2"
run 0 train --resume "$TMP/r" --steps 20 --threads 1 --quiet
has "$OUT" "continuing at step 10"
same_run "$TMP/v2" "$TMP/r" "2-rank run resumed with 1 rank vs the uninterrupted 2-rank run"
if [ "$QUICK" = 0 ]; then
  mrun 0 2 train --resume "$TMP/r2" --steps 20 --threads 1 --quiet
  check "2-rank resume of a 2-rank run: identical checkpoint" \
    cmp -s "$TMP/v2/last.safetensors" "$TMP/r2/last.safetensors"
  check "2-rank resume of a 2-rank run: identical steps.csv" cmp -s "$TMP/v2/steps.csv" "$TMP/r2/steps.csv"
fi

# ---- lif_fc_mnist (Poisson spikes drawn with global image indices, Adam, MSE) -------------
L=(train "$SNNC_SRC/models/lif_fc_mnist.yaml" --data "$MNIST" --steps 20 --limit-test 64 --threads 1 --quiet)
run 0 "${L[@]}" --out "$TMP/l1"
mrun 0 2 "${L[@]}" --out "$TMP/l2"
same_run "$TMP/l1" "$TMP/l2" "lif_fc_mnist, 2 ranks vs 1"
if [ "$QUICK" = 0 ]; then
  mrun 0 3 "${L[@]}" --out "$TMP/l3"
  same_run "$TMP/l1" "$TMP/l3" "lif_fc_mnist, 3 ranks vs 1"
fi

# ---- batch norm: per-rank statistics by default, the global batch's with train.sync_bn ----
# A VGG-style net of conv-BN-ReLU-pool blocks on noise images (no region of equal pixels
# whose ReLUs could all flip on one rounding difference). With batch norm, a pre-activation
# within rounding of zero (or two pooled values within rounding of a tie) is decided
# differently by any two equivalent computations now and then: two single-process backends
# (cpu and ref) then differ as much as one rank and several do, mostly in the small
# batch-norm biases. So the whole model's relative difference is what is held to TOL here
# (and printed next to the per-tensor one).
mkdir -p "$TMP/cifar" && "$SNNC_TOOLS/make_cifar" "$TMP/cifar" 500 7
cat >"$TMP/bn.yaml" <<EOF
name: dist_bn
input: {channels: 3, height: 32, width: 32}
num_classes: 10
network:
  - features:
      - conv2d: {out_channels: 16, kernel_size: 3, padding: 1, bias: false}
      - batchnorm
      - relu
      - maxpool: {kernel_size: 2}
      - conv2d: {out_channels: 32, kernel_size: 3, padding: 1, bias: false}
      - batchnorm
      - relu
      - maxpool: {kernel_size: 2}
      - conv2d: {out_channels: 32, kernel_size: 3, padding: 1, bias: false}
      - batchnorm
      - relu
      - maxpool: {kernel_size: 2}
  - flatten
  - classifier:
      - linear: {out_features: 64}
      - relu
      - dropout: {p: 0.5}
      - linear: {out_features: 10}
data: {dataset: cifar10, path: $TMP/cifar, scale: 0.00392156863, mean: [0.5, 0.5, 0.5], std: [0.29, 0.29, 0.29]}
train: {optimizer: sgd, lr: 0.002, momentum: 0.9, epochs: 1, batch_size: 24, seed: 1, sync_bn: true}
EOF
B=(train "$TMP/bn.yaml" --steps 20 --limit-test 48 --threads 1 --quiet)
run 0 "${B[@]}" --out "$TMP/b1"
run 0 "${B[@]}" --out "$TMP/b1n" --set train.sync_bn=false
check "sync_bn on one rank is plain batch norm" cmp -s "$TMP/b1/last.safetensors" "$TMP/b1n/last.safetensors"
mrun 0 2 "${B[@]}" --out "$TMP/b2"
same_run "$TMP/b1" "$TMP/b2" "sync_bn, 2 ranks vs 1" --norm
mrun 0 2 "${B[@]}" --out "$TMP/b2n" --set train.sync_bn=false
d=$("$SNNC_TOOLS/st_compare" --weights "$TMP/b1/last.safetensors" "$TMP/b2n/last.safetensors" 1e-3)
check "per-rank batch norm differs from one rank's ($d)" test $? = 1
if [ "$QUICK" = 0 ]; then
  mrun 0 3 "${B[@]}" --out "$TMP/b3"
  same_run "$TMP/b1" "$TMP/b3" "sync_bn, 3 ranks vs 1" --norm
fi

# ---- a rank killed mid-epoch: the job ends non-zero within 10 s, the checkpoint loads -----
K="$TMP/kill"
"${MPI[@]}" -np 2 "$SNNC" train "$TMP/vgg.yaml" --epochs 100 --checkpoint-every 3 --threads 1 \
  --quiet --out "$K" >"$TMP/kill.out" 2>"$TMP/kill.err" &
mp=$!
for _ in $(seq 600); do # until the run has checkpointed after step 9 (up to 60 s)
  grep -qE '"checkpoint".*"step": ([1-9][0-9]|9)' "$K/log.jsonl" 2>/dev/null && break
  sleep 0.1
done
victim=""
for p in $(pgrep -x snnc); do
  tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qx "$K" || continue
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
done
check "found rank 1 of the running job" test -n "$victim"
t0=$(date +%s%N)
[ -n "$victim" ] && kill -9 "$victim"
for _ in $(seq 300); do kill -0 "$mp" 2>/dev/null || break; sleep 0.05; done
alive=0
kill -0 "$mp" 2>/dev/null && alive=1
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$alive" = 1 ]; then kill -9 "$mp"; fi
wait "$mp"
code=$?
echo "killed rank 1: mpirun exited $code after $ms ms"
check "the job ended within 10 s of the kill" test "$alive" = 0 -a "$ms" -lt 10000
check "the job's exit code is non-zero" test "$code" != 0
has "$TMP/kill.err" "rank 1"
run 0 eval "$K/model.yaml" --weights "$K/last.safetensors" --limit 50 --quiet
has "$OUT" "top-1: "
run 0 train --resume "$K" --steps "$(($(grep -c . "$K/steps.csv") + 2))" --threads 1 --quiet
has "$OUT" "continuing at step"

# ---- ranks that disagree, or fail alone, stop the job with one clear message -------------
M=(train "$TMP/vgg.yaml" --steps 2 --limit-test 16 --threads 1 --quiet)
"${MPI[@]}" -np 1 "$SNNC" "${M[@]}" --out "$TMP/mm" : -np 1 "$SNNC" "${M[@]}" --out "$TMP/mm" \
  --set train.lr=0.1 >"$OUT" 2>"$ERR"
check "a model mismatch exits 2" test $? = 2
has "$ERR" "the model (the resolved YAML with every --set applied) of rank 1 differs from rank 0's"
check "reported once" test "$(grep -c "do not train the same thing" "$ERR")" = 1
"${MPI[@]}" -np 1 "$SNNC" "${M[@]}" --out "$TMP/md" : -np 1 "$SNNC" "${M[@]}" --out "$TMP/md" \
  --limit-train 1000 >"$OUT" 2>"$ERR"
check "a data mismatch exits 2" test $? = 2
has "$ERR" "the data (the training and test images and labels) of rank 1 differs"
"${MPI[@]}" -np 1 "$SNNC" "${M[@]}" --out "$TMP/mf" : -np 1 "$SNNC" "${M[@]}" --out "$TMP/mf" \
  --data "$TMP/nowhere" >"$OUT" 2>"$ERR"
check "one rank's missing data exits 2" test $? = 2
has "$ERR" "rank 1/2 on "
has "$ERR" "$TMP/nowhere"
check "only the failing rank reports" test "$(grep -c "snnc train: error" "$ERR")" = 1
check "no run directory left by a failed start" test ! -e "$TMP/mf/last.safetensors"
mrun 2 2 train "$TMP/vgg.yaml" --batch 1 --steps 2 --quiet
has "$ERR" "the global batch of 1 images is smaller than the 2 ranks"
mrun 2 2 train "$TMP/bn.yaml" --steps 2 --quiet --target ref
has "$ERR" "train.sync_bn on several ranks is implemented for --target cpu only"

# ---- --target cuda on the CUDA emulator (tests/emu: kernels run on the CPU, device memory
# is host memory) with a mock NCCL that sums over MPI: NCCL's host side (unique id, groups,
# scaling, failures), and 2 ranks' losses and weights against 1 rank's ----------------------
if [ -n "${SNNC_CUDA_EMU:-}" ] && [ -f "$SNNC_CUDA_EMU" ] && [ -n "${SNNC_MOCK_NCCL:-}" ] &&
  [ -f "$SNNC_MOCK_NCCL" ]; then
  export SNNC_LIBCUDA="$SNNC_CUDA_EMU" SNNC_CUBLAS="$SNNC_CUDA_EMU" SNNC_NVRTC="$SNNC_CUDA_EMU"
  export SNNC_NCCL="$SNNC_MOCK_NCCL"
  LENET="$SNNC_SRC/models/lenet_mnist.yaml"
  if "$SNNC" compile "$LENET" --target cuda --arch sm_90 -o "$TMP/probe" >/dev/null 2>&1; then
    C=(train "$LENET" --target cuda --data "$MNIST" --steps 2 --limit-test 16 --threads 1 --quiet)
    run 0 "${C[@]}" --out "$TMP/cu1"
    export MOCK_NCCL_LOG="$TMP/nccl.log"
    mrun 0 2 "${C[@]}" --out "$TMP/cu"
    has "$OUT" "done: 2 steps"
    same_run "$TMP/cu1" "$TMP/cu" "--target cuda (emulated), 2 ranks vs 1"
    has "$MOCK_NCCL_LOG" 'rank 0: ncclGetUniqueId'
    ids=$(sed -n 's/.*ncclCommInitRank [01] of 2, id "\(.*\)"/\1/p' "$MOCK_NCCL_LOG" | sort -u | wc -l)
    check "both ranks joined NCCL with rank 0's unique id" test "$ids" = 1 -a \
      "$(grep -c ncclCommInitRank "$MOCK_NCCL_LOG")" = 2
    # every gradient of LeNet (206,922 floats) summed once per step on each rank, each
    # rank's times its share 1/2, in groups; operators freed
    for rk in 0 1; do
      floats=$(awk -v r="rank $rk:" 'index($0, r) == 1 && /ncclAllReduce/ { n += $4 } END { print n }' "$MOCK_NCCL_LOG")
      check "rank $rk summed 2 steps of LeNet's gradients ($floats floats)" test "$floats" = 413844
    done
    check "all sums in groups with the 1/2 scale" test "$(grep ncclAllReduce "$MOCK_NCCL_LOG" | grep -vc 'scalar 0.5, in group 1')" = 0
    has "$MOCK_NCCL_LOG" "rank 1: ncclCommDestroy (0 operators left, group depth 0)"
    unset MOCK_NCCL_LOG
    # a failing NCCL call on one rank ends the job, naming the rank and the call
    MOCK_NCCL_FAIL=ncclAllReduce:3 MOCK_NCCL_FAIL_RANK=1 mrun 1 2 "${C[@]}" --out "$TMP/cuf"
    has "$ERR" "rank 1/2 on "
    has "$ERR" "ncclAllReduce failed on rank 1"
    SNNC_NCCL="$TMP/no-nccl.so" mrun 1 2 "${C[@]}" --out "$TMP/cun"
    has "$ERR" "needs NCCL"
  else
    echo "skipped the NCCL part: no CUDA backend"
  fi
  unset SNNC_LIBCUDA SNNC_CUBLAS SNNC_NVRTC SNNC_NCCL
else
  echo "skipped the NCCL part: no CUDA emulator or mock NCCL"
fi
finish
