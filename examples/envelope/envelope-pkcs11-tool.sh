#!/usr/bin/env bash
# Envelope encryption with OpenSC pkcs11-tool alone: the walk-through of envelope.py, as far as
# the pkcs11-tool of Debian 12 (OpenSC 0.23) can take it.
#
# Usage: examples/envelope/envelope-pkcs11-tool.sh [MODULE [FILE...]]
#   MODULE  defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so in this repository
#   FILE    messages to put in envelopes (default: a short demo message)
# Environment:
#   TOKEN         label of an initialized token (default: envelope)
#   FERROHSM_PIN  its user PIN (default: 1234); pkcs11-tool takes it on the command line
#   MASTER_ID     CKA_ID (hex) of the master key, created when missing (default: e1)
#   OUT_DIR       where the envelopes and decrypted copies go (default: a temporary directory,
#                 removed at the end)
#
# For each FILE: generate a fresh AES-256 data key on the token (sensitive, extractable),
# encrypt FILE under it, wrap it under the master key with CKM_AES_KEY_WRAP_KWP (RFC 5649),
# delete it, and write FILE.p11env:
#
#     "P11ENV01" (8) | wrapped data key (40) | IV (16) | AES-CBC-PAD ciphertext
#
# then unwrap the data key into a new object, decrypt, delete it, and compare with FILE. Last,
# show that the master key cannot leave the token. Exits non-zero on any failure.
#
# What pkcs11-tool 0.23 cannot do, and envelope.py does:
# - AES-GCM: its --encrypt/--decrypt accept AES-ECB, AES-CBC and AES-CBC-PAD only ("Mechanism
#   AES-GCM illegal or not supported"), so this envelope is NOT authenticated: a changed
#   ciphertext decrypts to garbage (or fails the padding check) instead of failing a tag.
#   Newer OpenSC releases add AES-GCM to pkcs11-tool (--aad, --tag-bits-len).
# - session keys: every pkcs11-tool run is a new session, so the data key and the unwrapped key
#   are token objects for the few commands that use them, deleted right after.
# - a wrap-only master key: --keygen also sets CKA_ENCRYPT/CKA_DECRYPT on AES keys.
# - CKM_AES_KEY_WRAP_KWP by name: pkcs11-tool 0.23 knows it only by number (-m 0x210B).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
MODULE=${1:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}
[ $# -gt 0 ] && shift
TOKEN=${TOKEN:-envelope}
PIN=${FERROHSM_PIN:-1234}
MASTER_ID=${MASTER_ID:-e1}
MASTER_LABEL=envelope-p11tool-master
DATA_ID=e2    # the data key of the message being encrypted
OPEN_ID=e3    # the unwrapped data key of the envelope being decrypted
KWP=0x210B    # CKM_AES_KEY_WRAP_KWP
MAGIC=P11ENV01

tmp=$(mktemp -d "${TMPDIR:-/tmp}/envelope-p11tool.XXXXXX")
OUT_DIR=${OUT_DIR:-$tmp}
mkdir -p "$OUT_DIR"

p11() {
    pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --login --pin "$PIN" "$@"
}

# Delete a secret key by CKA_ID if it is there (a run that stopped half-way leaves one).
drop_key() {
    p11 --delete-object --type secrkey --id "$1" >/dev/null 2>&1 || true
}

cleanup() {
    drop_key "$DATA_ID"
    drop_key "$OPEN_ID"
    rm -rf "$tmp"
}
trap cleanup EXIT

has_key() {
    p11 --list-objects --type secrkey 2>/dev/null | grep -Eqi "^ *ID: *$1\$"
}

step() {
    echo "-- $*"
}

init_master() {
    if has_key "$MASTER_ID"; then
        step "master key (id $MASTER_ID) is already on token '$TOKEN'"
        return
    fi
    step "master key: AES-256 on the token, sensitive, not extractable (no --extractable)"
    p11 --keygen --key-type AES:32 --label "$MASTER_LABEL" --id "$MASTER_ID" \
        --usage-wrap --sensitive
}

# encrypt IN OUT
encrypt() {
    local in=$1 out=$2
    step "encrypt $in -> $out"
    drop_key "$DATA_ID"
    # A fresh data key; extractable, or C_WrapKey refuses it.
    p11 --keygen --key-type AES:32 --label envelope-p11tool-data --id "$DATA_ID" \
        --usage-decrypt --sensitive --extractable >/dev/null
    p11 --generate-random 16 --output-file "$tmp/iv" 2>/dev/null
    p11 --encrypt --id "$DATA_ID" -m AES-CBC-PAD --iv "$(xxd -p -c 256 "$tmp/iv")" \
        --input-file "$in" --output-file "$tmp/ct"
    p11 --wrap --id "$MASTER_ID" --application-id "$DATA_ID" -m "$KWP" \
        --output-file "$tmp/wrapped"
    p11 --delete-object --type secrkey --id "$DATA_ID"
    [ "$(stat -c %s "$tmp/wrapped")" -eq 40 ] || {
        echo "unexpected wrapped key length" >&2
        return 1
    }
    { printf %s "$MAGIC"; cat "$tmp/wrapped" "$tmp/iv" "$tmp/ct"; } >"$out"
}

# decrypt IN OUT
decrypt() {
    local in=$1 out=$2
    step "decrypt $in -> $out"
    [ "$(head -c 8 "$in")" = "$MAGIC" ] || {
        echo "$in: not an envelope" >&2
        return 1
    }
    head -c 48 "$in" | tail -c 40 >"$tmp/wrapped"
    head -c 64 "$in" | tail -c 16 >"$tmp/iv"
    tail -c +65 "$in" >"$tmp/ct"
    drop_key "$OPEN_ID"
    p11 --unwrap --id "$MASTER_ID" -m "$KWP" --input-file "$tmp/wrapped" --key-type AES:32 \
        --application-id "$OPEN_ID" --application-label envelope-p11tool-open --sensitive
    p11 --decrypt --id "$OPEN_ID" -m AES-CBC-PAD --iv "$(xxd -p -c 256 "$tmp/iv")" \
        --input-file "$tmp/ct" --output-file "$tmp/plain"
    p11 --delete-object --type secrkey --id "$OPEN_ID"
    mv "$tmp/plain" "$out"
}

check_policy() {
    step "the master key cannot leave the token"
    if p11 --read-object --type secrkey --id "$MASTER_ID" --output-file "$tmp/value" \
        >"$tmp/log" 2>&1; then
        echo "VIOLATION: the master key's CKA_VALUE was read" >&2
        return 1
    fi
    grep -q CKR_ATTRIBUTE_SENSITIVE "$tmp/log" || {
        cat "$tmp/log" >&2
        return 1
    }
    echo "reading CKA_VALUE fails with CKR_ATTRIBUTE_SENSITIVE"
    if p11 --wrap --id "$MASTER_ID" --application-id "$MASTER_ID" -m "$KWP" \
        --output-file "$tmp/w" >"$tmp/log" 2>&1; then
        echo "VIOLATION: the master key was wrapped" >&2
        return 1
    fi
    grep -q CKR_KEY_UNEXTRACTABLE "$tmp/log" || {
        cat "$tmp/log" >&2
        return 1
    }
    echo "wrapping it (C_WrapKey) fails with CKR_KEY_UNEXTRACTABLE"
}

if [ $# -eq 0 ]; then
    echo "Attack at dawn. (An envelope made with pkcs11-tool.)" >"$tmp/message.txt"
    set -- "$tmp/message.txt"
fi

init_master
for f in "$@"; do
    name=$(basename "$f")
    encrypt "$f" "$OUT_DIR/$name.p11env"
    decrypt "$OUT_DIR/$name.p11env" "$OUT_DIR/$name.out"
    cmp "$f" "$OUT_DIR/$name.out"
    echo "$f: $(stat -c %s "$f") bytes, envelope $(stat -c %s "$OUT_DIR/$name.p11env") bytes, round trip OK"
done
check_policy
echo "envelope walk-through with pkcs11-tool: OK"
