# Helpers for CLI tests: run snnc, check its exit code and output.
set -u
: "${SNNC:?SNNC must point at the snnc binary}"
: "${SNNC_SRC:?SNNC_SRC must point at the source tree}"
TMP=$(mktemp -d "${SNNC_TEST_TMP:-/tmp}/cli.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
OUT="$TMP/out"
ERR="$TMP/err"

# run EXPECTED_CODE snnc-args...: runs snnc, stores stdout/stderr in $OUT/$ERR
run() {
  local want=$1; shift
  "$SNNC" "$@" >"$OUT" 2>"$ERR"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: snnc $* exited $got, expected $want" >&2
    sed 's/^/  stderr: /' "$ERR" | head -20 >&2
    FAILS=$((FAILS + 1))
  fi
}

# has FILE TEXT: FILE contains TEXT (fixed string)
has() {
  if ! grep -qF -- "$2" "$1"; then
    echo "FAIL: expected '$2' in $(basename "$1") of the last command:" >&2
    head -20 "$1" | sed 's/^/  /' >&2
    FAILS=$((FAILS + 1))
  fi
}

hasnt() {
  if grep -qF -- "$2" "$1"; then
    echo "FAIL: did not expect '$2' in $(basename "$1")" >&2
    FAILS=$((FAILS + 1))
  fi
}

check() { # check DESCRIPTION COMMAND...: a shell condition
  local what=$1; shift
  if ! "$@"; then
    echo "FAIL: $what" >&2
    FAILS=$((FAILS + 1))
  fi
}

# no_crash: the last stderr shows no sanitizer report or signal
no_crash() {
  if grep -qE "AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|Segmentation|Aborted" "$ERR"; then
    echo "FAIL: crash report in stderr" >&2
    head -30 "$ERR" >&2
    FAILS=$((FAILS + 1))
  fi
}

# make_cifar DIR NRECORDS: a CIFAR-10 binary test_batch.bin with random pixels, labels 0..9
make_cifar() {
  mkdir -p "$1"
  local i
  for ((i = 0; i < $2; i++)); do
    printf "\\x$(printf %02x $((i % 10)))"
    head -c 3072 /dev/urandom
  done >"$1/test_batch.bin"
  cp "$1/test_batch.bin" "$1/data_batch_1.bin"
}

finish() {
  if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failure(s)" >&2
    exit 1
  fi
  echo "ok"
}
