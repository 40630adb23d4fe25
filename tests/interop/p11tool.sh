#!/usr/bin/env bash
# p11-kit and GnuTLS (Debian p11-kit, gnutls-bin) against a PKCS#11 module, on a fresh token in
# a temporary directory.
#
# Usage: tests/interop/p11tool.sh [MODULE]
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so in this repository.
#   For a dry run against SoftHSMv2, pass its module path (a SoftHSM configuration in the
#   temporary directory is written when SOFTHSM2_CONF is unset).
#
# What runs:
#   - a p11-kit registration, $WORK/config/pkcs11/modules/ferrohsm.module (XDG_CONFIG_HOME),
#     seen by `p11-kit list-modules` and by p11tool without --provider;
#   - p11tool --provider MODULE: --list-tokens, --list-mechanisms, --generate-privkey (RSA and
#     EC), --list-all, --test-sign, --write and --delete of a certificate;
#   - certtool signs a self-signed certificate with each generated key (checked by plain
#     OpenSSL against the public key exported with pkcs11-tool);
#   - p11-kit's proxy module (p11-kit-proxy.so) under pkcs11-tool: -L shows the token, and a
#     signature through the proxy verifies with plain OpenSSL.
#
# p11-kit ignores user configuration in programs running as root. Run as root, the script hands
# its work directory to the unprivileged user `nobody` (P11_USER overrides) and runs every
# client as that user, through setpriv.
#
# Prints `PASS name` or `FAIL name` per check, ends with `N passed, N failed`, and exits
# non-zero if any check failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
NAME="p11-kit and GnuTLS p11tool"
# shellcheck source=tests/interop/lib.sh
. "$here/lib.sh"

PROXY=${P11KIT_PROXY:-/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so}
LABEL=p11tool
T=60

interop_setup "${1:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}" \
    p11tool certtool p11-kit pkcs11-tool openssl timeout setpriv cmp grep
[ -f "$PROXY" ] || prereq_fail "p11-kit proxy module '$PROXY' not found (Debian package p11-kit)"
case "$(basename "$MODULE")" in
*softhsm*)
    if [ -z "${SOFTHSM2_CONF:-}" ]; then
        export SOFTHSM2_CONF="$WORK/softhsm2.conf"
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
            "$FERROHSM_TOKEN_DIR" >"$SOFTHSM2_CONF"
    fi
    ;;
esac

new_token "$LABEL" || true

# --- Run the clients as an ordinary user --------------------------------------------------------
AS_USER=()
if [ "$(id -u)" -eq 0 ]; then
    P11_USER=${P11_USER:-nobody}
    AS_USER=(setpriv --reuid="$P11_USER" --regid="$(id -g "$P11_USER")" --clear-groups --)
    chown -R "$P11_USER:$(id -g "$P11_USER")" "$WORK"
    if ! "${AS_USER[@]}" test -r "$MODULE"; then
        # The module is not readable by that user (a repository under /root): use a copy.
        mkdir -p "$WORK/lib"
        cp "$MODULE" "$WORK/lib/"
        MODULE="$WORK/lib/$(basename "$MODULE")"
        chown -R "$P11_USER:$(id -g "$P11_USER")" "$WORK/lib"
    fi
    echo "running as root: clients run as user $P11_USER"
fi
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/config"
"${AS_USER[@]}" mkdir -p "$HOME" "$XDG_CONFIG_HOME/pkcs11/modules"
# The PINs reach p11tool and certtool through the environment (--login with GNUTLS_PIN).
export GNUTLS_PIN="$PIN" GNUTLS_SO_PIN="$SO_PIN"

u() { "${AS_USER[@]}" timeout "$T" "$@"; }
p11() { u p11tool --provider "$MODULE" "$@"; }
p11tool_kit() { u p11tool "$@"; }
ptool() { u pkcs11-tool --module "$MODULE" --token-label "$LABEL" "$@"; }
proxy() { u pkcs11-tool --module "$PROXY" "$@"; }
ossl() { OPENSSL_CONF=/dev/null timeout "$T" openssl "$@"; }
TOKEN="pkcs11:token=$LABEL"

# --- Registration with p11-kit --------------------------------------------------------------------
# tools/p11-kit/ferrohsm.module with the real path, in the user configuration directory.
sed "s|^module:.*|module: $MODULE|" "$root/tools/p11-kit/ferrohsm.module" |
    "${AS_USER[@]}" tee "$XDG_CONFIG_HOME/pkcs11/modules/ferrohsm.module" >/dev/null
check_out "p11-kit list-modules shows the ferrohsm module" "^ferrohsm: $MODULE" \
    u p11-kit list-modules || true
if awk -v m="ferrohsm: $MODULE" -v l="$LABEL" '
        /^[^ ]/ { mine = ($0 == m) }
        mine && $1 == "token:" && $2 == l { found = 1 }
        END { exit !found }' "$OUT"; then
    pass "p11-kit list-modules shows the token under the ferrohsm module"
else
    fail "p11-kit list-modules shows the token under the ferrohsm module" "no 'token: $LABEL'"
fi
check_out "p11tool --list-tokens (through the p11-kit registration) shows the token" \
    "Label: $LABEL\$" p11tool_kit --list-tokens || true

# --- p11tool on the module directly ----------------------------------------------------------------
check_out "p11tool --provider --list-tokens shows the token" "URL: pkcs11:.*token=$LABEL" \
    p11 --list-tokens || true
check_out "p11tool --list-mechanisms lists RSA and ECDSA key generation" "CKM_RSA_PKCS_KEY_PAIR_GEN" \
    p11 --list-mechanisms "$TOKEN" || true
if grep -q "CKM_ECDSA_KEY_PAIR_GEN" "$OUT" && grep -q "CKM_SHA256_RSA_PKCS " "$OUT"; then
    pass "p11tool --list-mechanisms lists CKM_ECDSA_KEY_PAIR_GEN and CKM_SHA256_RSA_PKCS"
else
    fail "p11tool --list-mechanisms lists CKM_ECDSA_KEY_PAIR_GEN and CKM_SHA256_RSA_PKCS"
fi

check "p11tool --generate-privkey rsa --bits 2048" \
    p11 --login --generate-privkey rsa --bits 2048 --label rsa-gen --id 0a \
    --outfile "$WORK/rsa-gen.p11tool.pem" "$TOKEN" || true
check "p11tool --generate-privkey ecdsa --curve secp256r1" \
    p11 --login --generate-privkey ecdsa --curve secp256r1 --label ec-gen --id 0b \
    --outfile "$WORK/ec-gen.p11tool.pem" "$TOKEN" || true

check_out "p11tool --list-all (no login) shows the public keys" "object=ec-gen;type=public" \
    p11 --list-all "$TOKEN" || true
if grep -q "object=rsa-gen;type=public" "$OUT" && ! grep -q "type=private" "$OUT"; then
    pass "p11tool --list-all without login lists no private key"
else
    fail "p11tool --list-all without login lists no private key"
fi
check_out "p11tool --login --list-all shows the RSA private key" "Private key \(RSA-2048\)" \
    p11 --login --list-all "$TOKEN" || true
if grep -q "Private key (EC/ECDSA-SECP256R1)" "$OUT"; then
    pass "p11tool --login --list-all shows the EC private key"
else
    fail "p11tool --login --list-all shows the EC private key"
fi
check_out "p11tool --list-privkeys shows both private keys with their URLs" \
    "object=ec-gen;type=private" p11 --login --list-privkeys "$TOKEN" || true

for k in rsa-gen:0a ec-gen:0b; do
    name=${k%%:*} id=${k#*:}
    check_out "p11tool --test-sign with $name" "Verifying against public key in the token\.\.\. ok" \
        p11 --login --test-sign "$TOKEN;object=$name;type=private" || true
    # The public key, exported independently by pkcs11-tool, against p11tool's output.
    check "export the $name public key with pkcs11-tool (--read-object --type pubkey --id $id)" \
        ptool --read-object --type pubkey --id "$id" --output-file "$WORK/$name.pub.der" || true
    ossl pkey -pubin -inform DER -in "$WORK/$name.pub.der" -out "$WORK/$name.pub.pem" 2>/dev/null || true
    ossl pkey -pubin -in "$WORK/$name.p11tool.pem" -out "$WORK/$name.p11tool.norm.pem" 2>/dev/null || true
    same_file "the $name public key printed by p11tool is the token's" \
        "$WORK/$name.pub.pem" "$WORK/$name.p11tool.norm.pem"
done

# --- certtool signs with the token keys; plain OpenSSL checks ------------------------------------
printf 'cn = "ferrohsm p11tool"\nserial = 1\nexpiration_days = 30\nsigning_key\nca\ncert_signing_key\n' \
    | "${AS_USER[@]}" tee "$WORK/cert.tmpl" >/dev/null
for name in rsa-gen ec-gen; do
    check "certtool --generate-self-signed with the token key $name" \
        u certtool --provider "$MODULE" --generate-self-signed \
        --load-privkey "$TOKEN;object=$name;type=private" \
        --load-pubkey "$TOKEN;object=$name;type=public" \
        --template "$WORK/cert.tmpl" --hash SHA256 --outfile "$WORK/$name.crt" || true
    check_out "openssl x509 parses the $name certificate" "Subject: CN ?= ?ferrohsm p11tool" \
        ossl x509 -in "$WORK/$name.crt" -noout -text || true
    ossl x509 -in "$WORK/$name.crt" -noout -pubkey >"$WORK/$name.crt.pub" 2>/dev/null || true
    same_file "the $name certificate holds the token's public key" "$WORK/$name.pub.pem" "$WORK/$name.crt.pub"
    check_out "the $name certificate's signature verifies with plain OpenSSL" ": OK" \
        ossl verify -CAfile "$WORK/$name.crt" "$WORK/$name.crt" || true
done

# --- Write, read back and delete a certificate ------------------------------------------------------
check "p11tool --write --load-certificate (label rsa-cert, id 0a)" \
    p11 --login --write --load-certificate "$WORK/rsa-gen.crt" --label rsa-cert --id 0a "$TOKEN" || true
check_out "p11tool --list-all-certs shows it" "object=rsa-cert;type=cert" \
    p11 --list-all-certs "$TOKEN" || true
check "p11tool --export the certificate" \
    p11 --export "$TOKEN;object=rsa-cert;type=cert" --outfile "$WORK/rsa-cert.out.pem" || true
ossl x509 -in "$WORK/rsa-gen.crt" -outform DER -out "$WORK/rsa-cert.der" 2>/dev/null || true
ossl x509 -in "$WORK/rsa-cert.out.pem" -outform DER -out "$WORK/rsa-cert.out.der" 2>/dev/null || true
same_file "the exported certificate is the written one (DER, byte for byte)" \
    "$WORK/rsa-cert.der" "$WORK/rsa-cert.out.der"
check "pkcs11-tool reads the certificate back (--read-object --type cert --id 0a)" \
    ptool --read-object --type cert --id 0a --output-file "$WORK/rsa-cert.ptool.der" || true
same_file "pkcs11-tool reads the written certificate byte for byte" \
    "$WORK/rsa-cert.der" "$WORK/rsa-cert.ptool.der"
check "p11tool --delete the certificate" \
    p11 --login --batch --delete "$TOKEN;object=rsa-cert;type=cert" || true
check_not_out "the deleted certificate is gone (--login --list-all)" "type=cert" \
    p11 --login --list-all "$TOKEN" || true
if grep -q "object=rsa-gen;type=private" "$OUT"; then
    pass "the key pair survives the certificate's deletion"
else
    fail "the key pair survives the certificate's deletion"
fi

# --- Through p11-kit's proxy module ------------------------------------------------------------------
check_out "pkcs11-tool on p11-kit-proxy.so: -L shows the token" "token label *: *$LABEL *\$" \
    proxy -L || true
head -c 2000 /dev/urandom >"$WORK/data.bin"
check "sign through the proxy (pkcs11-tool --sign -m SHA256-RSA-PKCS, key rsa-gen)" \
    proxy --token-label "$LABEL" --login --pin "$PIN" --sign --mechanism SHA256-RSA-PKCS \
    --id 0a --input-file "$WORK/data.bin" --output-file "$WORK/proxy.rsa.sig" || true
check_out "the proxy RSA signature verifies with plain OpenSSL" "Verified OK" \
    ossl dgst -sha256 -verify "$WORK/rsa-gen.pub.pem" -signature "$WORK/proxy.rsa.sig" "$WORK/data.bin" || true
ossl dgst -sha256 -binary -out "$WORK/data.sha256" "$WORK/data.bin"
check "sign through the proxy (pkcs11-tool --sign -m ECDSA over a SHA-256 hash, key ec-gen)" \
    proxy --token-label "$LABEL" --login --pin "$PIN" --sign --mechanism ECDSA \
    --signature-format openssl --id 0b --input-file "$WORK/data.sha256" \
    --output-file "$WORK/proxy.ec.sig" || true
check_out "the proxy ECDSA signature verifies with plain OpenSSL" "Verified OK" \
    ossl dgst -sha256 -verify "$WORK/ec-gen.pub.pem" -signature "$WORK/proxy.ec.sig" "$WORK/data.bin" || true

interop_summary 42
