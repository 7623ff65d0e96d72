#!/usr/bin/env bash
# Webhook deliveries verified by the Standard Webhooks library receivers
# use (PyPI `standardwebhooks`). A fresh server on SQLite trusts a CA made
# here (CASEBOOK_EXTRA_CA_FILE) and may reach loopback
# (CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS=true); .ci/webhooks.py runs an HTTPS
# receiver under that CA, registers it, makes audit events, and verifies
# every delivery with the library: signatures, the body's shape, one
# delivery per event, a retry after a 500, a redirect not followed.
#
#   .ci/webhooks.sh
#
# Exits non-zero when any check fails; bounded to about two minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${WEBHOOKS_VENV:-$ROOT/target/webhooks-venv}"
OUT="${WEBHOOKS_OUT:-$ROOT/target/webhooks}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/casebook"
ADMIN_EMAIL="webhooks-admin@casebook.example.org"
ADMIN_PASSWORD="verify $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

REQUIREMENTS="$ROOT/.ci/webhooks-requirements.txt"
if ! cmp -s "$REQUIREMENTS" "$VENV/installed-requirements.txt"; then
    echo "installing the Standard Webhooks library into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/installed-requirements.txt"
fi
PY="$VENV/bin/python"

cargo build --quiet -p casebook-server --bin casebook

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

# A CA and the receiver's certificate for 127.0.0.1, made for this run.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=Casebook webhooks CI CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$WORK/receiver.key" -out "$WORK/receiver.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$WORK/ext"
openssl x509 -req -in "$WORK/receiver.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
    -days 1 -extfile "$WORK/ext" -out "$WORK/receiver.pem" 2>/dev/null

port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$port"
LOG="$OUT/server.log"
CASEBOOK_ADDR="127.0.0.1:$port" \
    CASEBOOK_DATABASE_URL="sqlite://$WORK/casebook.db" \
    CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" \
    CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    CASEBOOK_EXTRA_CA_FILE="$WORK/ca.pem" \
    CASEBOOK_ALLOW_PRIVATE_WEBHOOK_URLS=true \
    CASEBOOK_LOG="${CASEBOOK_LOG:-warn}" \
    "$BIN" serve >"$LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    if "$PY" -c "import urllib.request; urllib.request.urlopen('$BASE/readyz', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.2
done

status=0
if ! CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    timeout 90 "$PY" "$ROOT/.ci/webhooks.py" "$BASE" "$WORK/receiver.pem" "$WORK/receiver.key"; then
    status=1
fi
if grep -q "panicked" "$LOG"; then
    echo "the server panicked:" >&2
    grep -B2 -A10 "panicked" "$LOG" >&2
    status=1
fi
if [[ "$status" -ne 0 ]]; then
    echo "server log follows" >&2
    tail -n 30 "$LOG" >&2
    echo "a webhook delivery did not verify with the Standard Webhooks library" >&2
fi
exit "$status"
