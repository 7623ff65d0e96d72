#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every parser that
# reads outside input; fuzz/README.md lists the targets and what each
# asserts. Every target is built once, then run for a bounded time from a
# copy of its committed seed corpus, so the inputs a run discovers never
# land in the repository. Fails if any target finds a crash, a hang or a
# broken property, and prints where the failing input was kept.
#
#   FUZZ_SECONDS    how long each target runs (default 20)
#   FUZZ_TARGETS    the targets to run, space-separated (default: all)
#   FUZZ_ARTIFACTS  where failing inputs are kept (default: a fresh
#                   temporary directory, printed, kept when a target fails)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds="${FUZZ_SECONDS:-20}"

if ! command -v rustup >/dev/null || ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: no nightly Rust toolchain: cargo fuzz needs one (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "--- installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# The code under test forbids `unsafe` and the properties are about
# meaning, not memory: without AddressSanitizer a run does about twice the
# executions. The crate's own target directory, whatever CARGO_TARGET_DIR
# says, so that sanitizer-coverage builds never mix with the workspace's.
fuzz=(cargo +nightly fuzz)
build_flags=(--fuzz-dir "$root/fuzz" --sanitizer none --target-dir "$root/fuzz/target")

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    listed=$("${fuzz[@]}" list --fuzz-dir "$root/fuzz")
    read -r -d '' -a targets <<<"$listed" || true
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz.sh: no fuzz targets found in fuzz/" >&2
    exit 1
fi

echo "--- building ${#targets[@]} fuzz targets"
if [ -n "${FUZZ_TARGETS:-}" ]; then
    for target in "${targets[@]}"; do
        "${fuzz[@]}" build "${build_flags[@]}" "$target"
    done
else
    "${fuzz[@]}" build "${build_flags[@]}"
fi

work=$(mktemp -d)
artifacts="${FUZZ_ARTIFACTS:-$work/artifacts}"
failed=()
cleanup() {
    if [ ${#failed[@]} -eq 0 ] && [ -z "${FUZZ_ARTIFACTS:-}" ]; then
        rm -rf "$work"
    else
        rm -rf "$work/corpus"
    fi
}
trap cleanup EXIT

summary=()
for target in "${targets[@]}"; do
    echo "--- $target: ${seconds}s"
    corpus="$work/corpus/$target"
    mkdir -p "$corpus" "$artifacts/$target"
    if [ -d "fuzz/corpus/$target" ]; then
        cp -R "fuzz/corpus/$target/." "$corpus/"
    fi
    log="$work/$target.log"
    status=ok
    # -timeout: one input taking this long is a hang, and a failure.
    if ! "${fuzz[@]}" run "${build_flags[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target/" >"$log" 2>&1; then
        status=FAILED
        failed+=("$target")
        tail -n 80 "$log"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    summary+=("$(printf '%-18s %-7s %12s executions' "$target" "$status" "${runs:-?}")")
    echo "${summary[-1]}"
done

echo "--- summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: ${failed[*]} failed; the failing inputs are in $artifacts" >&2
    echo "reproduce one with: cargo +nightly fuzz run --sanitizer none TARGET INPUT" >&2
    exit 1
fi
