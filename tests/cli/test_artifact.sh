#!/usr/bin/env bash
# snnc compile --emit lib: C libraries per model, built and used the way a user would.
#
# For an ANN (LeNet on MNIST, and VGG11 on CIFAR-shaped data outside the sanitizer build),
# the converted seed-001 SNN (quantized LeNet trained briefly and converted exactly) and the
# LIF network of seed 004 (trained briefly): the examples are compiled with the system C
# compiler against the static and the shared library (nothing from snnc, LLVM or libyaml on
# the link line: checked with the linker map, nm and ldd), and their scores equal
# 'snnc eval' bit for bit, for the host variant and for the portable x86-64-v3 one (against
# the JIT restricted to AVX2); streaming step by step equals the whole run; the API's misuse
# (tests/artifact/api_check.c: NULLs, sizes, weights files of another model or truncated,
# threads) gives error codes and messages; the Python module gives the same scores; and the
# command's own errors are clear and leave nothing half-written.
. "$(dirname "$0")/lib.sh"
MNIST="$SNNC_SRC/models/data/mnist-sample"
IMG="$MNIST/t10k-images-idx3-ubyte"
LAB="$MNIST/t10k-labels-idx1-ubyte"
EX="$SNNC_SRC/examples"
API="$SNNC_SRC/tests/artifact/api_check.c"
CC=${CC:-cc}
QUICK=${SNNC_TEST_QUICK:-}
export SNNC_CACHE_DIR="${SNNC_CACHE_DIR:-$TMP/cache}"

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "skipped: no C compiler ($CC) to build programs against the artifacts"
  exit 77
fi
"$SNNC" compile "$SNNC_SRC/models/lenet_mnist.yaml" --emit lib -o "$TMP/probe" --shared off \
  >"$OUT" 2>"$ERR"
if grep -q "built without LLVM" "$ERR"; then
  echo "skipped: this snnc has no LLVM backend"
  exit 77
fi

# cbuild OUT DIR SRC LIB...: compiles an example against an artifact (a linker map next to it)
cbuild() {
  local out=$1 dir=$2 src=$3; shift 3
  if ! "$CC" -O2 -Wall -Wextra -Werror -I "$dir" -I "$EX" "$src" "$@" -lm -lpthread \
    -Wl,-Map,"$out.map" -o "$out" 2>"$TMP/cc.err"; then
    echo "FAIL: $CC could not build $(basename "$src") against $dir:" >&2
    head -20 "$TMP/cc.err" >&2
    FAILS=$((FAILS + 1))
  fi
}
# standalone FILE.map: nothing but the artifact and the C library in the link
standalone() {
  check "$1: no LLVM, libyaml or snnc library in the link" \
    bash -c "! grep -qiE 'libLLVM|libyaml|snnc_core|libsnnc_rt' '$1'"
}
same() { # same WHAT A B: two float32 files are identical (and non-trivial)
  check "$1" cmp -s "$2" "$3"
  check "$1: $(basename "$2") holds nonzero scores" \
    bash -c "od -An -v -f '$2' | tr -s ' ' '\n' | grep -qvE '^(0|-0|)$'"
}

# ---------------------------------------------------------------- an ANN: LeNet ----
L="$SNNC_SRC/models/lenet_mnist.yaml"
run 0 init "$L" --out "$TMP/lenet.safetensors" --seed 3
run 0 compile "$L" --emit lib --weights "$TMP/lenet.safetensors" --batch 8 -o "$TMP/lenet"
has "$OUT" "compiled lenet_mnist into the C library lenet_mnist"
has "$OUT" "variant host"
has "$OUT" "variant x86-64-v3"
for f in lenet_mnist.h snnc_model.h liblenet_mnist.a liblenet_mnist.so lenet_mnist.json; do
  check "wrote $f" test -s "$TMP/lenet/$f"
done
check "no staging directory left" bash -c "! ls -a '$TMP/lenet' | grep -q '^\.snnc'"
has "$TMP/lenet/lenet_mnist.h" "#define lenet_mnist_BATCH          8"
has "$TMP/lenet/lenet_mnist.h" "int lenet_mnist_run(lenet_mnist_ctx *ctx"
has "$TMP/lenet/lenet_mnist.h" "x86-64-v3: LLVM CPU x86-64-v3, avx2 vectors"
has "$TMP/lenet/lenet_mnist.json" '"link_needs"'
# the static library's symbol index is usable by the system tools, and it needs nothing
# from LLVM or libyaml
check "ar lists the members" bash -c "ar t '$TMP/lenet/liblenet_mnist.a' | grep -q lenet_mnist_glue.o"
check "nm: no LLVM or yaml symbols needed" \
  bash -c "! nm -u '$TMP/lenet/liblenet_mnist.a' | grep -qE 'LLVM|yaml_|sn_jit'"
check "the shared library exports lenet_mnist_* only" \
  bash -c "nm -D --defined-only '$TMP/lenet/liblenet_mnist.so' | awk '{print \$3}' | grep -v '^lenet_mnist_' | grep -qv '^\$' && exit 1 || exit 0"
check "ldd: the shared library needs libc and libm only" \
  bash -c "! ldd '$TMP/lenet/liblenet_mnist.so' | grep -qiE 'llvm|yaml|snnc'"

cbuild "$TMP/classify" "$TMP/lenet" "$EX/classify.c" "$TMP/lenet/liblenet_mnist.a"
cbuild "$TMP/classify_so" "$TMP/lenet" "$EX/classify.c" -L"$TMP/lenet" -llenet_mnist \
  -Wl,-rpath,"$TMP/lenet"
standalone "$TMP/classify.map"
standalone "$TMP/classify_so.map"
check "the shared example loads liblenet_mnist.so" \
  bash -c "ldd '$TMP/classify_so' | grep -q liblenet_mnist.so"

# 37 images: four full batches of 8 and a short one
"$TMP/classify" --idx "$IMG" --labels "$LAB" --limit 37 --dump-logits "$TMP/a_host.f32" \
  >"$OUT" 2>"$ERR" || { echo "FAIL: classify" >&2; cat "$ERR" >&2; FAILS=$((FAILS + 1)); }
has "$OUT" "image 36 (label"
has "$OUT" "lenet_mnist, variant host: 37 images"
run 0 eval "$L" --weights "$TMP/lenet.safetensors" --data "$MNIST" --batch 8 --limit 37 \
  --dump-logits "$TMP/e_host.f32" --quiet
same "LeNet artifact (host) = snnc eval" "$TMP/a_host.f32" "$TMP/e_host.f32"
"$TMP/classify_so" --idx "$IMG" --limit 37 --quiet --dump-logits "$TMP/a_so.f32" >/dev/null
same "LeNet shared library = static library" "$TMP/a_so.f32" "$TMP/a_host.f32"
"$TMP/classify" --idx "$IMG" --limit 37 --quiet --variant x86-64-v3 \
  --dump-logits "$TMP/a_v3.f32" >"$OUT"
has "$OUT" "variant x86-64-v3"
SNNC_ISA=avx2 run 0 eval "$L" --weights "$TMP/lenet.safetensors" --data "$MNIST" --batch 8 \
  --limit 37 --dump-logits "$TMP/e_v3.f32" --quiet
same "LeNet artifact (x86-64-v3) = snnc eval restricted to AVX2" "$TMP/a_v3.f32" "$TMP/e_v3.f32"
# the API's misuse, and contexts on threads
cbuild "$TMP/api_lenet" "$TMP/lenet" "$API" "$TMP/lenet/liblenet_mnist.a"
head -c 5000 "$TMP/lenet.safetensors" >"$TMP/lenet_trunc.safetensors"
"$TMP/api_lenet" --good-weights "$TMP/lenet.safetensors" \
  --truncated-weights "$TMP/lenet_trunc.safetensors" \
  --wrong-weights "$SNNC_SRC/tests/golden/lif_fc_mnist.safetensors" >"$OUT" 2>"$ERR" ||
  { echo "FAIL: api_check on LeNet" >&2; cat "$OUT" "$ERR" >&2; FAILS=$((FAILS + 1)); }
has "$OUT" "checks passed"
has "$OUT" "identical to serial runs"

# the weights in a separate file: the library without them, the same scores with them
run 0 compile "$L" --emit lib --weights "$TMP/lenet.safetensors" --batch 8 --weights-file \
  --cpu host -o "$TMP/lenetw"
check "NAME.weights written" test -s "$TMP/lenetw/lenet_mnist.weights"
check "the library without the weights is smaller" test \
  "$(stat -c %s "$TMP/lenetw/liblenet_mnist.a")" -lt "$(stat -c %s "$TMP/lenet/liblenet_mnist.a")"
has "$TMP/lenetw/lenet_mnist.h" "#define lenet_mnist_WEIGHTS_EMBEDDED 0"
cbuild "$TMP/classify_w" "$TMP/lenetw" "$EX/classify.c" "$TMP/lenetw/liblenet_mnist.a"
"$TMP/classify_w" --idx "$IMG" --limit 37 --quiet >"$OUT" 2>"$ERR"
has "$ERR" "holds no weights"
"$TMP/classify_w" --idx "$IMG" --limit 37 --quiet --weights "$TMP/lenetw/lenet_mnist.weights" \
  --dump-logits "$TMP/a_w.f32" >/dev/null
same "weights from NAME.weights = embedded" "$TMP/a_w.f32" "$TMP/a_host.f32"
cbuild "$TMP/api_lenetw" "$TMP/lenetw" "$API" "$TMP/lenetw/liblenet_mnist.a"
"$TMP/api_lenetw" --good-weights "$TMP/lenetw/lenet_mnist.weights" >"$OUT" 2>"$ERR" ||
  { echo "FAIL: api_check on LeNet without embedded weights" >&2; cat "$OUT" "$ERR" >&2; FAILS=$((FAILS + 1)); }
has "$OUT" "holds no weights"

# a baseline x86-64 variant (scalar kernels) equals the JIT restricted to scalar code
run 0 compile "$L" --emit lib --weights "$TMP/lenet.safetensors" --batch 8 --cpu x86-64 \
  --shared off --name lenet_base -o "$TMP/lenet_base"
check "--shared off: no shared library" test ! -e "$TMP/lenet_base/liblenet_base.so"
cbuild "$TMP/classify_base" "$TMP/lenet_base" "$EX/classify.c" "$TMP/lenet_base/liblenet_base.a"
"$TMP/classify_base" --idx "$IMG" --limit 37 --quiet --dump-logits "$TMP/a_base.f32" >/dev/null
SNNC_ISA=scalar run 0 eval "$L" --weights "$TMP/lenet.safetensors" --data "$MNIST" --batch 8 \
  --limit 37 --dump-logits "$TMP/e_base.f32" --quiet
same "LeNet artifact (x86-64 baseline) = snnc eval restricted to scalar" "$TMP/a_base.f32" \
  "$TMP/e_base.f32"

# ------------------------------------------------ VGG11 on CIFAR-shaped records ----
if [ -z "$QUICK" ]; then
  V="$SNNC_SRC/models/vgg11_cifar10.yaml"
  make_cifar "$TMP/cifar" 7
  run 0 init "$V" --out "$TMP/vgg11.safetensors" --seed 5
  run 0 compile "$V" --emit lib --weights "$TMP/vgg11.safetensors" --batch 2 -o "$TMP/vgg11"
  cbuild "$TMP/classify_vgg" "$TMP/vgg11" "$EX/classify.c" "$TMP/vgg11/libvgg11_cifar10.a"
  standalone "$TMP/classify_vgg.map"
  "$TMP/classify_vgg" --cifar "$TMP/cifar/test_batch.bin" --quiet --dump-logits "$TMP/a_vgg.f32" \
    >"$OUT" 2>"$ERR" || { echo "FAIL: classify VGG11" >&2; cat "$ERR" >&2; FAILS=$((FAILS + 1)); }
  has "$OUT" "vgg11_cifar10, variant host: 7 images"
  run 0 eval "$V" --weights "$TMP/vgg11.safetensors" --data "$TMP/cifar" --batch 2 \
    --dump-logits "$TMP/e_vgg.f32" --quiet
  same "VGG11 artifact = snnc eval" "$TMP/a_vgg.f32" "$TMP/e_vgg.f32"
fi

# ------------------------------------- the converted seed-001 SNN (threshold units) ----
Q="$SNNC_SRC/models/quant_lenet_mnist.yaml"
run 0 train "$Q" --data "$MNIST" --epochs 1 --quiet --out "$TMP/q"
run 0 convert "$Q" --weights "$TMP/q/last.safetensors" -o "$TMP/qsnn" --quiet
run 0 compile "$TMP/qsnn/model.yaml" --emit lib --weights "$TMP/qsnn/weights.safetensors" \
  --batch 8 -o "$TMP/qlib"
has "$OUT" "step-major: streaming"
QL="$TMP/qlib/libquant_lenet_mnist_snn.a"
cbuild "$TMP/classify_q" "$TMP/qlib" "$EX/classify.c" "$QL"
cbuild "$TMP/stream_q" "$TMP/qlib" "$EX/stream.c" "$QL"
standalone "$TMP/stream_q.map"
"$TMP/classify_q" --idx "$IMG" --limit 37 --quiet --dump-logits "$TMP/a_q.f32" >/dev/null
run 0 eval "$TMP/qsnn/model.yaml" --weights "$TMP/qsnn/weights.safetensors" --data "$MNIST" \
  --batch 8 --limit 37 --dump-logits "$TMP/e_q.f32" --quiet
same "converted SNN artifact = snnc eval" "$TMP/a_q.f32" "$TMP/e_q.f32"
"$TMP/stream_q" --idx "$IMG" --limit 37 --check --quiet >"$OUT" 2>"$ERR"
has "$OUT" "streamed == whole run: identical, bit for bit"
"$TMP/classify_q" --idx "$IMG" --limit 37 --quiet --variant x86-64-v3 \
  --dump-logits "$TMP/a_q3.f32" >/dev/null
SNNC_ISA=avx2 run 0 eval "$TMP/qsnn/model.yaml" --weights "$TMP/qsnn/weights.safetensors" \
  --data "$MNIST" --batch 8 --limit 37 --dump-logits "$TMP/e_q3.f32" --quiet
same "converted SNN artifact (x86-64-v3) = snnc eval on AVX2" "$TMP/a_q3.f32" "$TMP/e_q3.f32"

# ------------------------------------------------ the LIF network (Poisson, T = 50) ----
F="$SNNC_SRC/models/lif_fc_mnist.yaml"
run 0 train "$F" --data "$MNIST" --epochs 1 --quiet --out "$TMP/f"
FW="$TMP/f/last.safetensors"
run 0 compile "$F" --emit lib --weights "$FW" --batch 8 -o "$TMP/flib"
has "$TMP/flib/lif_fc_mnist.h" "#define lif_fc_mnist_STREAMING      1"
FL="$TMP/flib/liblif_fc_mnist.a"
cbuild "$TMP/classify_f" "$TMP/flib" "$EX/classify.c" "$FL"
cbuild "$TMP/stream_f" "$TMP/flib" "$EX/stream.c" "$FL"
"$TMP/classify_f" --idx "$IMG" --limit 37 --quiet --seed 9 --dump-logits "$TMP/a_f.f32" >/dev/null
run 0 eval "$F" --weights "$FW" --data "$MNIST" --batch 8 --limit 37 --seed 9 \
  --dump-logits "$TMP/e_f.f32" --quiet
same "LIF artifact (Poisson spikes) = snnc eval" "$TMP/a_f.f32" "$TMP/e_f.f32"
"$TMP/stream_f" --idx "$IMG" --labels "$LAB" --limit 37 --seed 9 --check --every 10 \
  --dump-logits "$TMP/s_f.f32" >"$OUT" 2>"$ERR"
has "$OUT" "streamed == whole run: identical, bit for bit"
has "$OUT" "step 49: image 0 scores"
same "LIF streamed step by step = snnc eval" "$TMP/s_f.f32" "$TMP/e_f.f32"
cbuild "$TMP/api_f" "$TMP/flib" "$API" "$FL"
"$TMP/api_f" --poisson --threads 2 --wrong-weights "$TMP/lenet.safetensors" >"$OUT" 2>"$ERR" ||
  { echo "FAIL: api_check on the LIF network" >&2; cat "$OUT" "$ERR" >&2; FAILS=$((FAILS + 1)); }
has "$OUT" "50 steps streamed equal a whole run"
has "$OUT" "out-of-range input refused"
# layer-major: no streaming, the same scores
run 0 compile "$F" --emit lib --weights "$FW" --batch 8 --schedule layer --cpu host \
  --name lif_layer -o "$TMP/flayer"
has "$TMP/flayer/lif_layer.h" "#define lif_layer_STREAMING      0"
cbuild "$TMP/classify_fl" "$TMP/flayer" "$EX/classify.c" "$TMP/flayer/liblif_layer.a"
"$TMP/classify_fl" --idx "$IMG" --limit 37 --quiet --seed 9 --dump-logits "$TMP/a_fl.f32" >/dev/null
same "LIF artifact, layer-major = snnc eval" "$TMP/a_fl.f32" "$TMP/e_f.f32"

# a spiking conv net with gated spike pooling (a plain-C step with params, stateful when
# step-major): the library, and the plan directory of 'snnc compile' (which shares the
# built-in steps), both equal to eval
cat >"$TMP/gated.yaml" <<'EOF'
name: gated
input: {channels: 1, height: 28, width: 28}
num_classes: 10
snn: {T: 4, encoder: direct, readout: membrane, neuron: {model: if, v_reset: none}}
network:
  - features:
      - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
      - if
      - maxpool: {kernel_size: 2, spike_gate: true}
      - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
      - if: {v_reset: 0.0}
  - classifier:
      - flatten
      - linear: {out_features: 10}
data: {dataset: mnist, scale: 0.00392156863}
EOF
run 0 compile "$TMP/gated.yaml" --emit lib --batch 8 --cpu host -o "$TMP/glib"
cbuild "$TMP/stream_g" "$TMP/glib" "$EX/stream.c" "$TMP/glib/libgated.a"
"$TMP/stream_g" --idx "$IMG" --limit 37 --check --quiet --dump-logits "$TMP/a_g.f32" >"$OUT" 2>"$ERR"
has "$OUT" "streamed == whole run: identical, bit for bit"
run 0 eval "$TMP/gated.yaml" --data "$MNIST" --batch 8 --limit 37 --dump-logits "$TMP/e_g.f32" --quiet
same "gated spike pooling: library = snnc eval" "$TMP/a_g.f32" "$TMP/e_g.f32"
run 0 compile "$TMP/gated.yaml" --batch 8 -o "$TMP/gplan"
run 0 eval --plan "$TMP/gplan" --data "$MNIST" --limit 37 --dump-logits "$TMP/p_g.f32" --quiet
same "gated spike pooling: compiled plan = snnc eval" "$TMP/p_g.f32" "$TMP/e_g.f32"

# two artifacts of this build in one program, static and shared
if "$CC" -O2 -I "$TMP/lenet" -I "$TMP/flib" "$SNNC_SRC/tests/artifact/two_models.c" \
  "$TMP/lenet/liblenet_mnist.a" "$FL" -lm -lpthread -o "$TMP/two" 2>"$TMP/cc.err" &&
  "$CC" -O2 -I "$TMP/lenet" -I "$TMP/flib" "$SNNC_SRC/tests/artifact/two_models.c" \
    -L"$TMP/lenet" -L"$TMP/flib" -llenet_mnist -llif_fc_mnist \
    -Wl,-rpath,"$TMP/lenet:$TMP/flib" -lm -lpthread -o "$TMP/two_so" 2>>"$TMP/cc.err"; then
  "$TMP/two" "$TMP/two_l.f32" "$TMP/two_f.f32" >"$OUT" 2>"$ERR"
  has "$OUT" "two_models: lenet_mnist (host) and lif_fc_mnist (host) ran"
  "$TMP/two_so" "$TMP/two_l2.f32" "$TMP/two_f2.f32" >"$OUT" 2>"$ERR"
  has "$OUT" "ran"
  same "two static artifacts in one program = two shared ones (LeNet)" "$TMP/two_l.f32" "$TMP/two_l2.f32"
  check "two static artifacts in one program = two shared ones (LIF)" cmp -s "$TMP/two_f.f32" "$TMP/two_f2.f32"
else
  echo "FAIL: two artifacts do not link into one program:" >&2
  head -20 "$TMP/cc.err" >&2
  FAILS=$((FAILS + 1))
fi

# -------------------------------------------------------------------- Python ----
PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c "import numpy" 2>/dev/null; then
  "$PY" - "$SNNC_SRC/python" "$TMP" "$IMG" >"$OUT" 2>"$ERR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from snnc_artifact import Artifact, ArtifactError
tmp, img = sys.argv[2], sys.argv[3]
raw = open(img, "rb").read()
images = np.frombuffer(raw[16:], dtype=np.uint8).reshape(-1, 1, 28, 28)[:37]
with Artifact(f"{tmp}/lenet/liblenet_mnist.so", threads=1) as m:
    y = m.run(m.preprocess(images))
    e = np.fromfile(f"{tmp}/e_host.f32", dtype=np.float32).reshape(37, 10)
    print("python lenet equal:", np.array_equal(y, e))
    try:
        m.step(m.preprocess(images[:8]))
    except ArtifactError as err:
        print("step refused with code", err.code)
with Artifact(f"{tmp}/flib/liblif_fc_mnist.so") as f:
    x = f.preprocess(images[:8])
    f.set_seed(4)
    whole = f.run(x)
    f.reset()
    for t in range(f.time_steps):
        s = f.step(x)
    print("python lif streamed equal:", np.array_equal(whole, s), "nonzero:", bool(np.any(s)))
    y = f.run(f.preprocess(images), seed=9)
    e = np.fromfile(f"{tmp}/e_f.f32", dtype=np.float32).reshape(37, 10)
    print("python lif equal:", np.array_equal(y, e))
try:
    Artifact(f"{tmp}/lenet/liblenet_mnist.so", weights=f"{tmp}/lenet_trunc.safetensors")
except ArtifactError as err:
    print("bad weights refused:", err.code, "truncated" in str(err))
EOF
  [ -s "$ERR" ] && sed 's/^/  python: /' "$ERR" | head -20 >&2
  has "$OUT" "python lenet equal: True"
  has "$OUT" "step refused with code 7"
  has "$OUT" "python lif streamed equal: True nonzero: True"
  has "$OUT" "python lif equal: True"
  has "$OUT" "bad weights refused: 3 True"
else
  echo "note: Python module not tested: $PY with numpy not found (Debian python3-numpy)"
fi

# -------------------------------------------------------------- bad usage ----
run 2 compile "$L" --emit obj -o "$TMP/x"
has "$ERR" "--emit"
run 2 compile "$L" --emit lib -o "$TMP/x" --cpu x86-64-v9
has "$ERR" "unknown CPU 'x86-64-v9'"
run 2 compile "$L" --emit lib -o "$TMP/x" --cpu host,host
has "$ERR" "listed twice"
run 2 compile "$L" --emit lib -o "$TMP/x" --name 9lives
has "$ERR" "C identifier"
run 2 compile "$L" --emit lib -o "$TMP/x" --target ref
has "$ERR" "--emit lib builds CPU code"
run 2 compile "$L" -o "$TMP/x" --cpu host
has "$ERR" "--cpu applies to --emit lib only"
run 2 compile "$L" --emit lib -o "$TMP/x" --precision int8
has "$ERR" "--precision int8 does not apply to --emit lib"
run 2 compile "$L" --emit lib -o "$TMP/x" --calib 8
has "$ERR" "--calib applies to --precision int8 plans only"
run 2 compile "$L" --emit lib -o "$TMP/x" --schedule step
has "$ERR" "step-major schedule applies to spiking networks"
run 2 compile "$L" --emit lib -o "$TMP/x" --weights "$FW"
has "$ERR" "layer.1.weight"
run 2 compile "$L" --emit lib -o "$TMP/x" --weights "$TMP/lenet_trunc.safetensors"
no_crash
check "failed compiles wrote nothing" test ! -e "$TMP/x"
# no C compiler for the shared library: an error, and the directory keeps no partial output
mkdir -p "$TMP/nocc"
SNNC_CC=/nonexistent/cc run 1 compile "$L" --emit lib -o "$TMP/nocc"
has "$ERR" "cannot run the C compiler '/nonexistent/cc'"
has "$ERR" "--shared off"
check "no partial output after a failed link" test -z "$(ls -A "$TMP/nocc")"
run 0 compile --help
has "$OUT" "--emit"
finish
