#!/usr/bin/env bash
# OpenSC `pkcs11-tool --test` against a token holding RSA, EC and AES keys generated through
# the module itself (issue 3: "pkcs11-tool --test --login --allow-sw passes against a token
# holding RSA, EC and AES keys").
#
# Usage: tests/interop/pkcs11-tool-test.sh [MODULE]
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so in this repository.
#   For SoftHSMv2 (a dry run of this script), pass its module path; a SoftHSM configuration in
#   the temporary directory is written when SOFTHSM2_CONF is unset.
#
# Steps: initialize a token and its user PIN; --keypairgen rsa:2048 (id 01), --keypairgen
# EC:prime256v1 (id 02), --keygen AES:32 (id 03); then `pkcs11-tool --test --login --pin PIN
# --allow-sw`. Exits 0 only if every step exits 0 and the test output has no line reporting a
# failure ("failed", "ERR", "error:"). The output of each step is printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
MODULE=${1:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}

SO_PIN=12345678
PIN=123456
LABEL=p11test

for tool in pkcs11-tool grep; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL prerequisites: '$tool' not found"
        exit 2
    fi
done
if [ ! -f "$MODULE" ]; then
    echo "FAIL prerequisites: module '$MODULE' not found (build it: cargo build)"
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrohsm-p11test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export FERROHSM_TOKEN_DIR="$WORK/tokens"
export FERROHSM_CONF="$WORK/ferrohsm.toml"
mkdir -p "$FERROHSM_TOKEN_DIR"
printf '[kdf]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n' >"$FERROHSM_CONF"
case "$(basename "$MODULE")" in
*softhsm*)
    if [ -z "${SOFTHSM2_CONF:-}" ]; then
        export SOFTHSM2_CONF="$WORK/softhsm2.conf"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$FERROHSM_TOKEN_DIR" >"$SOFTHSM2_CONF"
    fi
    ;;
esac

p11() {
    pkcs11-tool --module "$MODULE" "$@"
}

# step NAME CMD...: run CMD, print its output indented, stop with exit 1 if it fails.
step() {
    local name=$1
    shift
    echo "== $name"
    local status=0
    "$@" >"$WORK/out.txt" 2>&1 || status=$?
    sed 's/^/   | /' "$WORK/out.txt"
    if [ "$status" -ne 0 ]; then
        echo "FAIL $name (exit $status)"
        exit 1
    fi
}

step "init token" p11 --init-token --slot-index 0 --label "$LABEL" --so-pin "$SO_PIN"
step "init user PIN" p11 --token-label "$LABEL" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$PIN"
step "RSA-2048 key pair" p11 --token-label "$LABEL" --login --pin "$PIN" \
    --keypairgen --key-type rsa:2048 --id 01 --label rsa2048
step "EC P-256 key pair" p11 --token-label "$LABEL" --login --pin "$PIN" \
    --keypairgen --key-type EC:prime256v1 --id 02 --label ecp256
step "AES-256 key" p11 --token-label "$LABEL" --login --pin "$PIN" \
    --keygen --key-type AES:32 --id 03 --label aes256
step "list objects" p11 --token-label "$LABEL" --login --pin "$PIN" -O

echo "== pkcs11-tool --test --login --allow-sw"
status=0
p11 --token-label "$LABEL" --test --login --pin "$PIN" --allow-sw >"$WORK/test.txt" 2>&1 || status=$?
sed 's/^/   | /' "$WORK/test.txt"
bad=$(grep -E -i -n '(failed|\bERR\b|error:)' "$WORK/test.txt" || true)
if [ "$status" -ne 0 ] || [ -n "$bad" ]; then
    echo "FAIL pkcs11-tool --test (exit $status)"
    if [ -n "$bad" ]; then
        echo "lines reporting failures:"
        echo "$bad" | sed 's/^/   ! /'
    fi
    exit 1
fi
echo "PASS pkcs11-tool --test"
