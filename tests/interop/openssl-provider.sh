#!/usr/bin/env bash
# OpenSSL 3 through pkcs11-provider against a PKCS#11 module, on a fresh token in a temporary
# directory.
#
# Usage: tests/interop/openssl-provider.sh [MODULE]
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so in this repository.
#   For a dry run against SoftHSMv2, pass its module path (a SoftHSM configuration in the
#   temporary directory is written when SOFTHSM2_CONF is unset).
#   The provider (pkcs11.so) is $PKCS11_PROVIDER, else what `scripts/install-pkcs11-provider
#   --find` prints; that script installs it (Debian 12: from bookworm-backports).
#
# Keys are generated on the token with pkcs11-tool: RSA-2048 (id 01), EC P-256 (id 02) and
# EC P-384 (id 03); pkcs11-tool also exports the reference public keys. OpenSSL, with an
# openssl.cnf in the work directory that loads the default and pkcs11 providers (module path and
# PIN file, and no pkcs11-module-quirks: the module must work without no-deinit and
# no-operation-state), then lists the keys (storeutl), exports the public keys, signs (RSA
# PKCS#1 v1.5 and PSS, ECDSA P-256 and P-384), decrypts (RSA PKCS#1 v1.5, OAEP SHA-1 and
# SHA-256), derives (ECDH P-256 and P-384), makes self-signed certificates (req -x509) and CSRs
# (req -new), generates keys on the token (genpkey) and serves TLS 1.3 on 127.0.0.1 with the
# server key on the token. Every result is checked by plain OpenSSL without the provider
# (OPENSSL_CONF=/dev/null): exported keys against pkcs11-tool's, signatures against the
# reference public keys, decrypted and derived data byte for byte, certificates and CSRs by
# `openssl verify` / `req -verify`, the TLS server by s_client with -verify_return_error.
#
# Prints `PASS name` or `FAIL name` per check, ends with `N passed, N failed`, and exits
# non-zero if any check failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
NAME="OpenSSL pkcs11-provider"
# shellcheck source=tests/interop/lib.sh
. "$here/lib.sh"

LABEL=provider
T=60

interop_setup "${1:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}" \
    openssl pkcs11-tool timeout cmp grep awk sed
PROVIDER_SO=${PKCS11_PROVIDER:-$("$root/scripts/install-pkcs11-provider" --find 2>/dev/null || true)}
[ -f "$PROVIDER_SO" ] ||
    prereq_fail "pkcs11-provider not found (scripts/install-pkcs11-provider installs it)"
echo "provider: $PROVIDER_SO"
case "$(basename "$MODULE")" in
*softhsm*)
    if [ -z "${SOFTHSM2_CONF:-}" ]; then
        export SOFTHSM2_CONF="$WORK/softhsm2.conf"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$FERROHSM_TOKEN_DIR" >"$SOFTHSM2_CONF"
    fi
    ;;
esac
# The module comes from the configuration only.
unset PKCS11_PROVIDER_MODULE

# The provider's configuration; only the provider calls see it (prov), the checks use plain
# OpenSSL (ossl). No pkcs11-module-quirks on purpose.
echo "$PIN" >"$WORK/pin.txt"
cat >"$WORK/openssl.cnf" <<EOF
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect

[default_sect]
activate = 1

[pkcs11_sect]
module = $PROVIDER_SO
pkcs11-module-path = $MODULE
pkcs11-module-token-pin = file:$WORK/pin.txt
# genpkey writes the generated (non-extractable) key as a "PKCS#11 PROVIDER URI" PEM.
pkcs11-module-encode-provider-uri-to-pem = true
activate = 1
EOF

# prov ARGS...: `openssl ARGS` with the provider configuration.
prov() {
    OPENSSL_CONF="$WORK/openssl.cnf" timeout "$T" openssl "$@"
}
# ossl ARGS...: plain OpenSSL, without the provider.
ossl() {
    OPENSSL_CONF=/dev/null timeout "$T" openssl "$@"
}
p11() {
    timeout "$T" pkcs11-tool --module "$MODULE" --token-label "$LABEL" "$@"
}
# uri OBJECT-LABEL [TYPE]: the PKCS#11 URI of a key on the test token.
uri() {
    echo "pkcs11:token=$LABEL;object=$1;type=${2:-private}"
}

new_token "$LABEL" || true

# --- Keys, generated and exported with pkcs11-tool (the reference) ----------------------------
check "generate RSA-2048 key pair (pkcs11-tool --keypairgen, id 01)" \
    p11 --login --pin "$PIN" --keypairgen --key-type rsa:2048 --id 01 --label rsa || true
check "generate EC P-256 key pair (pkcs11-tool --keypairgen, id 02)" \
    p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 02 --label p256 || true
check "generate EC P-384 key pair (pkcs11-tool --keypairgen, id 03)" \
    p11 --login --pin "$PIN" --keypairgen --key-type EC:secp384r1 --id 03 --label p384 || true

# ec_spki LABEL OUT: the DER SubjectPublicKeyInfo of the EC public key labelled LABEL, built
# from the CKA_EC_PARAMS and CKA_EC_POINT that `pkcs11-tool -O` prints. (`pkcs11-tool
# --read-object --type pubkey` of OpenSC 0.23 fails on P-384 keys, whatever the module.)
der_len() { # LEN-IN-BYTES -> DER length octets in hex
    if [ "$1" -lt 128 ]; then printf '%02x' "$1"
    elif [ "$1" -lt 256 ]; then printf '81%02x' "$1"
    else printf '82%04x' "$1"; fi
}
ec_spki() {
    local params point alg bits spki
    read -r params point < <(p11 -O --type pubkey | awk -v want="$1" '
        /^[^ ]/ { if (mine && pt != "") { print par, pt; exit } mine = 0; pt = ""; par = "" }
        /^ *EC_POINT:/ { pt = $2 }
        /^ *EC_PARAMS:/ { par = $2 }
        /^ *label:/ { l = $0; sub(/^ *label: */, "", l); mine = (l == want) }
        END { if (mine && pt != "") print par, pt }') || return 1
    [ -n "$point" ] || { echo "no EC public key labelled $1 in pkcs11-tool -O"; return 1; }
    # CKA_EC_POINT is a DER OCTET STRING (04 LEN point); the BIT STRING takes the bare point.
    case $point in 0481*) point=${point:6} ;; 04*) point=${point:4} ;; esac
    alg="06072a8648ce3d0201$params"
    alg="30$(der_len $((${#alg} / 2)))$alg"
    bits="03$(der_len $((${#point} / 2 + 1)))00$point"
    spki="$alg$bits"
    spki="30$(der_len $((${#spki} / 2)))$spki"
    # shellcheck disable=SC2059,SC2001
    printf "$(sed 's/../\\x&/g' <<<"$spki")" >"$2"
}
# ref_pub LABEL: the reference public key of LABEL, exported by pkcs11-tool, as
# $WORK/LABEL.ref.pem (plain OpenSSL must parse it).
ref_pub() {
    case $1 in
    *rsa*) p11 --read-object --type pubkey --label "$1" --output-file "$WORK/$1.ref.der" ;;
    *) ec_spki "$1" "$WORK/$1.ref.der" ;;
    esac || return 1
    ossl pkey -pubin -inform DER -in "$WORK/$1.ref.der" -out "$WORK/$1.ref.pem"
}
for name in rsa p256 p384; do
    check "pkcs11-tool exports the $name public key (reference for the checks)" ref_pub "$name" || true
done

check_out "the provider is active (openssl list -providers)" "status: active" \
    prov list -providers -verbose || true

# --- Key listing with storeutl ----------------------------------------------------------------
check "storeutl -keys -text lists the token's keys" prov storeutl -keys -text "pkcs11:token=$LABEL" || true
cp "$OUT" "$WORK/storeutl.keys.txt"
for name in rsa p256 p384; do
    case $name in rsa) what="PKCS11 RSA Private Key" ;; *) what="PKCS11 EC Private Key" ;; esac
    check_out "storeutl -keys lists the $name private key with its URI" \
        "object=$name;type=private" cat "$WORK/storeutl.keys.txt" || true
    check_out "storeutl -keys -text describes the $name private key ($what)" \
        "$what" grep -B2 "object=$name;type=private" "$WORK/storeutl.keys.txt" || true
done
check_out "storeutl -keys finds 3 private keys" "Total found: 3" cat "$WORK/storeutl.keys.txt" || true
check_out "storeutl lists the 3 public keys (type=public)" "Total found: 3" \
    prov storeutl "pkcs11:token=$LABEL;type=public" || true

# --- Public-key export through the provider ---------------------------------------------------
# The provider writes the public key of an RSA private key as PKCS#1 "RSA PUBLIC KEY" (whatever
# the module), so each export is re-encoded by plain OpenSSL (SubjectPublicKeyInfo) to compare.
for name in rsa p256 p384; do
    rm -f "$WORK/$name.pub.pem" "$WORK/$name.priv2pub.pem"
    check "export the $name public key through the provider (pkey -pubin -in type=public)" \
        prov pkey -pubin -in "$(uri "$name" public)" -out "$WORK/$name.pub.prov" || true
    check "plain OpenSSL parses the $name public key the provider exported" \
        ossl pkey -pubin -in "$WORK/$name.pub.prov" -out "$WORK/$name.pub.pem" || true
    same_file "the provider's $name public key equals pkcs11-tool's" \
        "$WORK/$name.ref.pem" "$WORK/$name.pub.pem"
    check "export the $name public key from the private key URI (pkey -pubout)" \
        prov pkey -in "$(uri "$name")" -pubout -out "$WORK/$name.priv2pub.prov" || true
    check "plain OpenSSL parses the $name public key exported from the private key URI" \
        ossl pkey -pubin -in "$WORK/$name.priv2pub.prov" -out "$WORK/$name.priv2pub.pem" || true
    same_file "the $name public key from the private key URI equals pkcs11-tool's" \
        "$WORK/$name.ref.pem" "$WORK/$name.priv2pub.pem"
done

head -c 3000 /dev/urandom >"$WORK/data.bin"
for md in sha256 sha384; do ossl dgst "-$md" -binary -out "$WORK/data.$md" "$WORK/data.bin"; done

# --- Signatures -------------------------------------------------------------------------------
# sign_check NAME KEY MD VERIFY-SIGOPTS -- SIGN-ARGS...: sign data.bin with the token key
# through `openssl dgst` and the MD hash with `openssl pkeyutl` (SIGN-ARGS are -sigopt/-pkeyopt
# style name:value options), verify both with plain OpenSSL against the reference key.
sign_check() {
    local name=$1 key=$2 md=$3 vopts=() opt dopts=() popts=()
    shift 3
    while [ "$1" != -- ]; do vopts+=(-sigopt "$1"); shift; done
    shift
    for opt in "$@"; do dopts+=(-sigopt "$opt"); popts+=(-pkeyopt "$opt"); done
    rm -f "$WORK/sig.dgst" "$WORK/sig.pkeyutl"
    check "$name: sign with the provider (dgst -$md -sign)" \
        prov dgst "-$md" -sign "$(uri "$key")" ${dopts[@]+"${dopts[@]}"} \
        -out "$WORK/sig.dgst" "$WORK/data.bin" || true
    check_out "$name: dgst signature verifies with plain OpenSSL" "Verified OK" \
        ossl dgst "-$md" -verify "$WORK/$key.ref.pem" ${vopts[@]+"${vopts[@]}"} \
        -signature "$WORK/sig.dgst" "$WORK/data.bin" || true
    check "$name: sign a $md hash with the provider (pkeyutl -sign)" \
        prov pkeyutl -sign -inkey "$(uri "$key")" -pkeyopt "digest:$md" ${popts[@]+"${popts[@]}"} \
        -in "$WORK/data.$md" -out "$WORK/sig.pkeyutl" || true
    check_out "$name: pkeyutl signature verifies with plain OpenSSL" "Verified OK" \
        ossl dgst "-$md" -verify "$WORK/$key.ref.pem" ${vopts[@]+"${vopts[@]}"} \
        -signature "$WORK/sig.pkeyutl" "$WORK/data.bin" || true
}
sign_check "RSA PKCS#1 v1.5 SHA-256" rsa sha256 --
sign_check "RSA PKCS#1 v1.5 SHA-384" rsa sha384 --
sign_check "RSA-PSS SHA-256 salt 32" rsa sha256 rsa_padding_mode:pss rsa_pss_saltlen:32 -- \
    rsa_padding_mode:pss rsa_pss_saltlen:32
sign_check "RSA-PSS SHA-384 salt digest" rsa sha384 rsa_padding_mode:pss rsa_pss_saltlen:-2 -- \
    rsa_padding_mode:pss rsa_pss_saltlen:digest
sign_check "ECDSA P-256 SHA-256" p256 sha256 --
sign_check "ECDSA P-384 SHA-384" p384 sha384 --

# --- Decryption -------------------------------------------------------------------------------
head -c 100 /dev/urandom >"$WORK/secret.bin"
decrypt_check() { # NAME OPENSSL-PKEYOPTS...
    local name=$1
    shift
    local opts=() o
    for o in "$@"; do opts+=(-pkeyopt "$o"); done
    rm -f "$WORK/enc.bin" "$WORK/dec.bin"
    check "RSA $name: encrypt with plain OpenSSL to the reference public key" \
        ossl pkeyutl -encrypt -pubin -inkey "$WORK/rsa.ref.pem" ${opts[@]+"${opts[@]}"} \
        -in "$WORK/secret.bin" -out "$WORK/enc.bin" || true
    check "RSA $name: decrypt with the provider (pkeyutl -decrypt)" \
        prov pkeyutl -decrypt -inkey "$(uri rsa)" ${opts[@]+"${opts[@]}"} \
        -in "$WORK/enc.bin" -out "$WORK/dec.bin" || true
    same_file "RSA $name: decrypted data byte for byte" "$WORK/secret.bin" "$WORK/dec.bin"
}
decrypt_check "PKCS#1 v1.5"
decrypt_check "OAEP SHA-1" rsa_padding_mode:oaep rsa_oaep_md:sha1 rsa_mgf1_md:sha1
decrypt_check "OAEP SHA-256" rsa_padding_mode:oaep rsa_oaep_md:sha256 rsa_mgf1_md:sha256

# --- ECDH -------------------------------------------------------------------------------------
for k in p256:P-256 p384:P-384; do
    name=${k%%:*} curve=${k#*:}
    rm -f "$WORK/z.$name.token" "$WORK/z.$name.ref"
    ossl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" -out "$WORK/peer.$name.key"
    ossl pkey -in "$WORK/peer.$name.key" -pubout -out "$WORK/peer.$name.pub"
    check "ECDH $curve: derive with the provider (pkeyutl -derive, token key + peer public key)" \
        prov pkeyutl -derive -inkey "$(uri "$name")" -peerkey "$WORK/peer.$name.pub" \
        -out "$WORK/z.$name.token" || true
    check "ECDH $curve: derive with plain OpenSSL (peer key + reference public key)" \
        ossl pkeyutl -derive -inkey "$WORK/peer.$name.key" -peerkey "$WORK/$name.ref.pem" \
        -out "$WORK/z.$name.ref" || true
    same_file "ECDH $curve: shared secrets byte for byte" "$WORK/z.$name.ref" "$WORK/z.$name.token"
done

# --- Certificates (req -x509) and CSRs (req -new) ---------------------------------------------
for k in rsa:sha256 p256:sha256 p384:sha384; do
    name=${k%%:*} md=${k#*:}
    rm -f "$WORK/$name.crt" "$WORK/$name.csr"
    check "req -x509 with the token $name key" \
        prov req -new -x509 -key "$(uri "$name")" "-$md" -subj "/CN=ferrohsm provider $name" \
        -days 30 -out "$WORK/$name.crt" || true
    check_out "openssl x509 parses the $name certificate" \
        "Subject: CN ?= ?ferrohsm provider $name" ossl x509 -in "$WORK/$name.crt" -noout -text || true
    ossl x509 -in "$WORK/$name.crt" -noout -pubkey >"$WORK/$name.crt.pub" 2>/dev/null || true
    same_file "the $name certificate holds the token's public key" "$WORK/$name.ref.pem" "$WORK/$name.crt.pub"
    check_out "the $name certificate's self-signature verifies (openssl verify)" ": OK" \
        ossl verify -CAfile "$WORK/$name.crt" "$WORK/$name.crt" || true

    check "req -new (CSR) with the token $name key" \
        prov req -new -key "$(uri "$name")" "-$md" -subj "/CN=ferrohsm csr $name" \
        -out "$WORK/$name.csr" || true
    check_out "the $name CSR's signature verifies (plain openssl req -verify)" "verify OK" \
        ossl req -in "$WORK/$name.csr" -verify -noout || true
    ossl req -in "$WORK/$name.csr" -noout -pubkey >"$WORK/$name.csr.pub" 2>/dev/null || true
    same_file "the $name CSR holds the token's public key" "$WORK/$name.ref.pem" "$WORK/$name.csr.pub"
done

# --- Key generation on the token through the provider (genpkey) -------------------------------
gen_check() { # LABEL ID MD GENPKEY-ARGS...
    local name=$1 id=$2 md=$3
    shift 3
    rm -f "$WORK/$name.genpkey.out" "$WORK/sig.gen"
    check "genpkey on the token: $name ($*)" \
        prov genpkey -propquery "provider=pkcs11" "$@" \
        -pkeyopt "pkcs11_uri:pkcs11:token=$LABEL;object=$name;id=%$id" \
        -out "$WORK/$name.genpkey.out" || true
    check_out "the generated $name private key is on the token, sensitive and local (pkcs11-tool -O)" \
        "label: +$name" p11 --login --pin "$PIN" -O --type privkey --label "$name" || true
    check_out "the generated $name private key never left the token" \
        "Access: +sensitive, always sensitive, never extractable, local" \
        p11 --login --pin "$PIN" -O --type privkey --label "$name" || true
    check "pkcs11-tool exports the generated $name public key" ref_pub "$name" || true
    check_out "genpkey wrote the $name key as a PKCS#11 provider URI (no key material)" \
        "^-----BEGIN PKCS#11 PROVIDER URI-----" cat "$WORK/$name.genpkey.out" || true
    check "sign with the generated $name key through the provider (key by URI)" \
        prov dgst "-$md" -sign "$(uri "$name")" -out "$WORK/sig.gen" "$WORK/data.bin" || true
    check_out "the generated $name key's signature verifies with plain OpenSSL" "Verified OK" \
        ossl dgst "-$md" -verify "$WORK/$name.ref.pem" -signature "$WORK/sig.gen" "$WORK/data.bin" || true
    rm -f "$WORK/sig.gen"
    check "sign with the generated $name key through the provider (key from genpkey's file)" \
        prov dgst "-$md" -sign "$WORK/$name.genpkey.out" -out "$WORK/sig.gen" "$WORK/data.bin" || true
    check_out "the $name signature made with genpkey's file verifies with plain OpenSSL" "Verified OK" \
        ossl dgst "-$md" -verify "$WORK/$name.ref.pem" -signature "$WORK/sig.gen" "$WORK/data.bin" || true
}
gen_check gen-rsa 11 sha256 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
gen_check gen-p256 12 sha256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
gen_check gen-p384 13 sha384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384

# --- TLS 1.3 on 127.0.0.1 with the server key on the token ------------------------------------
# start_server KEY CERT LOG: s_server with the provider in the background, on a free port of
# 127.0.0.1 ($port), registered in INTEROP_PIDS; returns 1 if it is not listening in 30 s.
start_server() {
    local key=$1 cert=$2 log=$3 _
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        # a port someone answers on is taken
        if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then continue; fi
        : >"$log"
        OPENSSL_CONF="$WORK/openssl.cnf" timeout 300 openssl s_server -accept "127.0.0.1:$port" \
            -www -tls1_3 -key "$(uri "$key")" -cert "$cert" >"$log" 2>&1 &
        server_pid=$!
        INTEROP_PIDS+=("$server_pid")
        for _ in $(seq 1 60); do
            if grep -qs '^ACCEPT' "$log"; then return 0; fi
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.5
        done
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        grep -qi 'in use' "$log" || break
    done
    cp "$log" "$OUT"
    return 1
}
for k in rsa:RSA-PSS p256:ECDSA p384:ECDSA; do
    name=${k%%:*} sigtype=${k#*:}
    log="$WORK/s_server.$name.log"
    if ! start_server "$name" "$WORK/$name.crt" "$log"; then
        fail "TLS 1.3 $name: s_server listens with the token key" "not listening (log below)"
        continue
    fi
    pass "TLS 1.3 $name: s_server listens with the token key (127.0.0.1:$port)"
    run timeout "$T" env OPENSSL_CONF=/dev/null openssl s_client -connect "127.0.0.1:$port" \
        -tls1_3 -CAfile "$WORK/$name.crt" -verify_return_error -ign_eof \
        <<<$'GET / HTTP/1.0\r\n\r'
    cp "$OUT" "$WORK/s_client.$name.log"
    check_out "TLS 1.3 $name: s_client (plain OpenSSL) verifies the server: Verify return code 0" \
        "Verify return code: 0 \(ok\)" cat "$WORK/s_client.$name.log" || true
    check_out "TLS 1.3 $name: the handshake is TLSv1.3" "Protocol *: TLSv1\.3|New, TLSv1\.3" \
        cat "$WORK/s_client.$name.log" || true
    check_out "TLS 1.3 $name: the server signed with $sigtype" "Peer signature type: $sigtype" \
        cat "$WORK/s_client.$name.log" || true
    check_out "TLS 1.3 $name: the server answers over the session (s_server -www)" "HTTP/1\.0 200 ok" \
        cat "$WORK/s_client.$name.log" || true
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    : >"$OUT"
    check_not_out "TLS 1.3 $name: s_server logged no error" "[Ee]rror|:error:" cat "$log" || true
done

# --- The audit trail of what OpenSSL did (README "Audit trail") ------------------------------
check_out "audit: genpkey's RSA key pair, generated by openssl, with the public key's label" \
    '"eventName":"C_GenerateKeyPair".*"program":"openssl".*"mechanism":"CKM_RSA_PKCS_KEY_PAIR_GEN".*"keyLabel":"gen-rsa".*"result":"CKR_OK"' \
    "$UTIL" audit show --json --op C_GenerateKeyPair || true
check_out "audit: openssl's logins, as the user" \
    '"eventName":"C_Login".*"program":"openssl".*"userType":"CKU_USER".*"result":"CKR_OK"' \
    "$UTIL" audit show --json --op C_Login || true
check_out "audit: the chain verifies" 'chain intact from record 1' "$UTIL" audit verify || true

interop_summary 143
