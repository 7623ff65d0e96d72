#!/usr/bin/env bash
# PostgreSQL restarted under load: a throwaway cluster of its own (initdb on
# a free port), one server on it, a 20 s load, the cluster stopped at 5 s
# and started at 10 s (.ci/pg_fault.py says what passes).
#
#   .ci/pg-fault.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-target}"
case "$target" in
    /*) ;;
    *) target="$root/$target" ;;
esac
cargo build --quiet -p casebook-server --bin casebook
export CASEBOOK_BIN="$target/debug/casebook"
timeout 300 python3 .ci/pg_fault.py
