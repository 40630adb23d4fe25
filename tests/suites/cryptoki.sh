#!/usr/bin/env bash
# The cryptoki crate's own integration tests (its crates.io package, pinned below) against a
# PKCS#11 module, and the same tests against SoftHSMv2 in the same run, for the README's
# compatibility table. The tests initialize the first slot's token themselves.
#
# Usage: tests/suites/cryptoki.sh [MODULE [SOFTHSM_MODULE]]
#        tests/suites/cryptoki.sh --build-only   (fetch and build the tests, run nothing)
#   MODULE defaults to $FERROHSM_MODULE, else target/release/libferrohsm.so; SOFTHSM_MODULE to
#   Debian's libsofthsm2.so ("none" skips the comparison run).
#
# Tests listed in tests/suites/cryptoki.exclude (each with the clause of the specification
# it contradicts) are skipped for MODULE only. Prints each run's counts and ends with
# `N passed, N failed` for MODULE; exits non-zero if any test not excluded failed, or if the
# crate cannot be fetched or built.
set -euo pipefail

VERSION=0.12.1
here=$(cd "$(dirname "$0")" && pwd)
BUILD_ONLY=
if [ "${1:-}" = --build-only ]; then
    BUILD_ONLY=1
    shift
fi
# shellcheck source=tests/suites/lib.sh
. "$here/lib.sh"
suite_args cryptoki "$@"

[ -n "$BUILD_ONLY" ] || [ -f "$MODULE" ] || fail_setup "module '$MODULE' not found (cargo build --release)"

# The crate's package, fetched through cargo (the registry the build already uses), copied out
# of cargo's cache so that its own Cargo.lock and a target directory of its own are used.
crate=$CACHE/cryptoki-$VERSION
if [ ! -f "$crate/tests/basic.rs" ]; then
    fetch=$CACHE/cryptoki-fetch
    mkdir -p "$fetch/src"
    printf '[package]\nname = "cryptoki-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\ncryptoki = "=%s"\n[workspace]\n' \
        "$VERSION" >"$fetch/Cargo.toml"
    : >"$fetch/src/lib.rs"
    cargo fetch --manifest-path "$fetch/Cargo.toml" >/dev/null 2>&1 ||
        fail_setup "cargo fetch of cryptoki $VERSION failed"
    src=$(cargo metadata --manifest-path "$fetch/Cargo.toml" --format-version 1 2>/dev/null |
        python3 -c 'import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "cryptoki":
        print(p["manifest_path"].rsplit("/", 1)[0])') || true
    [ -n "$src" ] && [ -f "$src/tests/basic.rs" ] || fail_setup "cryptoki $VERSION sources not found after cargo fetch"
    rm -rf "$crate" && cp -r "$src" "$crate"
    # Its own workspace: the cache lies inside this repository's tree, whose workspace cargo
    # would otherwise take it for a member of.
    printf '\n[workspace]\n' >>"$crate/Cargo.toml"
fi
export CARGO_TARGET_DIR=$CACHE/cryptoki-target
(cd "$crate" && cargo test --locked --no-run >"$CACHE/cryptoki-build.log" 2>&1) || {
    tail -n 30 "$CACHE/cryptoki-build.log"
    fail_setup "cargo test --no-run failed for cryptoki $VERSION"
}
if [ -n "$BUILD_ONLY" ]; then
    echo "cryptoki $VERSION tests built"
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrohsm-cksuite.XXXXXX")
[ -n "${SUITES_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

# run NAME MODULE [libtest args...]: the tests on a fresh token directory; writes $WORK/NAME.txt.
run() {
    local name=$1 module=$2
    shift 2
    suite_env "$module" "$WORK/$name"
    (cd "$crate" && TEST_PKCS11_MODULE=$module timeout 900 cargo test --locked --no-fail-fast \
        -- --test-threads=1 "$@" >"$WORK/$name.txt" 2>&1) || true
}

count() { grep -cE "^test .* \.\.\. $2(\$|,)" "$1" || true; }
counts() { echo "$(count "$1" ok) passed, $(count "$1" FAILED) failed, $(count "$1" ignored) ignored"; }

skips=()
while IFS= read -r t; do skips+=(--skip "$t"); done < <(excluded "$here/cryptoki.exclude")
run module "$MODULE" --exact ${skips[@]+"${skips[@]}"}
grep -E '^test .* \.\.\. FAILED$' "$WORK/module.txt" | sed 's/^/  /' || true
echo "cryptoki $VERSION tests on $(basename "$MODULE"): $(counts "$WORK/module.txt"), $((${#skips[@]} / 2)) excluded"
if [ "$SOFTHSM" != none ]; then
    [ -f "$SOFTHSM" ] || fail_setup "SoftHSMv2 module '$SOFTHSM' not found (scripts/test installs softhsm2)"
    run softhsm "$SOFTHSM"
    echo "cryptoki $VERSION tests on $(basename "$SOFTHSM"): $(counts "$WORK/softhsm.txt")"
fi
passed=$(count "$WORK/module.txt" ok)
failed=$(count "$WORK/module.txt" FAILED)
if [ "$passed" -eq 0 ]; then
    tail -n 20 "$WORK/module.txt"
    fail_setup "no test ran"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
