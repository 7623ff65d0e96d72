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
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# One database for every suite, and a fresh server process for each: the
# sign-in throttles live in memory, so no suite inherits the budget an
# earlier one spent (the admin suite spends it on purpose), while what the
# suites made stays in the database. Arguments are NAME=value settings for
# this server alone, where @PORT@ stands for the port it listens on; one
# named CASEBOOK_URL is the suite's, not the server's: where the browser
# and the suite reach the server (by default http://127.0.0.1:port).
start_server() {
    local port setting url=""
    local settings=()
    port=$(free_port)
    for setting in "$@"; do
        setting=${setting//@PORT@/$port}
        case "$setting" in
            CASEBOOK_URL=*) url=${setting#CASEBOOK_URL=} ;;
            *) settings+=("$setting") ;;
        esac
    done
    env ${settings[@]+"${settings[@]}"} CASEBOOK_LOG=warn "$bin" serve --addr "127.0.0.1:$port" \
        --database-url "sqlite://$work/casebook.db" >>"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 50); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
        sleep 0.2
    done
    export CASEBOOK_URL="${url:-http://127.0.0.1:$port}"
}
export SCREENSHOT_DIR="$PWD/target/ui-screenshots"
rm -rf "$SCREENSHOT_DIR"
mkdir -p "$SCREENSHOT_DIR"
status=0
# The applications flows first; 60 applications before the audit trail's pages.
# Strong sign-in last: it sends mail, to a relay the suite itself runs on
# a port chosen here, and waits for authenticator codes to turn over.
# UI_SUITES runs some of them (`UI_SUITES="tests/ui/usage.test.mjs" .ci/ui.sh`).
suites=${UI_SUITES:-tests/ui/console.test.mjs tests/ui/keyboard.test.mjs tests/ui/scale.test.mjs tests/ui/keyuri.test.mjs tests/ui/admin.test.mjs tests/ui/federated.test.mjs tests/ui/secrets.test.mjs tests/ui/tenants.test.mjs tests/ui/audit.test.mjs tests/ui/week.test.mjs tests/ui/usage.test.mjs tests/ui/webhooks.test.mjs tests/ui/sdk.test.mjs tests/ui/passkeys.test.mjs tests/ui/signin.test.mjs}
for suite in $suites; do
    echo "# $suite"
    case "$suite" in
        */passkeys.test.mjs)
            # Browsers allow passkeys only at a domain name, never at an IP
            # address: the server says it lives at localhost, and the
            # browser (with Chromium's virtual authenticator) goes there.
            start_server "CASEBOOK_PUBLIC_URL=http://localhost:@PORT@" "CASEBOOK_URL=http://localhost:@PORT@"
            timeout 150 node "$suite" || status=1
            ;;
        */signin.test.mjs)
            smtp_port=$(free_port)
            start_server "CASEBOOK_SMTP_URL=smtp://127.0.0.1:$smtp_port"
            UI_SMTP_PORT=$smtp_port timeout 300 node "$suite" || status=1
            ;;
        *)
            start_server
            timeout 150 node "$suite" || status=1
            ;;
    esac
    stop_server
done
if [ "$status" -ne 0 ]; then
    echo "# server log (last lines):"
    tail -n 30 "$work/server.log" || true
fi
exit "$status"
