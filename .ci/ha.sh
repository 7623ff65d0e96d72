#!/usr/bin/env bash
# The HA recipe of deploy/ under a fault: HAProxy (deploy/haproxy.cfg) in
# front of two replicas on a fresh PostgreSQL database, a 20 s load of token
# and `me` requests through it, one replica killed with SIGKILL at 5 s and
# started again at 10 s (.ci/ha.py says what passes). Also checks that
# deploy/casebook.service is a unit systemd accepts.
#
#   .ci/ha.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-target}"
case "$target" in
    /*) ;;
    *) target="$root/$target" ;;
esac

if ! command -v haproxy >/dev/null 2>&1; then
    echo "installing haproxy" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null
fi
# sed, not head: head would close the pipe early, and pipefail fail the script.
haproxy -v | sed -n 1p

# Up to date after `cargo test --workspace`, which built the same profile.
cargo build --quiet -p casebook-server --bin casebook
export CASEBOOK_BIN="$target/debug/casebook"

if command -v systemd-analyze >/dev/null 2>&1; then
    # The unit as installed, with ExecStart pointing at this build.
    unit_dir="$(mktemp -d)"
    trap 'rm -rf "$unit_dir"' EXIT
    sed "s|^ExecStart=/usr/local/bin/casebook|ExecStart=$CASEBOOK_BIN|" deploy/casebook.service >"$unit_dir/casebook.service"
    systemd-analyze verify "$unit_dir/casebook.service"
    echo "deploy/casebook.service: systemd-analyze verify found nothing"
fi

timeout 300 python3 .ci/ha.py
