#!/usr/bin/env bash
# Scripts/lab/run.sh — run one Linux x86-64 binary inside a real Debian kernel (QEMU, TCG) with the
# lab fixture (gpio-sim chips, i2c-stub) and exit with the binary's exit code.
#
# Usage: Scripts/lab/run.sh [--icount] [--timeout SECONDS] [--] BINARY [ARGS...]
#
# Exit codes: the guest binary's own code (0-255) when it ran; otherwise
#   2 usage error, 3 no IOTLAB-EXIT marker (timeout, kernel panic, QEMU failed to start),
#   4 guest setup failed (a module did not load or the fixture failed), 5 setup.sh failed,
#   6 the initramfs could not be built.
# Environment: LAB_CACHE (cache dir), LAB_TIMEOUT (default for --timeout, 300),
#   LAB_INITRD_COMPRESS=none|gzip (default none), LAB_KERNEL_CMDLINE_EXTRA (appended to the
#   kernel command line, e.g. "loglevel=7" to see kernel messages despite quiet),
#   LAB_EXTRA_FILES (space-separated files put next to BINARY in /lab/, with their libraries).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_LOG_TAG=lab
# shellcheck source=Scripts/lab/common.sh
. "$SCRIPT_DIR/common.sh"
usage() { sed -n '5,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

ICOUNT=0
TIMEOUT=${LAB_TIMEOUT:-300}
while [ $# -gt 0 ]; do
    case "$1" in
        --icount) ICOUNT=1; shift ;;
        --timeout) [ $# -ge 2 ] || { usage >&2; fail 2 "--timeout needs a value"; }; TIMEOUT=$2; shift 2 ;;
        --timeout=*) TIMEOUT=${1#--timeout=}; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) usage >&2; fail 2 "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { usage >&2; fail 2 "missing BINARY"; }
case "$TIMEOUT" in ''|*[!0-9]*|0) fail 2 "--timeout must be a positive number of seconds, got '$TIMEOUT'" ;; esac
BINARY=$1; shift
[ -f "$BINARY" ] || fail 2 "binary $BINARY not found"
[ -x "$BINARY" ] || fail 2 "binary $BINARY is not executable"
BINARY=$(realpath "$BINARY")
NAME=$(basename "$BINARY")

# ------------------------------------------------------------------------------------ setup
lab_prepare

# ------------------------------------------------------------------------------- initramfs
T0=$(now)
lab_workdir run
build_run_archive() {  # build_run_archive OUT ARGS...
    local out=$1; shift
    local stage=$WORK/run extra a
    mkdir -p "$stage/lab" "$stage/iotlab"
    cp "$BINARY" "$stage/lab/$NAME"
    chmod 755 "$stage/lab/$NAME"
    copy_libraries "$BINARY" "$stage"
    for extra in ${LAB_EXTRA_FILES:-}; do
        [ -f "$extra" ] || fail 6 "LAB_EXTRA_FILES: $extra not found"
        cp -L "$extra" "$stage/lab/"
        copy_libraries "$extra" "$stage"
    done
    {   # the command line, POSIX-quoted for busybox sh
        printf 'IOTLAB_BINARY=/lab/%s\n' "$(sq "$NAME")"
        printf 'set --'
        for a in "$@"; do printf " %s" "$(sq "$a")"; done
        printf '\n'
    } >"$stage/iotlab/cmd"
    mk_cpio "$stage" "$out"
}

lab_base_cpio
build_run_archive "$WORK/run.cpio" "$@"
cat "$BASE_CPIO" "$WORK/run.cpio" >"$WORK/initramfs.cpio"
INITRD=$WORK/initramfs.cpio
if [ "${LAB_INITRD_COMPRESS:-none}" = gzip ]; then
    gzip -1 -n "$INITRD"
    INITRD=$INITRD.gz
fi
log "$(printf 'initramfs %s (%s) built in %s s' "$(du -h --apparent-size "$INITRD" | cut -f1)" \
    "$NAME + $(wc -l <"$LAB_MODULE_ORDER") modules" "$(elapsed "$T0" "$(now)")")"

# ------------------------------------------------------------------------------------ boot
lab_qemu_command "$INITRD" "${LAB_KERNEL_CMDLINE_EXTRA:-}"
QEMU=("${LAB_QEMU[@]}")
# shellcheck disable=SC2054  # (the comma belongs to QEMU's option syntax)
[ "$ICOUNT" = 1 ] && QEMU+=(-icount shift=0,sleep=off)
CONSOLE=$WORK/console.log
log "booting $LAB_KERNEL_ABI ($LAB_KERNEL_VERSION) under QEMU/TCG$([ "$ICOUNT" = 1 ] && echo ' with -icount'), timeout ${TIMEOUT}s: /lab/$NAME${*:+ $*}"
T1=$(now)
# QEMU runs in the background so that a signal to run.sh stops it at once (bash runs traps only
# between commands, and `wait` is such a point). The console is streamed live through a FIFO:
# sed -u strips the serial console's \r and the firmware's terminal escapes.
mkfifo "$WORK/console.fifo"
sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' <"$WORK/console.fifo" | tee "$CONSOLE" &
FILTER_PID=$!
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$WORK/console.fifo" 2>&1 &
QEMU_PID=$!
# shellcheck disable=SC2317  # (invoked by the traps)
stop_guest() { [ -z "$QEMU_PID" ] || kill -TERM "$QEMU_PID" 2>/dev/null || true; }
trap 'stop_guest; exit 130' INT
trap 'stop_guest; exit 143' TERM
QEMU_RC=0
wait "$QEMU_PID" || QEMU_RC=$?
QEMU_PID=""
wait "$FILTER_PID" || true
WALL=$(elapsed "$T1" "$(now)")
cp "$CONSOLE" "$LAB_CACHE/last-console.log" 2>/dev/null || true

GUEST_RC=$(sed -n 's/.*IOTLAB-EXIT \([0-9]\{1,3\}\)$/\1/p' "$CONSOLE" | tail -n1)
if [ -z "$GUEST_RC" ] && grep -q 'IOTLAB-SETUP-FAILED' "$CONSOLE"; then
    fail 4 "guest setup failed: $(sed -n 's/.*IOTLAB-SETUP-FAILED //p' "$CONSOLE" | tail -n1) — console saved in $LAB_CACHE/last-console.log"
fi
if [ -z "$GUEST_RC" ]; then
    case "$QEMU_RC" in
        124|137) why="timed out (--timeout ${TIMEOUT}s)" ;;
        0) if grep -q 'Kernel panic' "$CONSOLE"; then why="the guest kernel panicked"
           else why="QEMU exited before the guest finished (guest crash or reset?)"; fi ;;
        *) why="QEMU exited with status $QEMU_RC" ;;
    esac
    log "---- last console lines ----"
    tail -n 20 "$CONSOLE" >&2 || true
    log "----------------------------"
    fail 3 "no IOTLAB-EXIT marker from the guest: $why; QEMU ran ${WALL} s. Console saved in $LAB_CACHE/last-console.log; for kernel messages rerun with LAB_KERNEL_CMDLINE_EXTRA=loglevel=7"
fi
log "guest /lab/$NAME exited $GUEST_RC; boot-to-exit ${WALL} s wall$([ "$ICOUNT" = 1 ] && echo ' (icount)')"
exit "$GUEST_RC"
