#!/usr/bin/env bash
# Drives the admin console in headless Chromium against a live server: every
# flow at 1366x900 and 390x844, by mouse and by keyboard, with axe-core on
# every screen and dialog. Screenshots land in target/ui-screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd tests/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
# The SDK suite loads the TypeScript SDK's build; .ci/typescript.sh makes it
# in a whole run, and a run of this script alone makes it here.
if [ ! -f sdks/typescript/dist/index.js ]; then
    (cd sdks/typescript && npm ci --no-audit --no-fund --silent && npm run build)
fi

cargo build --quiet -p casebook-server --bin casebook
bin="${CARGO_TARGET_DIR:-target}/debug/casebook"
work=$(mktemp -d)
export CASEBOOK_ADMIN_EMAIL=console-admin@agency.example.org
export CASEBOOK_ADMIN_PASSWORD="console test password $RANDOM"
server=""
stop_server() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
trap 'stop_server; rm -rf "$work"' EXIT
# One database for every suite, and a fresh server process for each: the
# sign-in throttles live in memory, so no suite inherits the budget an
# earlier one spent (the admin suite spends it on purpose), while what the
# suites made stays in the database.
start_server() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    CASEBOOK_LOG=warn "$bin" serve --addr "127.0.0.1:$port" \
        --database-url "sqlite://$work/casebook.db" >>"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 50); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
        sleep 0.2
    done
    export CASEBOOK_URL="http://127.0.0.1:$port"
}
export SCREENSHOT_DIR="$PWD/target/ui-screenshots"
rm -rf "$SCREENSHOT_DIR"
mkdir -p "$SCREENSHOT_DIR"
status=0
# The applications flows first; 60 applications before the audit trail's pages.
for suite in tests/ui/console.test.mjs tests/ui/keyboard.test.mjs tests/ui/scale.test.mjs tests/ui/keyuri.test.mjs tests/ui/admin.test.mjs tests/ui/federated.test.mjs tests/ui/secrets.test.mjs tests/ui/tenants.test.mjs tests/ui/audit.test.mjs tests/ui/week.test.mjs tests/ui/sdk.test.mjs; do
    echo "# $suite"
    start_server
    timeout 150 node "$suite" || status=1
    stop_server
done
if [ "$status" -ne 0 ]; then
    echo "# server log (last lines):"
    tail -n 30 "$work/server.log" || true
fi
exit "$status"
