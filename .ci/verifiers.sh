#!/usr/bin/env bash
# Casebook's tokens are accepted unchanged by the resource-server libraries
# partners use. One fresh server per signing algorithm (RS256, the default
# with nothing set; ES256; EdDSA), each on its own SQLite database and port;
# against each, .ci/verifiers.py registers an application, takes a token and
# has Authlib's RFC 9068 validator and PyJWT verify it (and refuse what they
# must), checks the JWKS, and verifies RFC 9701 signed introspection answers;
# then it registers a private_key_jwt application with an RSA public JWK and
# has Authlib's OAuth2Session (PrivateKeyJWT) get tokens and call /api/v1/me.
# The default server also gets a tenant, made by the root's administrator,
# and the same checks run against its base URL ($BASE/t/verify-tenant), plus
# a token of the root refused by Authlib configured for the tenant.
# Last, .ci/notices.py has a server relay its notices to aiosmtpd on loopback
# and takes a signed leak report, and checks what arrives in the mailbox.
#
#   .ci/verifiers.sh
#
# Prints one line per check; exits non-zero when any check fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VERIFIERS_VENV:-$ROOT/target/verifiers-venv}"
# Server logs stay for inspection after the run.
OUT="${VERIFIERS_OUT:-$ROOT/target/verifiers}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/casebook"
ADMIN_EMAIL="verifier-admin@casebook.example.org"
ADMIN_PASSWORD="verify $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

# ----------------------------------------------------------------- tools
REQUIREMENTS="$ROOT/.ci/verifiers-requirements.txt"
if ! cmp -s "$REQUIREMENTS" "$VENV/installed-requirements.txt"; then
    echo "installing the verifier libraries into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/installed-requirements.txt"
fi
PY="$VENV/bin/python"
"$PY" -c 'import authlib, joserfc, jwt, cryptography; print(f"authlib {authlib.__version__}, joserfc {joserfc.__version__}, PyJWT {jwt.__version__}, cryptography {cryptography.__version__}")' >&2

cargo build --quiet -p casebook-server --bin casebook

# ----------------------------------------------------------------- servers
mkdir -p "$OUT"
rm -f "$OUT"/server-*.log
WORK=""
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    if [[ -n "$WORK" ]]; then
        rm -rf "$WORK"
        WORK=""
    fi
}
trap stop_server EXIT INT TERM

# start_server ALG: a fresh install signing with ALG ("" = nothing set, the
# default) on a free port; sets BASE and LOG.
start_server() {
    local alg="$1" port
    WORK="$(mktemp -d)"
    port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    BASE="http://127.0.0.1:$port"
    LOG="$OUT/server-${alg:-default}.log"
    local signing=(-u CASEBOOK_TOKEN_SIGNING_ALG)
    if [[ -n "$alg" ]]; then
        signing=("CASEBOOK_TOKEN_SIGNING_ALG=$alg")
    fi
    env "${signing[@]}" \
        CASEBOOK_ADDR="127.0.0.1:$port" \
        CASEBOOK_DATABASE_URL="sqlite://$WORK/casebook.db" \
        CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" \
        CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        CASEBOOK_LOG="${CASEBOOK_LOG:-warn}" \
        "$BIN" serve >"$LOG" 2>&1 &
    SERVER_PID=$!

    for _ in $(seq 1 100); do
        if "$PY" -c "import urllib.request; urllib.request.urlopen('$BASE/readyz', timeout=1)" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the ${alg:-default} server exited:" >&2
            cat "$LOG" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "the ${alg:-default} server was not ready in time:" >&2
    cat "$LOG" >&2
    return 1
}

# create_tenant SLUG: made at the root by its administrator, with the same
# administrator credentials, so that verifiers.py signs in alike at both.
create_tenant() {
    CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        "$PY" - "$BASE" "$1" <<'PY'
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
tenant = post("/admin/v1/tenants", {"slug": slug, "name": "Verifier tenant", "admin_email": email,
                                    "admin_password": password}, bearer=session)
assert tenant["base_url"] == f"{base}/t/{slug}", tenant
PY
}

# ----------------------------------------------------------------- checks
status=0
# "" first: the RS256 install is the one started with nothing set.
for alg in "" ES256 EdDSA; do
    start_server "$alg"
    failed=0
    if ! CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        timeout 60 "$PY" "$ROOT/.ci/verifiers.py" --alg "${alg:-RS256}" "$BASE"; then
        failed=1
    fi
    # One tenant run keeps CI short: the algorithm is the install's, not the tenant's.
    if [[ -z "$alg" ]]; then
        if ! create_tenant verify-tenant; then
            echo "the tenant verify-tenant could not be created" >&2
            failed=1
        elif ! CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
            timeout 60 "$PY" "$ROOT/.ci/verifiers.py" --alg RS256 --foreign "$BASE" \
            "$BASE/t/verify-tenant"; then
            failed=1
        fi
    fi
    stop_server
    if grep -q "panicked" "$LOG"; then
        echo "the ${alg:-default} server panicked:" >&2
        grep -B2 -A10 "panicked" "$LOG" >&2
        failed=1
    fi
    if [[ "$failed" -ne 0 ]]; then
        echo "server log (${alg:-default}) follows" >&2
        tail -n 30 "$LOG" >&2
        status=1
    fi
done

# Notices through a real SMTP server (aiosmtpd), with a leak report.
if ! timeout 90 "$PY" "$ROOT/.ci/notices.py" "$BIN"; then
    echo "a notice did not reach its mailbox through SMTP" >&2
    status=1
fi

if [[ "$status" -ne 0 ]]; then
    echo "a standard verifier refused what it should accept, or accepted what it should refuse" >&2
fi
exit "$status"
