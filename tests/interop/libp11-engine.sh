#!/usr/bin/env bash
# OpenSSL through the libp11 engine (Debian libengine-pkcs11-openssl) against a PKCS#11 module,
# on a fresh token in a temporary directory.
#
# Usage: tests/interop/libp11-engine.sh [MODULE]
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so in this repository.
#   For a dry run against SoftHSMv2, pass its module path (a SoftHSM configuration in the
#   temporary directory is written when SOFTHSM2_CONF is unset).
#
# Keys are generated on the token with pkcs11-tool: RSA-2048 (id 01), EC P-256 (id 02) and
# EC P-384 (id 03); their public keys are exported with pkcs11-tool. The engine, loaded from an
# openssl.cnf in the work directory (MODULE_PATH and PIN), then signs (RSA PKCS#1 v1.5 and PSS,
# ECDSA P-256 and P-384), decrypts (RSA PKCS#1 v1.5, OAEP SHA-1 and OAEP SHA-256) and makes a
# self-signed certificate (req -x509). Every result is checked by plain OpenSSL, without the
# engine: signatures against the exported public keys, decrypted data byte for byte, the
# certificate by `openssl x509` and `openssl verify`.
#
# Prints `PASS name` or `FAIL name` per check, ends with `N passed, N failed`, and exits
# non-zero if any check failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
NAME="OpenSSL libp11 engine"
# shellcheck source=tests/interop/lib.sh
. "$here/lib.sh"

ENGINE_SO=${LIBP11_ENGINE:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}
LABEL=engine
T=60

interop_setup "${1:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}" \
    openssl pkcs11-tool timeout cmp grep
[ -f "$ENGINE_SO" ] ||
    prereq_fail "libp11 engine '$ENGINE_SO' not found (Debian package libengine-pkcs11-openssl)"
case "$(basename "$MODULE")" in
*softhsm*)
    if [ -z "${SOFTHSM2_CONF:-}" ]; then
        export SOFTHSM2_CONF="$WORK/softhsm2.conf"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$FERROHSM_TOKEN_DIR" >"$SOFTHSM2_CONF"
    fi
    ;;
esac

# The engine's configuration; only the engine calls see it (ENG), the checks use plain OpenSSL.
cat >"$WORK/openssl.cnf" <<EOF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
pkcs11 = pkcs11_section

[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $MODULE
PIN = $PIN
init = 0
EOF

# eng ARGS...: `openssl ARGS` with the engine configuration.
eng() {
    OPENSSL_CONF="$WORK/openssl.cnf" timeout "$T" openssl "$@"
}
# ossl ARGS...: plain OpenSSL, without the engine.
ossl() {
    OPENSSL_CONF=/dev/null timeout "$T" openssl "$@"
}
p11() {
    timeout "$T" pkcs11-tool --module "$MODULE" --token-label "$LABEL" "$@"
}
uri() {
    echo "pkcs11:token=$LABEL;object=$1;type=private"
}

new_token "$LABEL" || true

# --- Keys, generated and exported with pkcs11-tool --------------------------------------------
check "generate RSA-2048 key pair (pkcs11-tool --keypairgen, id 01)" \
    p11 --login --pin "$PIN" --keypairgen --key-type rsa:2048 --id 01 --label rsa || true
check "generate EC P-256 key pair (pkcs11-tool --keypairgen, id 02)" \
    p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 02 --label p256 || true
check "generate EC P-384 key pair (pkcs11-tool --keypairgen, id 03)" \
    p11 --login --pin "$PIN" --keypairgen --key-type EC:secp384r1 --id 03 --label p384 || true
# ec_spki ID OUT: the DER SubjectPublicKeyInfo of the EC public key with CKA_ID ID, built from
# the CKA_EC_PARAMS and CKA_EC_POINT that `pkcs11-tool -O` prints. (`pkcs11-tool --read-object
# --type pubkey` of OpenSC 0.23 fails on P-384 keys with "cannot create EVP_PKEY", whatever
# the module.)
der_len() { # LEN-IN-BYTES -> DER length octets in hex
    if [ "$1" -lt 128 ]; then printf '%02x' "$1"
    elif [ "$1" -lt 256 ]; then printf '81%02x' "$1"
    else printf '82%04x' "$1"; fi
}
ec_spki() {
    local params point alg bits spki
    read -r params point < <(p11 -O --type pubkey | awk -v id="$1" '
        /^[^ ]/ { if (mine && pt != "") { print par, pt; exit } mine = 0; pt = ""; par = "" }
        /^ *EC_POINT:/ { pt = $2 }
        /^ *EC_PARAMS:/ { par = $2 }
        /^ *ID:/ { mine = (tolower($2) == id) }
        END { if (mine && pt != "") print par, pt }') || return 1
    [ -n "$point" ] || { echo "no EC public key with ID $1 in pkcs11-tool -O"; return 1; }
    # CKA_EC_POINT is a DER OCTET STRING (04 LEN point); the BIT STRING takes the bare point.
    case $point in 0481*) point=${point:6} ;; 04*) point=${point:4} ;; esac
    alg="06072a8648ce3d0201$params"
    alg="30$(der_len $((${#alg} / 2)))$alg"
    bits="03$(der_len $((${#point} / 2 + 1)))00$point"
    spki="$alg$bits"
    spki="30$(der_len $((${#spki} / 2)))$spki"
    # shellcheck disable=SC2001,SC2059
    printf "$(sed 's/../\\x&/g' <<<"$spki")" >"$2"
}
check "export rsa public key (pkcs11-tool --read-object --type pubkey --id 01)" \
    p11 --read-object --type pubkey --id 01 --output-file "$WORK/rsa.pub.der" || true
check "export p256 public key (CKA_EC_POINT from pkcs11-tool -O)" \
    ec_spki 02 "$WORK/p256.pub.der" || true
check "export p384 public key (CKA_EC_POINT from pkcs11-tool -O)" \
    ec_spki 03 "$WORK/p384.pub.der" || true
for name in rsa p256 p384; do
    check "openssl parses the exported $name public key" \
        ossl pkey -pubin -inform DER -in "$WORK/$name.pub.der" -out "$WORK/$name.pub.pem" || true
done
check_out "the p256 public key is on P-256" "prime256v1|P-256" \
    ossl pkey -pubin -in "$WORK/p256.pub.pem" -noout -text || true
check_out "the p384 public key is on P-384" "secp384r1|P-384" \
    ossl pkey -pubin -in "$WORK/p384.pub.pem" -noout -text || true

check_out "the engine loads the module (openssl engine -t pkcs11)" "\[ available \]" \
    eng engine -t -c pkcs11 || true

head -c 3000 /dev/urandom >"$WORK/data.bin"
ossl dgst -sha256 -binary -out "$WORK/data.sha256" "$WORK/data.bin"

# --- Signatures -------------------------------------------------------------------------------
# RSA PKCS#1 v1.5 over a SHA-256 hash (pkeyutl) and over the data (dgst).
rm -f "$WORK/rsa.pkcs1.sig"
check "RSA PKCS#1 v1.5 sign with the engine (pkeyutl -sign, digest:sha256)" \
    eng pkeyutl -engine pkcs11 -keyform engine -inkey "$(uri rsa)" -sign \
    -pkeyopt digest:sha256 -in "$WORK/data.sha256" -out "$WORK/rsa.pkcs1.sig" || true
check_out "RSA PKCS#1 v1.5 signature verifies with plain OpenSSL" "Verified OK" \
    ossl dgst -sha256 -verify "$WORK/rsa.pub.pem" -signature "$WORK/rsa.pkcs1.sig" "$WORK/data.bin" || true

rm -f "$WORK/rsa.dgst.sig"
check "RSA SHA256 PKCS#1 v1.5 sign with the engine (dgst -sign)" \
    eng dgst -engine pkcs11 -keyform engine -sign "$(uri rsa)" -sha256 \
    -out "$WORK/rsa.dgst.sig" "$WORK/data.bin" || true
check_out "dgst RSA signature verifies with plain OpenSSL" "Verified OK" \
    ossl dgst -sha256 -verify "$WORK/rsa.pub.pem" -signature "$WORK/rsa.dgst.sig" "$WORK/data.bin" || true

# RSA-PSS, SHA-256, salt length 32.
rm -f "$WORK/rsa.pss.sig"
check "RSA-PSS sign with the engine (pkeyutl -sign, SHA-256, salt 32)" \
    eng pkeyutl -engine pkcs11 -keyform engine -inkey "$(uri rsa)" -sign \
    -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 \
    -in "$WORK/data.sha256" -out "$WORK/rsa.pss.sig" || true
check_out "RSA-PSS signature verifies with plain OpenSSL" "Verified OK" \
    ossl dgst -sha256 -verify "$WORK/rsa.pub.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -signature "$WORK/rsa.pss.sig" "$WORK/data.bin" || true

rm -f "$WORK/rsa.dgstpss.sig"
check "RSA-PSS sign with the engine (dgst -sign -sigopt rsa_padding_mode:pss)" \
    eng dgst -engine pkcs11 -keyform engine -sign "$(uri rsa)" -sha256 \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
    -out "$WORK/rsa.dgstpss.sig" "$WORK/data.bin" || true
check_out "dgst RSA-PSS signature verifies with plain OpenSSL" "Verified OK" \
    ossl dgst -sha256 -verify "$WORK/rsa.pub.pem" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:-2 -signature "$WORK/rsa.dgstpss.sig" "$WORK/data.bin" || true

# ECDSA P-256 with SHA-256 and P-384 with SHA-384.
for k in p256:sha256 p384:sha384; do
    name=${k%%:*} md=${k#*:}
    rm -f "$WORK/$name.sig" "$WORK/$name.pk.sig"
    check "ECDSA $name sign with the engine (dgst -$md -sign)" \
        eng dgst -engine pkcs11 -keyform engine -sign "$(uri "$name")" "-$md" \
        -out "$WORK/$name.sig" "$WORK/data.bin" || true
    check_out "ECDSA $name signature verifies with plain OpenSSL" "Verified OK" \
        ossl dgst "-$md" -verify "$WORK/$name.pub.pem" -signature "$WORK/$name.sig" "$WORK/data.bin" || true
    ossl dgst "-$md" -binary -out "$WORK/data.$md" "$WORK/data.bin"
    check "ECDSA $name sign with the engine (pkeyutl -sign over a $md hash)" \
        eng pkeyutl -engine pkcs11 -keyform engine -inkey "$(uri "$name")" -sign \
        -in "$WORK/data.$md" -out "$WORK/$name.pk.sig" || true
    check_out "ECDSA $name pkeyutl signature verifies with plain OpenSSL" "Signature Verified Successfully" \
        ossl pkeyutl -verify -pubin -inkey "$WORK/$name.pub.pem" -in "$WORK/data.$md" \
        -sigfile "$WORK/$name.pk.sig" || true
done

# --- Decryption -------------------------------------------------------------------------------
head -c 100 /dev/urandom >"$WORK/secret.bin"
decrypt_check() { # NAME OPENSSL-PKEYOPTS...
    local name=$1
    shift
    local opts=() o
    for o in "$@"; do opts+=(-pkeyopt "$o"); done
    rm -f "$WORK/enc.$name" "$WORK/dec.$name"
    check "RSA $name: encrypt with plain OpenSSL to the exported public key" \
        ossl pkeyutl -encrypt -pubin -inkey "$WORK/rsa.pub.pem" ${opts[@]+"${opts[@]}"} \
        -in "$WORK/secret.bin" -out "$WORK/enc.$name" || true
    check "RSA $name: decrypt with the engine (pkeyutl -decrypt)" \
        eng pkeyutl -engine pkcs11 -keyform engine -inkey "$(uri rsa)" -decrypt \
        ${opts[@]+"${opts[@]}"} -in "$WORK/enc.$name" -out "$WORK/dec.$name" || true
    same_file "RSA $name: decrypted data byte for byte" "$WORK/secret.bin" "$WORK/dec.$name"
}
decrypt_check "PKCS#1 v1.5"
decrypt_check "OAEP SHA-1" rsa_padding_mode:oaep rsa_oaep_md:sha1 rsa_mgf1_md:sha1
decrypt_check "OAEP SHA-256" rsa_padding_mode:oaep rsa_oaep_md:sha256 rsa_mgf1_md:sha256

# --- A self-signed certificate (req -x509) with the engine keys --------------------------------
for k in rsa:sha256 p256:sha256; do
    name=${k%%:*} md=${k#*:}
    rm -f "$WORK/$name.crt"
    check "req -x509 with the engine $name key" \
        eng req -new -x509 -engine pkcs11 -keyform engine -key "$(uri "$name")" "-$md" \
        -subj "/CN=ferrohsm engine $name" -days 30 -out "$WORK/$name.crt" || true
    check_out "openssl x509 parses the $name certificate" "Subject: CN ?= ?ferrohsm engine $name" \
        ossl x509 -in "$WORK/$name.crt" -noout -text || true
    ossl x509 -in "$WORK/$name.crt" -noout -pubkey >"$WORK/$name.crt.pub" 2>/dev/null || true
    same_file "the $name certificate holds the token's public key" "$WORK/$name.pub.pem" "$WORK/$name.crt.pub"
    check_out "the $name certificate's self-signature verifies (openssl verify)" ": OK" \
        ossl verify -CAfile "$WORK/$name.crt" "$WORK/$name.crt" || true
done

interop_summary 46
