#!/usr/bin/env bash
# The whole test suite: the host tests (swift test), then the IoTSDK tests that need a real Linux
# kernel, inside the QEMU lab (Scripts/lab/run.sh builds and boots it; first run downloads the
# kernel and builds gpio-sim, later runs use .lab-cache/). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "host tests: swift test"
swift test

step "lab binary: swift build -c release --static-swift-stdlib --product iotsdk-lab"
swift build -c release --static-swift-stdlib --product iotsdk-lab
bin=$(swift build -c release --static-swift-stdlib --product iotsdk-lab --show-bin-path)/iotsdk-lab

step "real-kernel tests in the QEMU lab"
bash Scripts/lab/run.sh "$bin" "$@"
