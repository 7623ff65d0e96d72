#!/usr/bin/env bash
# A rolling upgrade, as deploy/README.md describes it: the previous release
# (the commit in .ci/previous-release, built once and cached) as two
# replicas on PostgreSQL behind HAProxy (deploy/haproxy.cfg), under a load of
# token and `me` requests and admin writes, replaced one by one by this
# build; then a SQLite install made by the previous release, upgraded in
# place. .ci/rolling_upgrade.py says what passes.
#
#   .ci/rolling-upgrade.sh                 the release in .ci/previous-release
#   PREVIOUS_RELEASE=<commit> .ci/rolling-upgrade.sh   any other (to show
#                                          what an unsafe migration does)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="${CARGO_TARGET_DIR:-target}"
case "$target" in
    /*) ;;
    *) target="$root/$target" ;;
esac

previous="${PREVIOUS_RELEASE:-$(tr -d '[:space:]' <.ci/previous-release)}"
# A full hash needs no history (a cached build needs none at all); a short
# one is looked up.
if ! [[ "$previous" =~ ^[0-9a-f]{40}$ ]]; then
    previous=$(git rev-parse --verify "$previous^{commit}")
fi
cache_root="${CASEBOOK_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/casebook-ci}"
cache="$cache_root/release-$previous"
if [ ! -x "$cache/casebook" ]; then
    echo "--- building the previous release ${previous:0:12} (cached in $cache)"
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    if ! git cat-file -e "$previous^{commit}" 2>/dev/null; then
        echo "the previous release ${previous:0:12} is not in this clone's history: fetch it (git fetch --unshallow) or build it once into $cache" >&2
        exit 1
    fi
    git archive "$previous" | tar -x -C "$src"
    # A target directory of its own, kept between runs: the next previous
    # release rebuilds only what changed. (This build's target directory
    # would mix the two releases' `casebook` binaries.)
    (cd "$src" && CARGO_TARGET_DIR="$cache_root/target" cargo build --quiet --locked -p casebook-server --bin casebook)
    mkdir -p "$cache"
    cp "$cache_root/target/debug/casebook" "$cache/casebook.tmp"
    mv "$cache/casebook.tmp" "$cache/casebook"
fi
export CASEBOOK_PREVIOUS_BIN="$cache/casebook"
echo "previous: $("$CASEBOOK_PREVIOUS_BIN" --version) (${previous:0:12})"

if ! command -v haproxy >/dev/null 2>&1; then
    echo "installing haproxy" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null
fi
# Up to date after `cargo test --workspace`, which built the same profile.
cargo build --quiet -p casebook-server --bin casebook
export CASEBOOK_BIN="$target/debug/casebook"
echo "this build: $("$CASEBOOK_BIN" --version)"

timeout 600 python3 .ci/rolling_upgrade.py
