#!/usr/bin/env bash
# The Rust SDK as partners get it: casebook-domain and casebook-sdk package
# (each verified by building the packaged sources, the local domain
# satisfying the SDK), their documentation builds without a warning, and a
# partner's crate outside the workspace (tests/partner) uses the SDK with
# its own reqwest::Client and from blocking code against the real server.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-target}"
case "$target" in
    /*) ;;
    *) target="$root/$target" ;;
esac
# One target dir for the workspace and the partner crate: the partner
# build reuses what the workspace build compiled.
export CARGO_TARGET_DIR="$target"
export CASEBOOK_BIN="${CASEBOOK_BIN:-$target/debug/casebook}"

echo "--- cargo package"
# Cargo verifies casebook-sdk against the casebook-domain just packaged,
# treated as a registry crate: one of the same version that an earlier run
# unpacked or built is taken as unchanged. So the check is against this
# tree's domain, the unpacked copies go and the packages build in a target
# directory of their own, fresh each run (about a minute).
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/casebook-domain-* \
    "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/casebook-sdk-*
package_target=$(mktemp -d)
trap 'rm -rf "$package_target"' EXIT
CARGO_TARGET_DIR="$package_target" cargo package --allow-dirty -p casebook-domain -p casebook-sdk

echo "--- the blocking feature: the SDK, its tests and examples, clippy-clean"
# The workspace's clippy and tests build the SDK without it.
cargo clippy --quiet -p casebook-sdk --all-targets --features blocking -- -D warnings

echo "--- cargo doc, warnings denied"
# As docs.rs builds them: the domain without the server's features, the
# SDK with every feature of its own (blocking).
RUSTDOCFLAGS="-D warnings" cargo doc -p casebook-domain -p casebook-sdk --no-deps --features casebook-sdk/blocking

echo "--- the partner crate against the real server"
# Up to date after `cargo test --workspace`, which built the same debug profile.
cargo build --quiet -p casebook-server --bin casebook
cd tests/partner
# Seeded from the workspace's lockfile, so that it resolves the versions
# already built; --locked keeps it that way.
cargo test --locked
