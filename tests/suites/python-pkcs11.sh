#!/usr/bin/env bash
# python-pkcs11's own test suite (the tests/ folder of its PyPI sdist, pinned below) against a
# PKCS#11 module on a fresh token, and the same suite against SoftHSMv2 in the same run, for
# the README's compatibility table.
#
# Usage: tests/suites/python-pkcs11.sh [MODULE [SOFTHSM_MODULE]]
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so; SOFTHSM_MODULE to
#   Debian's libsofthsm2.so ("none" skips the comparison run).
#
# Tests listed in tests/suites/python-pkcs11.exclude (each with the clause of the specification
# it contradicts) are deselected for MODULE only. Prints each run's counts and ends with
# `N passed, N failed` for MODULE; exits non-zero if any test not excluded failed, or if the
# suite or its Python packages cannot be had.
set -euo pipefail

VERSION=0.10.1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/suites/lib.sh
. "$here/lib.sh"
suite_args python-pkcs11 "$@"

[ -f "$MODULE" ] || fail_setup "module '$MODULE' not found (cargo build --release)"
command -v pkcs11-tool >/dev/null 2>&1 || fail_setup "pkcs11-tool not found (scripts/test installs opensc)"
installed=$(python3 -c 'import importlib.metadata as m; print(m.version("python-pkcs11"))' 2>/dev/null || true)
if [ "$installed" != "$VERSION" ]; then
    python3 -m pip install -q "python-pkcs11==$VERSION" || fail_setup "pip install python-pkcs11==$VERSION failed"
fi
for pkg in pytest parameterized cryptography; do
    python3 -c "import $pkg" 2>/dev/null || python3 -m pip install -q "$pkg" ||
        fail_setup "pip install $pkg failed"
done

# The sdist's tests/ folder, fetched once into the cache. It is run from a folder of its own:
# from the sdist root, `import pkcs11` would find the uncompiled sources instead of the wheel.
suite=$CACHE/python-pkcs11-$VERSION
if [ ! -f "$suite/tests/__init__.py" ]; then
    mkdir -p "$CACHE"
    python3 -m pip download -q --no-deps --no-binary :all: "python-pkcs11==$VERSION" -d "$CACHE" ||
        fail_setup "pip download of the python-pkcs11 $VERSION sdist failed"
    tmp=$(mktemp -d "$CACHE/sdist.XXXXXX")
    tar -xzf "$CACHE/python_pkcs11-$VERSION.tar.gz" -C "$tmp" || fail_setup "the sdist does not unpack"
    rm -rf "$suite" && mkdir -p "$suite"
    cp -r "$tmp/python_pkcs11-$VERSION/tests" "$suite/" && rm -rf "$tmp"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrohsm-pysuite.XXXXXX")
[ -n "${SUITES_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

# run NAME MODULE [pytest args...]: the suite on a fresh token; writes $WORK/NAME.txt.
run() {
    local name=$1 module=$2
    shift 2
    suite_env "$module" "$WORK/$name"
    suite_token "$module" pytest 12345678 1234 || return 1
    (cd "$suite" && PKCS11_MODULE=$module PKCS11_TOKEN_LABEL=pytest PKCS11_TOKEN_PIN=1234 \
        PKCS11_TOKEN_SO_PIN=12345678 timeout 900 python3 -m pytest -p no:cacheprovider -q -rA \
        --tb=line "$@" tests >"$WORK/$name.txt" 2>&1) || true
}

# counts FILE: "P passed, F failed, S skipped" from pytest's -rA lines.
counts() {
    local p f s
    p=$(grep -c '^PASSED ' "$1" || true)
    f=$(grep -cE '^(FAILED|ERROR) ' "$1" || true)
    s=$(grep -c '^SKIPPED ' "$1" || true)
    echo "$p passed, $f failed, $s skipped"
}

deselect=()
while IFS= read -r t; do deselect+=(--deselect "$t"); done < <(excluded "$here/python-pkcs11.exclude")
run module "$MODULE" ${deselect[@]+"${deselect[@]}"} || fail_setup "token set-up failed for $MODULE"
grep -E '^(FAILED|ERROR) ' "$WORK/module.txt" | sed 's/^/  /' || true
result=$(counts "$WORK/module.txt")
echo "python-pkcs11 $VERSION on $(basename "$MODULE"): $result, $((${#deselect[@]} / 2)) excluded"
if [ "$SOFTHSM" != none ]; then
    [ -f "$SOFTHSM" ] || fail_setup "SoftHSMv2 module '$SOFTHSM' not found (scripts/test installs softhsm2)"
    run softhsm "$SOFTHSM" || fail_setup "token set-up failed for SoftHSMv2"
    echo "python-pkcs11 $VERSION on $(basename "$SOFTHSM"): $(counts "$WORK/softhsm.txt")"
fi
passed=$(grep -c '^PASSED ' "$WORK/module.txt" || true)
failed=$(grep -cE '^(FAILED|ERROR) ' "$WORK/module.txt" || true)
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    tail -n 20 "$WORK/module.txt"
    fail_setup "no test ran"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
