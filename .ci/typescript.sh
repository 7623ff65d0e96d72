#!/usr/bin/env bash
# The TypeScript SDK: a clean install from the lockfile, the build and type
# check, drift of its generated types against openapi/openapi.json, and its
# tests (node --test) against the casebook binary that `cargo test` built.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-target}"
case "$target" in
    /*) ;;
    *) target="$root/$target" ;;
esac
export CASEBOOK_BIN="${CASEBOOK_BIN:-$target/debug/casebook}"
# Up to date after `cargo test --workspace`, which built the same debug profile.
cargo build --quiet -p casebook-server --bin casebook

cd sdks/typescript
node --version
npm ci --no-audit --no-fund
npm run build
npm run typecheck
(cd "$root" && cargo xtask typescript --check)
timeout 600 npm test
