#!/usr/bin/env bash
# The envelope-encryption example (examples/envelope/) end to end against a PKCS#11 module, on
# fresh tokens in a temporary directory.
#
# Usage: tests/interop/envelope.sh [MODULE]
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so in this repository.
#   For a dry run against SoftHSMv2, pass its module path and FERROHSM_UTIL (ferrohsm-util
#   creates the tokens); a SoftHSM configuration in the temporary directory is written when
#   SOFTHSM2_CONF is unset. SoftHSMv2 2.6 has no CKM_AES_KEY_WRAP_KWP (0x210B), so the
#   default (kwp) envelopes fail there.
#
# envelope.py (python-pkcs11): init-master, then envelopes of 0 B, 1 B, 1000 B and 1 MiB
# decrypted and compared byte for byte, with both wrap mechanisms; each envelope has its own
# wrapped key and IV; the data keys stay off the token; a changed ciphertext, tag, IV, wrapped
# key or magic, a wrapped key moved to another envelope, a truncated envelope and another
# token's master key all fail to decrypt; check-policy shows the master key is neither readable
# (CKR_ATTRIBUTE_SENSITIVE) nor wrappable (CKR_KEY_UNEXTRACTABLE) and stays so.
# Independent checks, on a token whose master key is a known test key (imported with
# C_CreateObject, not extractable): Python `cryptography` opens envelopes made by the module
# (RFC 5649 / RFC 3394 unwrap, then AES-GCM with the header as AAD), and the module opens an
# envelope made by `cryptography`.
# envelope-pkcs11-tool.sh (OpenSC pkcs11-tool, AES-CBC-PAD and KWP): its walk-through on the
# same sizes, no data keys left behind, and with the known master key its envelope opened by
# plain `openssl enc` (id-aes256-wrap-pad, then aes-256-cbc).
#
# Prints `PASS name` or `FAIL name` per check, ends with `N passed, N failed`, and exits
# non-zero if any check failed.
# No `set -e`: a failed check is recorded and the script goes on to the next one.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
NAME="envelope example"
# shellcheck source=tests/interop/lib.sh
. "$here/lib.sh"

interop_setup "${1:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}" \
    python3 pkcs11-tool openssl cmp xxd timeout
python3 -c 'import pkcs11' 2>/dev/null ||
    prereq_fail "python-pkcs11 not installed (pip install python-pkcs11)"
python3 -c 'import cryptography' 2>/dev/null ||
    prereq_fail "Python cryptography not installed (pip install cryptography)"
case "$(basename "$MODULE")" in
*softhsm*)
    if [ -z "${SOFTHSM2_CONF:-}" ]; then
        export SOFTHSM2_CONF="$WORK/softhsm2.conf"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$FERROHSM_TOKEN_DIR" >"$SOFTHSM2_CONF"
    fi
    ;;
esac

EXAMPLE=$root/examples/envelope
T=120
LABEL=envelope
OTHER=envelope-other
KAT=envelope-kat
# The known master key of the independent checks (a test vector, never a real key).
KNOWN_MASTER=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

# env TOKEN ARGS...: envelope.py on TOKEN with the user PIN.
env_py() {
    local token=$1
    shift
    timeout "$T" python3 "$EXAMPLE/envelope.py" --module "$MODULE" --token "$token" --pin "$PIN" "$@"
}

# check_fails_with NAME REGEX CMD...: PASS when CMD exits non-zero and its output matches REGEX
# (the refusal happened, for the expected reason).
check_fails_with() {
    local name=$1 regex=$2
    shift 2
    run "$@"
    if [ "$status" -eq 0 ]; then
        fail "$name" "the command succeeded"
        return 1
    fi
    if ! grep -Eq -- "$regex" "$OUT"; then
        fail "$name" "output does not match /$regex/"
        return 1
    fi
    pass "$name"
}

# same_bytes NAME EXPECTED ACTUAL: ACTUAL exists and equals EXPECTED (which may be empty).
same_bytes() {
    if [ -f "$3" ] && cmp -s "$2" "$3"; then
        pass "$1"
    else
        : >"$OUT"
        fail "$1" "$3 differs from $2 (or is missing)"
    fi
}

# flip FILE OFFSET OUT: copy FILE to OUT with the byte at OFFSET inverted.
flip() {
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = int(sys.argv[2]) % len(data)
data[i] ^= 0xFF
open(sys.argv[3], "wb").write(data)
EOF
}

# The helper of the independent checks: it reads the envelope format from the README of the
# example, not from envelope.py.
cat >"$WORK/kat.py" <<'EOF'
import os, struct, sys
import pkcs11
from pkcs11 import Attribute, KeyType, ObjectClass
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    aes_key_unwrap, aes_key_unwrap_with_padding, aes_key_wrap_with_padding)

def parse(blob):
    assert blob[:8] == b"FHSMENV1", "magic"
    wrap_id, wlen = struct.unpack(">BH", blob[8:11])
    wrapped = blob[11:11 + wlen]
    iv = blob[11 + wlen:23 + wlen]
    return blob[:23 + wlen], wrap_id, wrapped, iv, blob[23 + wlen:]

cmd = sys.argv[1]
if cmd == "import-master":          # MODULE TOKEN PIN LABEL HEX
    module, token, pin, label, hexkey = sys.argv[2:7]
    tok = pkcs11.lib(module).get_token(token_label=token)
    with tok.open(user_pin=pin, rw=True) as s:
        s.create_object({
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
            Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.LABEL: label,
            Attribute.VALUE: bytes.fromhex(hexkey), Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False, Attribute.WRAP: True, Attribute.UNWRAP: True,
            Attribute.ENCRYPT: False, Attribute.DECRYPT: False,
        })
elif cmd == "open":                  # HEX ENVELOPE PLAINTEXT: cryptography opens the envelope
    kek = bytes.fromhex(sys.argv[2])
    header, wrap_id, wrapped, iv, ct = parse(open(sys.argv[3], "rb").read())
    dek = (aes_key_unwrap if wrap_id == 1 else aes_key_unwrap_with_padding)(kek, wrapped)
    assert len(dek) == 32, "data key length"
    pt = AESGCM(dek).decrypt(iv, ct, header)
    assert pt == open(sys.argv[4], "rb").read(), "plaintext differs"
    print(f"opened with cryptography: wrap mechanism {wrap_id}, {len(pt)} bytes")
elif cmd == "seal":                  # HEX PLAINTEXT ENVELOPE: cryptography makes an envelope
    kek = bytes.fromhex(sys.argv[2])
    dek, iv = os.urandom(32), os.urandom(12)
    wrapped = aes_key_wrap_with_padding(kek, dek)
    header = b"FHSMENV1" + struct.pack(">BH", 2, len(wrapped)) + wrapped + iv
    ct = AESGCM(dek).encrypt(iv, open(sys.argv[3], "rb").read(), header)
    open(sys.argv[4], "wb").write(header + ct)
elif cmd == "count-keys":            # MODULE TOKEN PIN: secret keys a new session sees
    module, token, pin = sys.argv[2:5]
    tok = pkcs11.lib(module).get_token(token_label=token)
    with tok.open(user_pin=pin) as s:
        print("secret keys:", len(list(s.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))))
EOF
kat() {
    timeout "$T" python3 "$WORK/kat.py" "$@"
}

M=$WORK/msg
mkdir -p "$M"
: >"$M/empty"
printf 'x' >"$M/one"
head -c 1000 /dev/urandom >"$M/k1"
head -c 1048576 /dev/urandom >"$M/mib"
SIZES=(empty one k1 mib)

# ---- python-pkcs11: envelope.py ----

new_token "$LABEL" || true
check_out "init-master creates a non-extractable master key" 'created' env_py "$LABEL" init-master
check_fails_with "init-master refuses a second master key" 'already exists' \
    env_py "$LABEL" init-master

for m in "${SIZES[@]}"; do
    size=$(stat -c %s "$M/$m")
    check "encrypt $m ($size B)" env_py "$LABEL" encrypt "$M/$m" "$M/$m.env"
    if [ -f "$M/$m.env" ] && [ "$(stat -c %s "$M/$m.env")" -eq $((size + 79)) ]; then
        pass "envelope of $m is $((size + 79)) B (79 B of header and tag)"
    else
        : >"$OUT"
        fail "envelope of $m is $((size + 79)) B (79 B of header and tag)"
    fi
    check "decrypt $m ($size B)" env_py "$LABEL" decrypt "$M/$m.env" "$M/$m.out"
    same_bytes "decrypted $m equals the original" "$M/$m" "$M/$m.out"
done

# Same message twice: a new data key and IV each time.
env_py "$LABEL" encrypt "$M/k1" "$M/k1.again.env" >/dev/null 2>&1 || true
for f in "$M"/*.env; do python3 "$EXAMPLE/envelope.py" show "$f"; done >"$WORK/show.txt" 2>&1 || true
n_env=$(find "$M" -name '*.env' | wc -l)
for what in wrapped-key iv; do
    n=$(grep "^$what: " "$WORK/show.txt" | sort -u | wc -l)
    if [ "$n" -eq "$n_env" ]; then
        pass "each of the $n_env envelopes has its own $what"
    else
        cp "$WORK/show.txt" "$OUT"
        fail "each of the $n_env envelopes has its own $what" "$n distinct"
    fi
done
if [ -f "$M/k1.again.env" ] && ! cmp -s "$M/k1.env" "$M/k1.again.env"; then
    pass "the same message encrypts to a different envelope"
else
    : >"$OUT"
    fail "the same message encrypts to a different envelope"
fi
check_out "show names CKM_AES_KEY_WRAP_KWP (default)" 'wrap-mechanism: CKM_AES_KEY_WRAP_KWP$' \
    python3 "$EXAMPLE/envelope.py" show "$M/one.env"

check "encrypt with --wrap kw (CKM_AES_KEY_WRAP)" \
    env_py "$LABEL" --wrap kw encrypt "$M/k1" "$M/k1.kw.env"
check_out "show names CKM_AES_KEY_WRAP" 'wrap-mechanism: CKM_AES_KEY_WRAP$' \
    python3 "$EXAMPLE/envelope.py" show "$M/k1.kw.env"
check "decrypt a --wrap kw envelope" env_py "$LABEL" decrypt "$M/k1.kw.env" "$M/k1.kw.out"
same_bytes "decrypted --wrap kw envelope equals the original" "$M/k1" "$M/k1.kw.out"

check_out "data keys are session objects: the token holds only the master key" \
    '^secret keys: 1$' kat count-keys "$MODULE" "$LABEL" "$PIN"

# Tampering. Layout: magic 0-7, wrap id 8, length 9-10, wrapped key 11-50, IV 51-62, then the
# ciphertext and the 16-byte tag.
T_ENV=$M/k1.env
flip "$T_ENV" 500 "$M/t-ct.env"
check_fails_with "a changed ciphertext byte fails the GCM tag (CKR_ENCRYPTED_DATA_INVALID)" \
    'EncryptedDataInvalid' env_py "$LABEL" decrypt "$M/t-ct.env" "$M/t-ct.out"
if [ -e "$M/t-ct.out" ]; then
    : >"$OUT"
    fail "nothing is written for a changed ciphertext"
else
    pass "nothing is written for a changed ciphertext"
fi
flip "$M/mib.env" 700000 "$M/t-mib.env"
check_fails_with "a changed byte in a 1 MiB ciphertext is detected" \
    'EncryptedDataInvalid' env_py "$LABEL" decrypt "$M/t-mib.env" "$M/t-mib.out"
flip "$M/empty.env" -1 "$M/t-tag.env"
check_fails_with "a changed tag byte of an empty message is detected" \
    'EncryptedDataInvalid' env_py "$LABEL" decrypt "$M/t-tag.env" "$M/t-tag.out"
flip "$T_ENV" 55 "$M/t-iv.env"
check_fails_with "a changed IV byte is detected" \
    'EncryptedDataInvalid' env_py "$LABEL" decrypt "$M/t-iv.env" "$M/t-iv.out"
flip "$T_ENV" 20 "$M/t-wk.env"
check_fails_with "a changed wrapped-key byte fails the unwrap (CKR_WRAPPED_KEY_INVALID)" \
    'WrappedKeyInvalid' env_py "$LABEL" decrypt "$M/t-wk.env" "$M/t-wk.out"
flip "$M/one.env" 0 "$M/t-magic.env"
check_fails_with "a changed magic is refused" 'bad magic' \
    env_py "$LABEL" decrypt "$M/t-magic.env" "$M/t-magic.out"
# 70 bytes end inside the header's 63 bytes plus the 16-byte tag; 80 bytes keep a header and
# cut the message to one byte and a tag that no longer fits it.
head -c 70 "$T_ENV" >"$M/t-short.env"
check_fails_with "a truncated envelope is refused" 'truncated envelope' \
    env_py "$LABEL" decrypt "$M/t-short.env" "$M/t-short.out"
head -c 80 "$T_ENV" >"$M/t-cut.env"
check_fails_with "an envelope cut inside its ciphertext fails the tag" 'EncryptedDataInvalid' \
    env_py "$LABEL" decrypt "$M/t-cut.env" "$M/t-cut.out"
# The wrapped key of one envelope in another: it unwraps, but to the wrong data key, and the
# header (the AAD) changed.
{ head -c 51 "$M/one.env"; tail -c +52 "$T_ENV"; } >"$M/t-swap.env"
check_fails_with "a wrapped key moved to another envelope is detected" \
    'EncryptedDataInvalid' env_py "$LABEL" decrypt "$M/t-swap.env" "$M/t-swap.out"

# Another token, another master key.
new_token "$OTHER" || true
check "init-master on a second token" env_py "$OTHER" init-master
check_fails_with "another token's master key cannot open the envelope" \
    'WrappedKeyInvalid' env_py "$OTHER" decrypt "$M/one.env" "$M/other.out"

# The master key stays on the token.
check_out "check-policy: CKA_VALUE unreadable (CKR_ATTRIBUTE_SENSITIVE)" \
    'ok: reading CKA_VALUE fails with CKR_ATTRIBUTE_SENSITIVE' env_py "$LABEL" check-policy
check_out "check-policy: C_WrapKey of the master key fails (CKR_KEY_UNEXTRACTABLE, KWP)" \
    'ok: wrapping it \(AES_KEY_WRAP_KWP\) fails with CKR_KEY_UNEXTRACTABLE' \
    env_py "$LABEL" check-policy
check_out "check-policy: C_WrapKey of the master key fails (CKR_KEY_UNEXTRACTABLE, KW)" \
    'ok: wrapping it \(AES_KEY_WRAP\) fails with CKR_KEY_UNEXTRACTABLE' \
    env_py "$LABEL" check-policy
check_not_out "check-policy: no violation (attributes, no way back to extractable)" \
    'VIOLATION' env_py "$LABEL" check-policy

# ---- independent checks with a known master key ----

new_token "$KAT" || true
check "import a known master key (C_CreateObject, sensitive, not extractable)" \
    kat import-master "$MODULE" "$KAT" "$PIN" envelope-master "$KNOWN_MASTER"
check_out "check-policy holds for the imported master key" \
    'ok: wrapping it \(AES_KEY_WRAP_KWP\) fails with CKR_KEY_UNEXTRACTABLE' env_py "$KAT" check-policy
check_out "the imported master key is not CKA_LOCAL (no ALWAYS_SENSITIVE/NEVER_EXTRACTABLE claim)" \
    '^note: CKA_LOCAL is False' env_py "$KAT" check-policy
for m in empty k1 mib; do
    check "encrypt $m under the known master key" env_py "$KAT" encrypt "$M/$m" "$M/$m.kat.env"
    check_out "cryptography opens the $m envelope (RFC 5649 unwrap, AES-GCM with the header as AAD)" \
        'opened with cryptography' kat open "$KNOWN_MASTER" "$M/$m.kat.env" "$M/$m"
done
check "encrypt with --wrap kw under the known master key" \
    env_py "$KAT" --wrap kw encrypt "$M/k1" "$M/k1.kat-kw.env"
check_out "cryptography opens the --wrap kw envelope (RFC 3394 unwrap)" \
    'opened with cryptography: wrap mechanism 1' kat open "$KNOWN_MASTER" "$M/k1.kat-kw.env" "$M/k1"
for m in empty k1; do
    check "cryptography seals $m under the known master key" \
        kat seal "$KNOWN_MASTER" "$M/$m" "$M/$m.py.env"
    check "the module opens the $m envelope made by cryptography" \
        env_py "$KAT" decrypt "$M/$m.py.env" "$M/$m.py.out"
    same_bytes "the $m envelope made by cryptography decrypts to the original" "$M/$m" "$M/$m.py.out"
done

# ---- pkcs11-tool: envelope-pkcs11-tool.sh ----

p11() {
    timeout "$T" pkcs11-tool --module "$MODULE" --login --pin "$PIN" "$@"
}
P11OUT=$WORK/p11
check_out "envelope-pkcs11-tool.sh: walk-through on 0 B, 1 B, 1000 B, 1 MiB" \
    'walk-through with pkcs11-tool: OK' \
    env TOKEN="$LABEL" FERROHSM_PIN="$PIN" OUT_DIR="$P11OUT" \
    timeout "$T" "$EXAMPLE/envelope-pkcs11-tool.sh" "$MODULE" "$M/empty" "$M/one" "$M/k1" "$M/mib"
cp "$OUT" "$WORK/p11.log"
for m in "${SIZES[@]}"; do
    same_bytes "pkcs11-tool: decrypted $m equals the original" "$M/$m" "$P11OUT/$m.out"
done
check_out "pkcs11-tool: master key CKA_VALUE unreadable (CKR_ATTRIBUTE_SENSITIVE)" \
    '^reading CKA_VALUE fails with CKR_ATTRIBUTE_SENSITIVE$' cat "$WORK/p11.log"
check_out "pkcs11-tool: master key unwrappable (CKR_KEY_UNEXTRACTABLE)" \
    '^wrapping it \(C_WrapKey\) fails with CKR_KEY_UNEXTRACTABLE$' cat "$WORK/p11.log"
run p11 --token-label "$LABEL" --list-objects --type secrkey
if [ "$status" -eq 0 ] && ! grep -Eqi '^ *ID: *e[23]$' "$OUT" &&
    [ "$(grep -c 'Secret Key Object' "$OUT")" -eq 2 ]; then
    pass "pkcs11-tool: no data key left on the token (only the two master keys)"
else
    fail "pkcs11-tool: no data key left on the token (only the two master keys)"
fi

# The pkcs11-tool envelope under the known master key, opened by plain openssl.
printf '%s' "$KNOWN_MASTER" | xxd -r -p >"$WORK/known-master.bin"
check "pkcs11-tool: import the known master key (--write-object, id 6b)" \
    p11 --token-label "$KAT" --write-object "$WORK/known-master.bin" --type secrkey \
    --key-type AES:32 --id 6b --label known-master --sensitive --usage-wrap
check_out "pkcs11-tool: walk-through with the known master key" \
    'walk-through with pkcs11-tool: OK' \
    env TOKEN="$KAT" FERROHSM_PIN="$PIN" OUT_DIR="$P11OUT/kat" MASTER_ID=6b \
    timeout "$T" "$EXAMPLE/envelope-pkcs11-tool.sh" "$MODULE" "$M/k1"
E=$P11OUT/kat/k1.p11env
if [ -f "$E" ]; then
    head -c 48 "$E" | tail -c 40 >"$WORK/p11-wrapped"
    head -c 64 "$E" | tail -c 16 >"$WORK/p11-iv"
    tail -c +65 "$E" >"$WORK/p11-ct"
fi
run sh -c 'openssl enc -d -id-aes256-wrap-pad -K "$1" -iv A65959A6 -in "$2" -out "$3" &&
    [ "$(stat -c %s "$3")" -eq 32 ] &&
    openssl enc -d -aes-256-cbc -K "$(xxd -p -c 64 "$3")" -iv "$(xxd -p -c 32 "$4")" \
        -in "$5" -out "$6"' \
    sh "$KNOWN_MASTER" "$WORK/p11-wrapped" "$WORK/p11-dek" "$WORK/p11-iv" "$WORK/p11-ct" \
    "$WORK/p11-plain"
if [ "$status" -eq 0 ] && cmp -s "$M/k1" "$WORK/p11-plain"; then
    pass "openssl opens the pkcs11-tool envelope (id-aes256-wrap-pad, aes-256-cbc)"
else
    fail "openssl opens the pkcs11-tool envelope (id-aes256-wrap-pad, aes-256-cbc)"
fi

interop_summary 74
