#!/usr/bin/env bash
# Accuracy of reduced precision on the CPU (issue 12, point 4), one command:
#
#   bash bench/precision_accuracy.sh            # from the repository root, after the build
#
# 1. Inference: lenet_mnist and quant_lenet_mnist trained (fp32) on Fashion-MNIST (Debian's
#    dataset-fashion-mnist, decompressed here; 60,000 / 10,000 images), vgg16_bn_cifar10 on
#    the CIFAR-10 subset in ../shared/data (5,085 / 1,017 images); then each model's test
#    top-1 in fp32, bf16 and int8 (--calib 512 training images, p99.99).
# 2. bf16 training: lenet_mnist (Fashion-MNIST) and vgg16_bn_cifar10 (CIFAR subset) trained
#    in fp32 and in bf16 from the same seeded initialization for the same epochs, several
#    seeds; the final test top-1 of each run.
# Prints two markdown tables (also written to $OUT/accuracy.md). Environment: SNNC (the
# binary, default build/snnc), OUT (work directory, default /tmp/snnc-precision-accuracy),
# EPOCHS_LENET (default 3), EPOCHS_QLENET (3), EPOCHS_VGG (4), SEEDS_LENET ("1 2 3"),
# SEEDS_VGG ("1 2"), CIFAR (../shared/data/cifar-10-batches-bin), THREADS (all cores).
set -euo pipefail
SNNC=${SNNC:-build/snnc}
OUT=${OUT:-/tmp/snnc-precision-accuracy}
CIFAR=${CIFAR:-../shared/data/cifar-10-batches-bin}
EPOCHS_LENET=${EPOCHS_LENET:-3}
EPOCHS_QLENET=${EPOCHS_QLENET:-3}
EPOCHS_VGG=${EPOCHS_VGG:-4}
SEEDS_LENET=${SEEDS_LENET:-"1 2 3"}
SEEDS_VGG=${SEEDS_VGG:-"1 2"}
THREADS=${THREADS:-0}
mkdir -p "$OUT"
FMNIST="$OUT/fashion-mnist"
if [ ! -f "$FMNIST/t10k-labels-idx1-ubyte" ]; then
    src=/usr/share/datasets/fashion-mnist
    [ -d "$src" ] || { echo "needs Debian's dataset-fashion-mnist ($src)" >&2; exit 2; }
    mkdir -p "$FMNIST"
    for f in "$src"/*.gz; do gunzip -c "$f" > "$FMNIST/$(basename "$f" .gz)"; done
fi

# train MODEL DATA EPOCHS SEED PRECISION RUNDIR: the run's last test top-1 (epochs.csv)
train() {
    local model=$1 data=$2 epochs=$3 seed=$4 prec=$5 dir=$6
    if [ ! -f "$dir/epochs.csv" ] || [ "$(tail -n +2 "$dir/epochs.csv" | wc -l)" -lt "$epochs" ]; then
        rm -rf "$dir"
        "$SNNC" train "models/$model.yaml" --data "$data" --epochs "$epochs" --seed "$seed" \
            --precision "$prec" --threads "$THREADS" --out "$dir" --quiet >&2
    fi
    # columns: epoch, train loss, train acc, test top-1, ...
    local col
    col=$(head -1 "$dir/epochs.csv" | tr ',' '\n' | grep -n '^test_top1$' | cut -d: -f1)
    tail -1 "$dir/epochs.csv" | cut -d, -f"$col"
}

sub() { awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }

# eval MODEL DATA WEIGHTS PRECISION: test top-1 (%)
evaluate() {
    "$SNNC" eval "models/$1.yaml" --data "$2" --weights "$3" --precision "$4" \
        --threads "$THREADS" --json 2>/dev/null | sed 's/.*"top1": \([0-9.]*\).*/\1/'
}

{
echo "#### Inference: test top-1 (%) of fp32-trained models at each precision"
echo
echo "| model (data, epochs) | test images | fp32 | bf16 | int8 | bf16 - fp32 | int8 - fp32 |"
echo "|---|---|---|---|---|---|---|"
for spec in "lenet_mnist $FMNIST $EPOCHS_LENET Fashion-MNIST 10000" \
            "quant_lenet_mnist $FMNIST $EPOCHS_QLENET Fashion-MNIST 10000" \
            "vgg16_bn_cifar10 $CIFAR $EPOCHS_VGG CIFAR-10-subset 1017"; do
    set -- $spec
    model=$1 data=$2 epochs=$3 name=$4 ntest=$5
    dir="$OUT/infer-$model"
    train "$model" "$data" "$epochs" 1 fp32 "$dir" > /dev/null
    f=$(evaluate "$model" "$data" "$dir/last.safetensors" fp32)
    b=$(evaluate "$model" "$data" "$dir/last.safetensors" bf16)
    i=$(evaluate "$model" "$data" "$dir/last.safetensors" int8)
    printf '| %s (%s, %s) | %s | %.2f | %.2f | %.2f | %+.2f | %+.2f |\n' "$model" "$name" \
        "$epochs" "$ntest" "$f" "$b" "$i" "$(sub "$b" "$f")" "$(sub "$i" "$f")"
done
echo
echo "#### bf16 training: final test top-1 (%), same seed and epochs as the fp32 run"
echo
echo "| model (data, epochs) | seed | fp32 | bf16 | bf16 - fp32 |"
echo "|---|---|---|---|---|"
for spec in "lenet_mnist $FMNIST $EPOCHS_LENET Fashion-MNIST $SEEDS_LENET" \
            "vgg16_bn_cifar10 $CIFAR $EPOCHS_VGG CIFAR-10-subset $SEEDS_VGG"; do
    set -- $spec
    model=$1 data=$2 epochs=$3 name=$4
    shift 4
    for seed in "$@"; do
        f=$(train "$model" "$data" "$epochs" "$seed" fp32 "$OUT/train-$model-fp32-s$seed")
        b=$(train "$model" "$data" "$epochs" "$seed" bf16 "$OUT/train-$model-bf16-s$seed")
        printf '| %s (%s, %s) | %s | %.2f | %.2f | %+.2f |\n' "$model" "$name" "$epochs" "$seed" \
            "$f" "$b" "$(sub "$b" "$f")"
    done
done
} | tee "$OUT/accuracy.md"
