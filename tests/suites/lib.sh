# Shared by the registry-suite runners (tests/suites/*.sh): a fresh token directory and
# configuration for ferrohsm or SoftHSMv2, the token made through the module itself, and the
# verdict against the suite's exclusion list.

# suite_args NAME [MODULE [SOFTHSM_MODULE]]: SUITE (for messages), MODULE (default
# $FERROHSM_MODULE, else this repository's release build), SOFTHSM (default Debian's
# libsofthsm2.so, or "none") as absolute paths, since the suites run from their own folders, and
# CACHE (default target/suites) for what is fetched.
suite_args() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    SUITE=$1
    MODULE=${2:-${FERROHSM_MODULE:-$root/target/release/libferrohsm.so}}
    SOFTHSM=${3:-/usr/lib/softhsm/libsofthsm2.so}
    case "$MODULE" in /*) ;; *) MODULE=$PWD/$MODULE ;; esac
    case "$SOFTHSM" in /* | none) ;; *) SOFTHSM=$PWD/$SOFTHSM ;; esac
    CACHE=${SUITES_CACHE:-$root/target/suites}
}

# fail_setup MESSAGE: the suite cannot run; fail loudly, in the runners' summary format.
fail_setup() {
    echo "FAIL $SUITE suite: $*"
    echo "0 passed, 1 failed"
    exit 1
}

# suite_env MODULE DIR: point the module at DIR (its own tokens, a cheap KDF for speed).
suite_env() {
    local module=$1 dir=$2
    mkdir -p "$dir/tokens"
    export FERROHSM_TOKEN_DIR="$dir/tokens" FERROHSM_CONF="$dir/ferrohsm.toml"
    printf '[kdf]\nmemory_kib = 64\niterations = 1\n' >"$FERROHSM_CONF"
    export SOFTHSM2_CONF="$dir/softhsm2.conf"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$dir/tokens" >"$SOFTHSM2_CONF"
    : "$module"
}

# suite_token MODULE LABEL SO_PIN PIN: initialize the first free slot's token and its user PIN
# with pkcs11-tool (through the module, so ferrohsm and SoftHSMv2 are set up alike).
suite_token() {
    local module=$1 label=$2 so_pin=$3 pin=$4 slot
    slot=$(pkcs11-tool --module "$module" -L 2>/dev/null | awk '
        /^Slot [0-9]+ \(0x[0-9a-fA-F]+\)/ { id = $3; gsub(/[():]/, "", id) }
        /uninitialized/ && id != "" { print id; exit }')
    [ -n "$slot" ] || { echo "no free slot in pkcs11-tool -L for $module"; return 1; }
    pkcs11-tool --module "$module" --init-token --slot "$slot" --label "$label" \
        --so-pin "$so_pin" >/dev/null &&
        pkcs11-tool --module "$module" --token-label "$label" --login --login-type so \
            --so-pin "$so_pin" --init-pin --pin "$pin" >/dev/null
}

# excluded FILE: the test names of an exclusion list (one per line, `name  # why`).
excluded() {
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$1" | grep -v '^$' || true
}
