#!/usr/bin/env bash
# Drives the admin console in headless Chromium against a live server.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd tests/ui && npm ci --no-audit --no-fund --silent)

cargo build --quiet --bin casebook
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CASEBOOK_ADMIN_EMAIL=console-admin@agency.example.org
export CASEBOOK_ADMIN_PASSWORD="console test password $RANDOM"
CASEBOOK_LOG=warn target/debug/casebook serve --addr "127.0.0.1:$port" \
    --database-url "sqlite://$work/casebook.db" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done
CASEBOOK_URL="http://127.0.0.1:$port" timeout 120 node tests/ui/admin_console.mjs
