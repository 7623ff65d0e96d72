#!/usr/bin/env bash
# The TypeScript SDK: a clean install from the lockfile, the build and type
# check (the main entry without Node's types, then the Node subpaths), drift
# of its generated types against openapi/openapi.json and of its form rules
# against sdks/fixtures/form-rules.json, and its tests (node --test) against
# the casebook binary that `cargo test` built. Among them,
# test/quickstart-types.test.mjs packs the package (npm pack), installs the
# tarball into a fresh project (TypeScript and @types/node from npm's cache,
# which `npm ci` filled) and runs `npx tsc --strict --noEmit` on the
# README's quickstart.
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
npm run typecheck          # also: node scripts/form-rules.mjs --check
(cd "$root" && cargo xtask typescript --check)
timeout 600 npm test
