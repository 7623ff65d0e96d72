#!/usr/bin/env bash
# Generated tests against the committed contract: Schemathesis reads the
# server's own /openapi.json, generates requests for every operation (valid
# and invalid), and checks each answer: no 5xx, a documented status, the
# documented content type, and a body that matches the documented schema.
#
#   .ci/schemathesis.sh                 # defaults below
#   MAX_EXAMPLES=100 MAX_TIME=600 .ci/schemathesis.sh
#
# Exits non-zero when Schemathesis reports any finding.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MAX_EXAMPLES="${MAX_EXAMPLES:-30}"
# Seconds per Schemathesis run (there are two: without and with credentials).
MAX_TIME="${MAX_TIME:-180}"
SEED="${SEED:-}"
VENV="${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-venv}"
CHECKS="not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
ADMIN_EMAIL="fuzz-admin@casebook.example.org"
ADMIN_PASSWORD="fuzz $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

# ----------------------------------------------------------------- tools
REQUIREMENTS="$ROOT/.ci/schemathesis-requirements.txt"
if ! cmp -s "$REQUIREMENTS" "$VENV/installed-requirements.txt"; then
    echo "installing schemathesis into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/installed-requirements.txt"
fi
ST="$VENV/bin/schemathesis"
PY="$VENV/bin/python"
echo "$("$ST" --version)" >&2

cargo build --quiet -p casebook-server --bin casebook

# ----------------------------------------------------------------- server
WORK="$(mktemp -d)"
# Reports and the server log stay for inspection after the run.
OUT="${SCHEMATHESIS_OUT:-$ROOT/target/schemathesis}"
mkdir -p "$OUT"
rm -f "$OUT"/*.ndjson "$OUT/server.log"
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

CASEBOOK_ADDR="127.0.0.1:$PORT" \
CASEBOOK_DATABASE_URL="sqlite://$WORK/casebook.db" \
CASEBOOK_ADMIN_EMAIL="$ADMIN_EMAIL" \
CASEBOOK_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
CASEBOOK_LOG="${CASEBOOK_LOG:-warn}" \
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/casebook" serve >"$OUT/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
    if "$PY" -c "import urllib.request; urllib.request.urlopen('$BASE/readyz', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited:" >&2
        cat "$OUT/server.log" >&2
        exit 1
    fi
    sleep 0.2
done

# An admin session for the authenticated run.
sign_in() {
    ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" "$PY" - "$BASE" <<'EOF'
import json, os, sys, urllib.request
body = json.dumps({"email": os.environ["ADMIN_EMAIL"], "password": os.environ["ADMIN_PASSWORD"]}).encode()
req = urllib.request.Request(sys.argv[1] + "/admin/v1/sessions", data=body,
                             headers={"Content-Type": "application/json"}, method="POST")
with urllib.request.urlopen(req, timeout=10) as r:
    print(json.load(r)["token"])
EOF
}

# ----------------------------------------------------------------- runs
common=(
    --checks "$CHECKS"
    --max-examples "$MAX_EXAMPLES"
    --max-time "$MAX_TIME"
    --request-timeout 10
    --generation-database none
    --no-color
    --report ndjson
)
if [[ -n "$SEED" ]]; then
    common+=(--seed "$SEED")
fi

status=0
run() {
    local name="$1"
    shift
    echo "=== schemathesis: $name" >&2
    # From inside $OUT, so that Schemathesis's cache stays out of the tree.
    if ! (cd "$OUT" && "$ST" run "$BASE/openapi.json" "${common[@]}" --report-ndjson-path "$OUT/$name.ndjson" "$@"); then
        status=1
    fi
}

# Sign in first: the anonymous run's wrong sign-ins spend this source's
# sign-in budget, and the server rightly throttles after it.
TOKEN="$(sign_in)"
ADMIN_ID="$(TOKEN="$TOKEN" "$PY" - "$BASE" <<'EOF'
import json, os, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/api/v1/me", headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
with urllib.request.urlopen(req, timeout=10) as r:
    print(json.load(r)["id"])
EOF
)"

# Both runs load .ci/schemathesis_hooks.py (targeted search off; see there).
export PYTHONPATH="$ROOT/.ci${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks

# 1. No credentials: the OAuth endpoints (clients authenticate in the body),
#    discovery, operations, sign-in, and every guarded operation's 401.
run anonymous
# 2. As the administrator, everything but the OAuth endpoints (a bearer
#    header there is the wrong client authentication) and signing out (it
#    would end the session the run relies on). The hooks keep this run's
#    changes off the administrator's own account and role; they filter many
#    cases of a few operations, so that generator health check is off, the
#    response checks are not.
export CASEBOOK_FUZZ_ADMIN_ID="$ADMIN_ID"
run admin -H "Authorization: Bearer $TOKEN" \
    --exclude-path-regex '^/oauth2/' --exclude-path /admin/v1/sessions/current \
    --suppress-health-check filter_too_much

# ----------------------------------------------------------------- summary
"$PY" - "$OUT"/anonymous.ndjson "$OUT"/admin.ndjson <<'EOF'
import json, sys
requests = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        event = json.loads(line)
        # Each ScenarioFinished carries the recorder of one scenario: one
        # interaction per request actually sent.
        for kind, body in event.items():
            if kind == "ScenarioFinished":
                requests += len(body.get("recorder", {}).get("interactions", {}))
print(f"schemathesis: {requests} generated requests sent")
EOF

if grep -q "panicked" "$OUT/server.log"; then
    echo "the server panicked:" >&2
    grep -B2 -A10 "panicked" "$OUT/server.log" >&2
    status=1
fi
if [[ "$status" -ne 0 ]]; then
    echo "schemathesis found problems (server log follows)" >&2
    tail -n 50 "$OUT/server.log" >&2
fi
exit "$status"
