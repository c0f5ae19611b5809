#!/usr/bin/env bash
# Scripts/lab/selftest.sh — prove the lab works, independently of the Swift package:
#  1. labcheck (C, Scripts/lab/selftest/labcheck.c) checks the whole fixture contract in the guest;
#  2. the same binary asked to exit 1 makes run.sh exit 1 (exit-code propagation).
# Usage: Scripts/lab/selftest.sh [--icount]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
export LAB_CACHE=${LAB_CACHE:-$REPO_ROOT/.lab-cache}

log() { printf '[lab-selftest] %s\n' "$*" >&2; }

bash "$SCRIPT_DIR/setup.sh"
command -v gcc >/dev/null || { log "ERROR: gcc not found"; exit 1; }
mkdir -p "$LAB_CACHE/selftest"
BIN=$LAB_CACHE/selftest/labcheck
gcc -O2 -Wall -Werror -o "$BIN" "$SCRIPT_DIR/selftest/labcheck.c"

passed=0 failed=0
expect() {  # expect CODE DESCRIPTION -- run.sh args...
    local want=$1 what=$2; shift 3
    local rc=0
    "$SCRIPT_DIR/run.sh" "$@" || rc=$?
    if [ "$rc" = "$want" ]; then
        log "PASS: $what (run.sh exited $rc)"; passed=$((passed + 1))
    else
        log "FAIL: $what (run.sh exited $rc, expected $want)"; failed=$((failed + 1))
    fi
}
expect 0 "fixture contract checked from the guest" -- "$@" "$BIN"
expect 1 "guest exit code 1 propagates" -- "$@" "$BIN" 1

echo "lab selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
