#!/usr/bin/env bash
# Builds sdk-bench (release, static Swift stdlib) and runs it inside the QEMU lab with
# -icount, so guest time counts instructions and the SDK/C ratios repeat from run to run.
# Arguments go to sdk-bench (e.g. `Scripts/bench.sh gpio --iterations 200000`); `Scripts/bench.sh
# wasm` adds plugin-host-runner and the bench module, built here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
swift build -c release --static-swift-stdlib --product sdk-bench
bin=$(swift build -c release --static-swift-stdlib --product sdk-bench --show-bin-path)/sdk-bench
if [ "${1:-}" = wasm ]; then
    # The guest has no compilers: the bench module is built here (cc, and clang-14 for wasm32 from
    # Scripts/build-wasm-example.sh), and goes to /lab/ with plugin-host-runner, which sdk-bench
    # finds next to itself.
    bash Scripts/build-wasm-example.sh >/dev/null
    swift build -c release --product plugin-host-runner
    runner=$(swift build -c release --product plugin-host-runner --show-bin-path)/plugin-host-runner
    modules=$(mktemp -d)
    trap 'rm -rf "$modules"' EXIT
    "$bin" wasm --build-modules "$modules"
    LAB_EXTRA_FILES="$runner $modules/bench_module.so $modules/bench_module.wasm" \
        bash Scripts/lab/run.sh --icount --timeout 1800 "$bin" --icount "$@" --modules /lab
else
    bash Scripts/lab/run.sh --icount --timeout 900 "$bin" --icount "$@"
fi
