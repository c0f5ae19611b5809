#!/usr/bin/env bash
# Builds sdk-bench (release, static Swift stdlib) and runs it inside the QEMU lab with
# -icount, so guest time counts instructions and the SDK/C ratios repeat from run to run.
# Arguments go to sdk-bench (e.g. `Scripts/bench.sh gpio --iterations 200000`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
swift build -c release --static-swift-stdlib --product sdk-bench
bin=$(swift build -c release --static-swift-stdlib --product sdk-bench --show-bin-path)/sdk-bench
bash Scripts/lab/run.sh --icount --timeout 900 "$bin" --icount "$@"
