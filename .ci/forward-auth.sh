#!/usr/bin/env bash
# Forward auth behind a real nginx and a real Caddy (Debian packages),
# configured with deploy/forward-auth/'s very files: one fresh Casebook
# (SQLite) on deploy/forward-auth/policy.example.toml, a small upstream that
# echoes what it receives (.ci/forward_auth.py), nginx (auth_request) and
# Caddy (forward_auth) in front of it. `casebook check` must accept the
# example policy and point at a broken one's mistakes; then, through each
# proxy, .ci/forward_auth.py checks allowed, forbidden and unauthenticated
# requests, the identity headers the upstream receives (never forged ones),
# path traversal, encoded slashes and forged forwarding headers refused,
# DPoP through the proxy, and a revoked token and a role taken away refused
# within 5 s. Everything listens on loopback, on free ports, and is stopped
# on exit; logs stay in target/forward-auth/.
#
#   .ci/forward-auth.sh
#
# Prints one line per check; exits non-zero when any check fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEPLOY="$ROOT/deploy/forward-auth"
OUT="${FORWARD_AUTH_OUT:-$ROOT/target/forward-auth}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/casebook"
case "$BIN" in
    /*) ;;
    *) BIN="$ROOT/$BIN" ;;
esac
export CASEBOOK_ADMIN_EMAIL="forward-auth-admin@casebook.example.org"
export CASEBOOK_ADMIN_PASSWORD="forward auth $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

# ----------------------------------------------------------------- tools
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing ${missing[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    fi
fi
nginx -v 2>&1
echo "caddy $(caddy version)"
command -v openssl >/dev/null

cargo build --quiet -p casebook-server --bin casebook

# ----------------------------------------------------------------- processes
mkdir -p "$OUT"
rm -f "$OUT"/*.log
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
CASEBOOK_PORT="$(free_port)"
UPSTREAM_PORT="$(free_port)"
NGINX_PORT="$(free_port)"
CADDY_PORT="$(free_port)"
CASEBOOK="http://127.0.0.1:$CASEBOOK_PORT"

# wait_for NAME URL PID: until URL answers at all (any status), at most 30 s.
wait_for() {
    local name="$1" url="$2" pid="$3" log="$4"
    for _ in $(seq 1 150); do
        if curl -s -o /dev/null --max-time 1 "$url"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    echo "$name did not start:" >&2
    tail -n 30 "$log" >&2
    exit 1
}

casebook_env=(
    env -u CASEBOOK_TOKEN_SIGNING_ALG -u CASEBOOK_DPOP_NONCE -u CASEBOOK_PUBLIC_URL
    -u CASEBOOK_MASTER_KEY -u CASEBOOK_MASTER_KEY_FILE
    CASEBOOK_ADDR="127.0.0.1:$CASEBOOK_PORT"
    CASEBOOK_DATABASE_URL="sqlite://$WORK/casebook.db"
    CASEBOOK_GATEWAY_POLICY="$DEPLOY/policy.example.toml"
    CASEBOOK_TRUSTED_PROXIES=127.0.0.1
    CASEBOOK_LOG="${CASEBOOK_LOG:-warn}"
)
"${casebook_env[@]}" "$BIN" serve >"$OUT/casebook.log" 2>&1 &
PIDS+=($!)
wait_for casebook "$CASEBOOK/readyz" "${PIDS[-1]}" "$OUT/casebook.log"

status=0
# casebook check: the example policy is accepted, a broken one is not.
if check_out="$("${casebook_env[@]}" "$BIN" check 2>&1)"; then
    echo "ok   casebook check accepts deploy/forward-auth/policy.example.toml"
else
    echo "FAIL casebook check refused the example policy:"
    echo "$check_out"
    status=1
fi
sed 's/^permission = "placements:view"$/permission = "placements:look"/' \
    "$DEPLOY/policy.example.toml" >"$WORK/broken-policy.toml"
check_out="$("${casebook_env[@]}" CASEBOOK_GATEWAY_POLICY="$WORK/broken-policy.toml" "$BIN" check 2>&1 || true)"
if grep -q 'error: CASEBOOK_GATEWAY_POLICY .*route 3: .*"placements:look" does not exist' <<<"$check_out"; then
    echo "ok   casebook check names the route of a permission that does not exist"
else
    echo "FAIL casebook check did not name the broken route:"
    echo "$check_out"
    status=1
fi

# nginx: deploy/forward-auth/nginx.conf with its three addresses replaced
# (each must be there exactly once), everything under $WORK/nginx.
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
for line in 'server 127.0.0.1:8080;' 'server 127.0.0.1:9000;' 'listen 8000;'; do
    if [[ "$(grep -cF "$line" "$DEPLOY/nginx.conf")" != 1 ]]; then
        echo "deploy/forward-auth/nginx.conf: expected exactly one '$line'" >&2
        exit 1
    fi
done
{
    # Workers as this user, not nobody (only when run as root).
    [[ "$(id -u)" == 0 ]] && echo "user $(id -un) $(id -gn);"
    sed -e "s/server 127\.0\.0\.1:8080;/server 127.0.0.1:$CASEBOOK_PORT;/" \
        -e "s/server 127\.0\.0\.1:9000;/server 127.0.0.1:$UPSTREAM_PORT;/" \
        -e "s/listen 8000;/listen 127.0.0.1:$NGINX_PORT;/" \
        "$DEPLOY/nginx.conf"
} >"$WORK/nginx/nginx.conf"
nginx_args=(-p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log")
nginx "${nginx_args[@]}" -t -q
nginx "${nginx_args[@]}" -g 'daemon off;' >"$OUT/nginx.log" 2>&1 &
PIDS+=($!)
wait_for nginx "http://127.0.0.1:$NGINX_PORT/" "${PIDS[-1]}" "$OUT/nginx.log"

# Caddy: deploy/forward-auth/Caddyfile as it is, its addresses from the
# environment; its state (none expected, with admin off) under $WORK/caddy.
mkdir -p "$WORK/caddy"
HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" \
    CASEBOOK_UPSTREAM="127.0.0.1:$CASEBOOK_PORT" SERVICE_UPSTREAM="127.0.0.1:$UPSTREAM_PORT" \
    GATEWAY_BIND=127.0.0.1 GATEWAY_PORT="$CADDY_PORT" \
    caddy run --config "$DEPLOY/Caddyfile" --adapter caddyfile >"$OUT/caddy.log" 2>&1 &
PIDS+=($!)
wait_for caddy "http://127.0.0.1:$CADDY_PORT/" "${PIDS[-1]}" "$OUT/caddy.log"

# ----------------------------------------------------------------- checks
if ! timeout 120 python3 "$ROOT/.ci/forward_auth.py" "$CASEBOOK" "$UPSTREAM_PORT" \
    "nginx=http://127.0.0.1:$NGINX_PORT" "caddy=http://127.0.0.1:$CADDY_PORT"; then
    status=1
fi

if grep -q "panicked" "$OUT/casebook.log"; then
    echo "FAIL the server panicked:"
    grep -B2 -A10 "panicked" "$OUT/casebook.log"
    status=1
fi
if [[ "$status" -ne 0 ]]; then
    for log in casebook nginx caddy; do
        echo "--- $OUT/$log.log (last lines)" >&2
        tail -n 20 "$OUT/$log.log" >&2
    done
    echo "--- nginx error log" >&2
    tail -n 20 "$WORK/nginx/logs/error.log" >&2 || true
fi
exit "$status"
