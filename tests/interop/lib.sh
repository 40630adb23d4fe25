# Shared helpers for the interop scripts in tests/interop/ (sourced, not run).
#
# A script sets NAME (shown in the banner) and calls, in order:
#   interop_setup MODULE TOOL...   checks the tools and the module, makes $WORK, points
#                                  FERROHSM_TOKEN_DIR/FERROHSM_CONF into it (cheap KDF);
#                                  with FERROHSM_TEST_STORE=postgres also interop_store
#   interop_store                  (scripts with their own set-up call it after it) on
#                                  FERROHSM_TEST_STORE=postgres: a fresh database on the cluster
#                                  FERROHSM_TEST_PG, exported as FERROHSM_STORE_URL (which
#                                  overrides the token directory); dropped on exit
#   new_token LABEL                a fresh token via ferrohsm-util init-token (SO_PIN/PIN)
#   check / check_out / check_not_out / same_file / pass / fail
#   interop_summary MIN            prints `N passed, N failed`, exits non-zero on a failure or
#                                  when fewer than MIN checks passed
#
# Every check prints `PASS name` or `FAIL name[: why]`; a failure shows the output of the
# command that failed, indented.

SO_PIN=${SO_PIN:-12345678}
PIN=${PIN:-1234}

passed=0
failed=0
status=0

interop_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# prereq_fail WHY: a missing prerequisite ends the script as one failed check.
prereq_fail() {
    echo "FAIL prerequisites: $1"
    echo "0 passed, 1 failed"
    exit 1
}

# interop_setup MODULE TOOL...: the module must exist and every TOOL must be on PATH.
interop_setup() {
    MODULE=$1
    shift
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 ||
            prereq_fail "'$tool' not found (scripts/test installs it)"
    done
    [ -f "$MODULE" ] || prereq_fail "module '$MODULE' not found (build it: cargo build --release)"
    MODULE=$(cd "$(dirname "$MODULE")" && pwd)/$(basename "$MODULE")
    UTIL=${FERROHSM_UTIL:-$(dirname "$MODULE")/ferrohsm-util}
    [ -x "$UTIL" ] || prereq_fail "'$UTIL' not found (build it: cargo build --release --workspace)"

    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrohsm-interop.XXXXXX")
    trap 'interop_cleanup' EXIT
    export FERROHSM_TOKEN_DIR="$WORK/tokens"
    export FERROHSM_CONF="$WORK/ferrohsm.toml"
    export FERROHSM_MODULE="$MODULE"
    mkdir -p "$FERROHSM_TOKEN_DIR"
    printf '[kdf]\nmemory_kib = 64\niterations = 1\n' >"$FERROHSM_CONF"
    OUT="$WORK/out.txt"
    : >"$OUT"
    interop_store
    echo "${NAME:-interop} test against $MODULE"
    echo "work directory: $WORK"
}

# interop_store: on FERROHSM_TEST_STORE=postgres, the tokens go to a database of their own.
# The token directory stays exported but must stay empty (interop_summary checks it and that
# the database holds the tokens), so a module that ignored the URL cannot pass as PostgreSQL.
INTEROP_DB=
interop_store() {
    case "${FERROHSM_TEST_STORE:-}" in
    "" | sqlite) return 0 ;;
    postgres) ;;
    *) prereq_fail "FERROHSM_TEST_STORE='$FERROHSM_TEST_STORE': expected sqlite or postgres" ;;
    esac
    [ -n "${FERROHSM_TEST_PG:-}" ] ||
        prereq_fail "FERROHSM_TEST_STORE=postgres but FERROHSM_TEST_PG (the cluster's base connection string, from scripts/pg-cluster start) is not set"
    command -v psql >/dev/null 2>&1 || prereq_fail "'psql' not found (Debian package postgresql-client)"
    local db="ferrohsm_interop_$$_$(basename "$0" .sh | tr -c 'a-z0-9\n' _)"
    psql -X -q -v ON_ERROR_STOP=1 -d "$FERROHSM_TEST_PG" -c "CREATE DATABASE \"$db\"" >"$WORK/createdb.txt" 2>&1 ||
        prereq_fail "CREATE DATABASE $db on '$FERROHSM_TEST_PG' failed: $(cat "$WORK/createdb.txt")"
    INTEROP_DB=$db
    # The base string is key=value (scripts/pg-cluster); the later dbname= wins.
    export FERROHSM_STORE_URL="$FERROHSM_TEST_PG dbname=$db"
    echo "token store: PostgreSQL database $db ($FERROHSM_STORE_URL)"
}

# interop_store_check: with a PostgreSQL store, one check that the tokens went there.
interop_store_check() {
    [ -n "$INTEROP_DB" ] || return 0
    local files tokens
    files=$(find "$FERROHSM_TOKEN_DIR" -type f 2>/dev/null | head -n 5)
    tokens=$(psql -X -At -d "$FERROHSM_STORE_URL" -c "SELECT count(*) FROM tokens" 2>&1) || tokens="query failed: $tokens"
    if [ -z "$files" ] && [[ "$tokens" =~ ^[1-9][0-9]*$ ]]; then
        pass "tokens are in PostgreSQL ($tokens in $INTEROP_DB, none in the token directory)"
    else
        : >"$OUT"
        fail "tokens are in PostgreSQL" "token directory files: ${files:-none}; tokens in $INTEROP_DB: $tokens"
    fi
}

# Background processes a script starts (servers) register their pid here to be ended on exit.
INTEROP_PIDS=()
interop_cleanup() {
    local pid
    for pid in ${INTEROP_PIDS[@]+"${INTEROP_PIDS[@]}"}; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$INTEROP_DB" ] && [ -z "${KEEP_WORK:-}" ]; then
        psql -X -q -d "$FERROHSM_TEST_PG" -c "DROP DATABASE IF EXISTS \"$INTEROP_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "could not drop database $INTEROP_DB" >&2
    fi
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}

# new_token LABEL: initialize a token labelled LABEL in the free slot, with SO_PIN and PIN.
new_token() {
    run "$UTIL" init-token --label "$1" --so-pin "$SO_PIN" --pin "$PIN"
    if [ "$status" -ne 0 ]; then
        fail "create token $1 (ferrohsm-util init-token)" "exit code $status"
        return 1
    fi
    pass "create token $1 (ferrohsm-util init-token)"
}

pass() {
    echo "PASS $1"
    passed=$((passed + 1))
}

# fail NAME [WHY]: record a failure and show the last command's output, indented.
fail() {
    echo "FAIL $1${2:+: $2}"
    failed=$((failed + 1))
    if [ -s "$OUT" ]; then tail -n 40 "$OUT" | sed 's/^/    | /'; fi
}

# run CMD...: run CMD with its output (stdout and stderr) in $OUT; its exit code in $status.
run() {
    status=0
    "$@" >"$OUT" 2>&1 || status=$?
}

# check NAME CMD...: PASS when CMD exits 0.
check() {
    local name=$1
    shift
    run "$@"
    if [ "$status" -ne 0 ]; then
        fail "$name" "exit code $status"
        return 1
    fi
    pass "$name"
}

# check_out NAME REGEX CMD...: PASS when CMD exits 0 and its output matches the extended REGEX.
check_out() {
    local name=$1 regex=$2
    shift 2
    run "$@"
    if [ "$status" -ne 0 ]; then
        fail "$name" "exit code $status"
        return 1
    fi
    if ! grep -Eq -- "$regex" "$OUT"; then
        fail "$name" "output does not match /$regex/"
        return 1
    fi
    pass "$name"
}

# check_not_out NAME REGEX CMD...: PASS when CMD exits 0, prints something, and its output does
# not match REGEX. (An empty output would pass the "does not match" half whatever went wrong.)
check_not_out() {
    local name=$1 regex=$2
    shift 2
    run "$@"
    if [ "$status" -ne 0 ]; then
        fail "$name" "exit code $status"
        return 1
    fi
    if [ ! -s "$OUT" ]; then
        fail "$name" "the command printed nothing"
        return 1
    fi
    if grep -Eq -- "$regex" "$OUT"; then
        fail "$name" "output unexpectedly matches /$regex/"
        return 1
    fi
    pass "$name"
}

# check_fails NAME CMD...: PASS when CMD exits non-zero (a refusal that must happen).
check_fails() {
    local name=$1
    shift
    run "$@"
    if [ "$status" -eq 0 ]; then
        fail "$name" "the command succeeded"
        return 1
    fi
    pass "$name"
}

# same_file NAME EXPECTED ACTUAL: byte-for-byte comparison.
same_file() {
    if [ -s "$3" ] && cmp -s "$2" "$3"; then
        pass "$1"
    else
        : >"$OUT"
        fail "$1" "$3 differs from $2 (or is missing or empty)"
    fi
}

# interop_summary MIN: the closing line; fails when anything failed or when fewer than MIN checks
# passed (each script records the count it had, so a check that silently stops running is seen).
interop_summary() {
    local min=${1:?interop_summary needs the recorded pass count of the script}
    interop_store_check
    if [ "$passed" -lt "$min" ]; then
        echo "FAIL only $passed checks passed; this script recorded $min"
        failed=$((failed + 1))
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
