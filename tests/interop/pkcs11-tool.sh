#!/usr/bin/env bash
# OpenSC pkcs11-tool against a PKCS#11 module, on a fresh token in a temporary directory.
#
# Usage: tests/interop/pkcs11-tool.sh [MODULE]
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so in this repository.
#
# The module sees FERROHSM_TOKEN_DIR and FERROHSM_CONF pointing into a temporary directory
# (with a cheap KDF, for speed). For a dry run against SoftHSMv2, pass its module path; when
# SOFTHSM2_CONF is unset, a SoftHSM configuration in the same temporary directory is written.
#
# Prints `PASS name` or `FAIL name` per check, ends with `N passed, N failed`, and exits
# non-zero if any check failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
MODULE=${1:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}

LABEL=interop
SO_PIN=12345678
PIN=1234
WRONG_PIN=000000

for tool in pkcs11-tool openssl cmp awk grep; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL prerequisites: '$tool' not found (scripts/test installs it)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
if [ ! -f "$MODULE" ]; then
    echo "FAIL prerequisites: module '$MODULE' not found (build it: cargo build --release)"
    echo "0 passed, 1 failed"
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrohsm-pkcs11-tool.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

export FERROHSM_TOKEN_DIR="$WORK/tokens"
export FERROHSM_CONF="$WORK/ferrohsm.toml"
mkdir -p "$FERROHSM_TOKEN_DIR"
printf '[kdf]\nmemory_kib = 64\niterations = 1\n' >"$FERROHSM_CONF"

case "$(basename "$MODULE")" in
*softhsm*)
    if [ -z "${SOFTHSM2_CONF:-}" ]; then
        export SOFTHSM2_CONF="$WORK/softhsm2.conf"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$FERROHSM_TOKEN_DIR" >"$SOFTHSM2_CONF"
    fi
    ;;
esac

# shellcheck source=tests/interop/lib.sh
. "$here/lib.sh"
OUT="$WORK/out.txt"
trap 'interop_cleanup' EXIT
interop_store

p11() {
    pkcs11-tool --module "$MODULE" "$@"
}

# The ID of the first slot whose token is not initialized, from `pkcs11-tool -L` output:
#   Slot 1 (0x1): ...
#     token state:   uninitialized
# (or a "token flags" line without "token initialized"). Printed as 0x..., which --slot takes.
free_slot_id() {
    awk '
        /^Slot [0-9]+ \(0x[0-9a-fA-F]+\)/ {
            if (id != "" && uninit) { print id; found = 1; exit }
            id = $3; gsub(/[():]/, "", id); uninit = 0; next
        }
        /token state: *uninitialized/ { uninit = 1 }
        /token flags *:/ && !/token initialized/ { uninit = 1 }
        END { if (!found && id != "" && uninit) print id }
    ' "$1"
}

echo "pkcs11-tool interop test against $MODULE"
echo "token directory: $FERROHSM_TOKEN_DIR${FERROHSM_STORE_URL:+ (overridden: store_url $FERROHSM_STORE_URL)}"

# --- Slots and token initialization -------------------------------------------------------
FREE=
if check_out "list slots (-L) shows a free slot with an uninitialized token" \
    'token state: *uninitialized|token flags' p11 -L; then
    FREE=$(free_slot_id "$OUT")
    if [ -n "$FREE" ]; then
        pass "free slot id parsed from -L ($FREE)"
    else
        fail "free slot id parsed from -L" "no slot with an uninitialized token"
    fi
fi
if [ -z "$FREE" ]; then
    echo "FAIL cannot go on without a free slot"
    failed=$((failed + 1))
    echo "$passed passed, $failed failed"
    exit 1
fi

check "init token in the free slot (--init-token --slot $FREE)" \
    p11 --init-token --slot "$FREE" --label "$LABEL" --so-pin "$SO_PIN" || true
check_out "list slots (-L) shows the new token" "token label *: *$LABEL *\$" p11 -L || true
if [ -n "$(free_slot_id "$OUT")" ]; then
    pass "a new free slot is offered after initialization"
else
    fail "a new free slot is offered after initialization" "no uninitialized token listed"
fi
check "init user PIN (--login --login-type so --init-pin)" \
    p11 --token-label "$LABEL" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$PIN" || true
check_out "list token slots (-T) shows the token with its PIN initialized" \
    "token flags *:.*PIN initialized" p11 -T || true
if grep -Eq "token label *: *$LABEL *\$" "$OUT"; then
    pass "-T shows the token label"
else
    fail "-T shows the token label" "label $LABEL not listed"
fi

# --- A private data object ----------------------------------------------------------------
head -c 1000 /dev/urandom >"$WORK/data.bin"
check "write a private data object (--write-object --type data --private)" \
    p11 --token-label "$LABEL" --login --pin "$PIN" \
    --write-object "$WORK/data.bin" --type data --label d1 --private || true
# A public object beside it, so the listing before login has something to show: an empty
# listing would pass the "hidden" check whatever went wrong.
printf 'public beside d1' >"$WORK/pub.bin"
check "write a public data object (--write-object --type data)" \
    p11 --token-label "$LABEL" --login --pin "$PIN" \
    --write-object "$WORK/pub.bin" --type data --label pub0 || true
check_not_out "private data object is hidden before login (-O)" "label: *'d1'" \
    p11 --token-label "$LABEL" -O || true
if grep -Eq "label: *'pub0'" "$OUT"; then
    pass "the public object is listed before login (-O)"
else
    fail "the public object is listed before login (-O)" "no 'pub0' in the listing"
fi
check_out "private data object is listed after login (--login -O)" "label: *'d1'" \
    p11 --token-label "$LABEL" --login --pin "$PIN" -O || true
check "read the data object back (--read-object --type data --label d1)" \
    p11 --token-label "$LABEL" --login --pin "$PIN" \
    --read-object --type data --label d1 --output-file "$WORK/data.out" || true
same_file "data object read back byte for byte" "$WORK/data.bin" "$WORK/data.out"

# --- A certificate ------------------------------------------------------------------------
check "make a test certificate with openssl" \
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test \
    -days 30 -keyout "$WORK/cert.key" -outform DER -out "$WORK/cert.der" || true
check "write a certificate (--write-object --type cert --id 01)" \
    p11 --token-label "$LABEL" --login --pin "$PIN" \
    --write-object "$WORK/cert.der" --type cert --id 01 --label c1 || true
check_out "certificate is listed without login (-O)" "label: *c1" \
    p11 --token-label "$LABEL" -O || true
check "read the certificate back (--read-object --type cert --id 01)" \
    p11 --token-label "$LABEL" --read-object --type cert --id 01 --output-file "$WORK/cert.out" || true
same_file "certificate read back byte for byte" "$WORK/cert.der" "$WORK/cert.out"

# --- Persistence across processes ("restart") -----------------------------------------------
# Every pkcs11-tool run is a new process that loads the module and opens the token anew.
printf 'written by one process, read by the next\n' >"$WORK/persist.bin"
check "process 1 writes a public data object p1" \
    p11 --token-label "$LABEL" --login --pin "$PIN" \
    --write-object "$WORK/persist.bin" --type data --label p1 || true
check "process 2 reads p1 without login" \
    p11 --token-label "$LABEL" --read-object --type data --label p1 \
    --output-file "$WORK/persist.out" || true
same_file "restart: p1 read by the next process byte for byte" "$WORK/persist.bin" "$WORK/persist.out"

# --- Deletion -------------------------------------------------------------------------------
check "delete the data object (--delete-object --type data --label d1)" \
    p11 --token-label "$LABEL" --login --pin "$PIN" --delete-object --type data --label d1 || true
check "delete the certificate (--delete-object --type cert --id 01)" \
    p11 --token-label "$LABEL" --login --pin "$PIN" --delete-object --type cert --id 01 || true
check_not_out "deleted objects are gone (--login -O)" "label: *('d1'|c1)" \
    p11 --token-label "$LABEL" --login --pin "$PIN" -O || true
if grep -Eq "label: *'p1'" "$OUT"; then
    pass "other objects survive the deletions"
else
    fail "other objects survive the deletions" "p1 not listed"
fi

# --- Wrong PIN ------------------------------------------------------------------------------
run p11 --token-label "$LABEL" --login --pin "$WRONG_PIN" -O
if [ "$status" -eq 0 ]; then
    fail "wrong PIN gives a non-zero exit" "pkcs11-tool exited 0"
else
    pass "wrong PIN gives a non-zero exit"
    if grep -q CKR_PIN_INCORRECT "$OUT"; then
        pass "wrong PIN is reported as CKR_PIN_INCORRECT"
    else
        fail "wrong PIN is reported as CKR_PIN_INCORRECT"
    fi
fi
check "the right PIN still logs in after one wrong try" \
    p11 --token-label "$LABEL" --login --pin "$PIN" -O || true

# --- The audit trail of what pkcs11-tool did (ferrohsm only) -------------------------------
# Read from the store by ferrohsm-util, with no module and no PIN (README "Audit trail").
case "$(basename "$MODULE")" in
*softhsm*) ;;
*)
    UTIL=${FERROHSM_UTIL:-$(dirname "$MODULE")/ferrohsm-util}
    check_out "audit: the token's creation by pkcs11-tool, as the SO" \
        '"eventName":"C_InitToken".*"program":"pkcs11-tool".*"userType":"CKU_SO".*"result":"CKR_OK"' \
        "$UTIL" audit show --json --op C_InitToken || true
    check_out "audit: the wrong PIN, as a failed user login" \
        '"program":"pkcs11-tool".*"userType":"CKU_USER".*"result":"CKR_PIN_INCORRECT"' \
        "$UTIL" audit show --json --op C_Login --result CKR_PIN_INCORRECT || true
    check_out "audit: the certificate's deletion, with its label (a public object)" \
        '"eventName":"C_DestroyObject".*"keyLabel":"c1".*"result":"CKR_OK"' \
        "$UTIL" audit show --json --op C_DestroyObject || true
    # pkcs11-tool writes data objects private after a login: their labels are secret.
    check_not_out "audit: no label of the private data object d1 in the trail" '"d1"' \
        "$UTIL" audit show --json || true
    check_out "audit: the chain verifies" 'chain intact from record 1' "$UTIL" audit verify || true
    ;;
esac

interop_summary 35
