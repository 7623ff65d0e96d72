#!/usr/bin/env bash
# oauth4webapi, the strict OAuth 2.0 library for JavaScript, accepts Casebook
# at the root and at a tenant's base URL alike: one fresh server (default
# signing algorithm, SQLite), a tenant made on it by the root's
# administrator, and tests/interop/oauth4webapi.test.mjs run against the
# public URL and then against $BASE/t/interop-tenant (RFC 8414 §3.1
# discovery, the client credentials grant, introspection, revocation,
# RFC 9068 validation of the token, and DPoP with the library's handle).
# Then a second fresh server with CASEBOOK_DPOP_NONCE=true, and the suite's
# --dpop-nonce checks at both URLs: the library's handle retries once on
# use_dpop_nonce, at the token endpoint and at the API.
#
#   .ci/interop.sh
#
# Prints one line per check; exits non-zero when any check fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SUITE="$ROOT/tests/interop"
# The server log stays for inspection after the run.
OUT="${INTEROP_OUT:-$ROOT/target/interop}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/casebook"
ADMIN_EMAIL="interop-admin@casebook.example.org"
ADMIN_PASSWORD="interop $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
SLUG="interop-tenant"

# ----------------------------------------------------------------- tools
node --version >&2
# npm ci empties node_modules first: only when the lockfile moved.
if ! cmp -s "$SUITE/package-lock.json" "$SUITE/node_modules/.installed-package-lock.json"; then
    npm ci --prefix "$SUITE" --no-audit --no-fund --silent
    cp "$SUITE/package-lock.json" "$SUITE/node_modules/.installed-package-lock.json"
fi
node -e 'console.log(`oauth4webapi ${require(process.argv[1]).version}`)' \
    "$SUITE/node_modules/oauth4webapi/package.json" >&2

cargo build --quiet -p casebook-server --bin casebook

# ----------------------------------------------------------------- server
mkdir -p "$OUT"
WORK="$(mktemp -d)"
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# start_server NAME [VAR=VALUE...]: a fresh server on a free port with its
# own SQLite database and $OUT/NAME.log, and on it the tenant $SLUG made by
# the root's administrator; sets BASE and LOG.
start_server() {
    local name="$1"
    shift
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    BASE="http://127.0.0.1:$port"
    LOG="$OUT/$name.log"
    mkdir -p "$WORK/$name"
    env -u CASEBOOK_TOKEN_SIGNING_ALG -u CASEBOOK_DPOP_NONCE \
        CASEBOOK_ADDR="127.0.0.1:$port" \
        CASEBOOK_DATABASE_URL="sqlite://$WORK/$name/casebook.db" \
        CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" \
        CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        CASEBOOK_LOG="${CASEBOOK_LOG:-warn}" \
        "$@" \
        "$BIN" serve >"$LOG" 2>&1 &
    SERVER_PID=$!

    local ready=0
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request; urllib.request.urlopen('$BASE/readyz', timeout=1)" 2>/dev/null; then
            ready=1
            break
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    if [[ "$ready" -ne 1 ]]; then
        echo "the $name server did not become ready:" >&2
        cat "$LOG" >&2
        exit 1
    fi

    # The tenant gets the root administrator's credentials, so that the suite
    # signs in alike at both.
    CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        python3 - "$BASE" "$SLUG" <<'PY'
import json, os, sys, urllib.request

base, slug = sys.argv[1:]
email, password = os.environ["CASEBOOK_ADMIN_EMAIL"], os.environ["CASEBOOK_ADMIN_PASSWORD"]

def post(path, body, bearer=None):
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = "Bearer " + bearer
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201, (path, response.status)
        return json.load(response)

session = post("/admin/v1/sessions", {"email": email, "password": password})["token"]
tenant = post("/admin/v1/tenants", {"slug": slug, "name": "Interop tenant", "admin_email": email,
                                    "admin_password": password}, bearer=session)
assert tenant["base_url"] == f"{base}/t/{slug}", tenant
PY
}

# ----------------------------------------------------------------- checks
status=0
LOGS=()
# run_suite [--dpop-nonce]: the suite at the root and at the tenant of $BASE.
run_suite() {
    for url in "$BASE" "$BASE/t/$SLUG"; do
        if ! CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
            timeout 60 node "$SUITE/oauth4webapi.test.mjs" "$url" "$@"; then
            status=1
        fi
    done
}

start_server server
LOGS+=("$LOG")
run_suite
stop_server

start_server server-dpop-nonce CASEBOOK_DPOP_NONCE=true
LOGS+=("$LOG")
run_suite --dpop-nonce
stop_server

for log in "${LOGS[@]}"; do
    if grep -q "panicked" "$log"; then
        echo "the server panicked ($log):" >&2
        grep -B2 -A10 "panicked" "$log" >&2
        status=1
    fi
done
if [[ "$status" -ne 0 ]]; then
    for log in "${LOGS[@]}"; do
        echo "server log $log follows" >&2
        tail -n 30 "$log" >&2
    done
    echo "oauth4webapi refused what it should accept, or accepted what it should refuse" >&2
fi
exit "$status"
