#!/usr/bin/env bash
# The Python recipe of docs/recipes.md against the real server: one fresh
# server (SQLite in a temporary folder, a free loopback port), an application
# registered on it with the seeded Engage Worker role and its secret revealed
# through the admin API, then docs/recipes/python/check_recipe.py: a token
# fetched once and reused, /api/v1/me, a case opened with an Idempotency-Key
# and its replay, paging through cases, a 422 and a 404 read as problem
# documents, a new token after the old one is revoked, a wrong secret; then
# the Java recipe compiled with warnings as errors and run against it.
#
#   .ci/recipes.sh
#
# Prints one line per check and "N passed, N failed"; exits non-zero when
# any check fails. Stops the server by itself, however it ends.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RECIPE="$ROOT/docs/recipes/python"
VENV="${RECIPES_VENV:-$ROOT/target/recipes-venv}"
# The server log stays for inspection after the run.
OUT="${RECIPES_OUT:-$ROOT/target/recipes}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/casebook"
ADMIN_EMAIL="recipes-admin@casebook.example.org"
ADMIN_PASSWORD="recipes $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

# ----------------------------------------------------------------- tools
REQUIREMENTS="$RECIPE/requirements.txt"
if ! cmp -s "$REQUIREMENTS" "$VENV/installed-requirements.txt"; then
    echo "installing the recipe's libraries into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/installed-requirements.txt"
fi
PY="$VENV/bin/python"
"$PY" -c 'import sys, httpx; print(f"Python {sys.version.split()[0]}, httpx {httpx.__version__}")' >&2

cargo build --quiet -p casebook-server --bin casebook

# ----------------------------------------------------------------- server
mkdir -p "$OUT"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
LOG="$OUT/server.log"
env -u CASEBOOK_TOKEN_SIGNING_ALG -u CASEBOOK_DPOP_NONCE -u CASEBOOK_PUBLIC_URL \
    CASEBOOK_ADDR="127.0.0.1:$PORT" \
    CASEBOOK_DATABASE_URL="sqlite://$WORK/casebook.db" \
    CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" \
    CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    CASEBOOK_LOG="${CASEBOOK_LOG:-warn}" \
    "$BIN" serve >"$LOG" 2>&1 &
SERVER_PID=$!

ready=0
for _ in $(seq 1 100); do
    if "$PY" -c "import httpx; httpx.get('$BASE/readyz', timeout=1).raise_for_status()" 2>/dev/null; then
        ready=1
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
if [[ "$ready" -ne 1 ]]; then
    echo "the server did not become ready:" >&2
    cat "$LOG" >&2
    exit 1
fi

# ----------------------------------------------------------------- an application
# What an administrator does in cb Admin: sign in, register the
# application with a role, reveal its secret (the password again).
CREDENTIALS="$(CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    "$PY" - "$BASE" <<'PY'
import os, sys, httpx

base = sys.argv[1]
email, password = os.environ["CASEBOOK_ADMIN_EMAIL"], os.environ["CASEBOOK_ADMIN_PASSWORD"]
with httpx.Client(base_url=base, timeout=10) as http:
    session = http.post("/admin/v1/sessions", json={"email": email, "password": password})
    assert session.status_code == 201, session.text
    http.headers["Authorization"] = "Bearer " + session.json()["token"]
    app = http.post("/admin/v1/external-applications", json={
        "name": "Python recipe", "email": "python-recipe@casebook.example.org", "roles": ["engage-worker"]})
    assert app.status_code == 201, app.text
    app = app.json()
    secret = http.post(f"/admin/v1/external-applications/{app['id']}/client-secret/reveal",
                       json={"password": password})
    assert secret.status_code == 200, secret.text
    print(app["client_id"], secret.json()["client_secret"])
PY
)"
read -r CLIENT_ID CLIENT_SECRET <<<"$CREDENTIALS"

# ----------------------------------------------------------------- the recipes
status=0
CASEBOOK_URL="$BASE" CASEBOOK_CLIENT_ID="$CLIENT_ID" CASEBOOK_CLIENT_SECRET="$CLIENT_SECRET" \
    PYTHONPATH="$RECIPE" timeout 120 "$PY" "$RECIPE/check_recipe.py" || status=1

# The Java recipe compiled as a partner would (JDK 17, Jackson from Debian)
# and its demonstration run: a token reused, a case opened, pages read, a
# 422 read as a problem document.
JACKSON=/usr/share/java
if ! command -v javac >/dev/null 2>&1 || [[ ! -f "$JACKSON/jackson-databind.jar" ]]; then
    echo "installing a JDK and Jackson for the Java recipe" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q default-jdk-headless libjackson2-databind-java >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q default-jdk-headless libjackson2-databind-java >/dev/null; }
fi
CLASSPATH_JAVA="$JACKSON/jackson-databind.jar:$JACKSON/jackson-core.jar:$JACKSON/jackson-annotations.jar"
mkdir -p "$WORK/java"
java_out="$WORK/java.out"
if javac -Xlint:all -Werror -d "$WORK/java" -cp "$CLASSPATH_JAVA" "$ROOT/docs/recipes/java/Casebook.java" \
    && timeout 120 java -cp "$WORK/java:$CLASSPATH_JAVA" Casebook "$BASE" "$CLIENT_ID" "$CLIENT_SECRET" >"$java_out" 2>&1; then
    cat "$java_out"
    for expected in '^me: ' '^opened ' '^cases: [1-9]' '^refused: ' '^  title required: ' '^tokens fetched: 1$'; do
        if ! grep -q "$expected" "$java_out"; then
            echo "FAIL Java recipe: no line matching $expected" >&2
            status=1
        fi
    done
    [[ "$status" -eq 0 ]] && echo "ok   the Java recipe compiles without a warning and runs against the server"
else
    cat "$java_out" 2>/dev/null || true
    echo "FAIL Java recipe: did not compile or run" >&2
    status=1
fi

if grep -q "panicked" "$LOG"; then
    echo "the server panicked:" >&2
    grep -B2 -A10 "panicked" "$LOG" >&2
    status=1
fi
if [[ "$status" -ne 0 ]]; then
    echo "server log $LOG follows" >&2
    tail -n 30 "$LOG" >&2
fi
exit "$status"
