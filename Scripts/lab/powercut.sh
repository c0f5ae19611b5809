#!/usr/bin/env bash
# Scripts/lab/powercut.sh — power cuts during module installs: the state directory lives on an
# ext4 disk image attached to the lab's VM, and QEMU itself is killed with SIGKILL at a random
# moment of a `plugin-host install`. What the guest kernel had not yet written to its virtual
# disk is lost, as in a power cut. Each next boot checks what the host's recovery makes of it.
#
# Usage: Scripts/lab/powercut.sh [--rounds N] [--seed S] [--timeout SECONDS] [--break KIND] PLUGIN_HOST [RUNNER]
#   PLUGIN_HOST  the plugin-host to test (release, --static-swift-stdlib: it runs in the VM);
#   RUNNER       its plugin-host-runner (default: next to PLUGIN_HOST); its libraries are copied.
#   --rounds N   power cuts (default 24, or $POWERCUT_ROUNDS); --seed S repeats a run's delays;
#   --timeout    per boot, for reaching the next marker (default 180 s).
#   --break KIND the test's own check: after the first cut's recovery the guest damages the state
#                (data: the payload; version: current -> previous; journal: an open transaction),
#                and the run must fail in round 1.
# Exits 0 when every check of every round passed; 1 with "POWERCUT FAILED round N: …" otherwise;
# 2 usage; 3-6 as Scripts/lab/run.sh (lab or setup trouble). Documentation/Lab.md describes it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_LOG_TAG=powercut
# shellcheck source=Scripts/lab/common.sh
. "$SCRIPT_DIR/common.sh"
usage() { sed -n '7,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

ROUNDS=${POWERCUT_ROUNDS:-24}
SEED=${POWERCUT_SEED:-$(( $(date +%s%N) % 1000000 ))}
TIMEOUT=180
BREAK=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) [ $# -ge 2 ] || fail 2 "--rounds needs a value"; ROUNDS=$2; shift 2 ;;
        --seed) [ $# -ge 2 ] || fail 2 "--seed needs a value"; SEED=$2; shift 2 ;;
        --timeout) [ $# -ge 2 ] || fail 2 "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        --break) [ $# -ge 2 ] || fail 2 "--break needs data, version or journal"; BREAK=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) usage >&2; fail 2 "unknown option $1" ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || { usage >&2; fail 2 "give PLUGIN_HOST and optionally RUNNER"; }
for n in "$ROUNDS" "$SEED" "$TIMEOUT"; do
    case "$n" in ''|*[!0-9]*) fail 2 "--rounds, --seed and --timeout take whole numbers, got '$n'" ;; esac
done
[ "$ROUNDS" -ge 1 ] || fail 2 "--rounds must be at least 1"
case "$BREAK" in ''|data|version|journal) ;; *) fail 2 "--break takes data, version or journal, got '$BREAK'" ;; esac
PLUGIN_HOST=$(realpath "$1")
RUNNER=$(realpath "${2:-$(dirname "$PLUGIN_HOST")/plugin-host-runner}")
for f in "$PLUGIN_HOST" "$RUNNER"; do [ -x "$f" ] || fail 2 "$f is not an executable file"; done
T_START=$(now)

# ------------------------------------------------------------------------ lab, host tools
lab_prepare
[ -n "${LAB_DISK_MODULE_ORDER:-}" ] && [ -f "$LAB_DISK_MODULE_ORDER" ] || fail 5 "setup.sh published no disk modules (LAB_DISK_MODULE_ORDER)"
if ! command -v mkfs.ext4 >/dev/null || ! command -v e2fsck >/dev/null; then
    # shellcheck source=Scripts/lib/apt-install.sh
    . "$REPO_ROOT/Scripts/lib/apt-install.sh"
    apt_install e2fsprogs || fail 5 "e2fsprogs (mkfs.ext4, e2fsck) could not be installed"
fi
command -v cc >/dev/null || fail 5 "a C compiler (cc) is needed for the test module: Scripts/ensure-build-deps.sh installs one"
lab_workdir powercut

# ------------------------------------------------------------- the module, v1 and v2, signed
# ExampleModuleC's code (ready, then a heartbeat a second), under a manifest of its own: a short
# stability window keeps an install a few seconds long under TCG, and v1 carries the signed
# allowance to replace v2, so that installs can alternate.
T0=$(now)
mk_module() {  # mk_module DIR VERSION DOWNGRADE_FROM_JSON
    mkdir -p "$1/lib"
    cc -shared -fPIC -O1 -I "$REPO_ROOT/Sources/CIoTModule/include" -o "$1/lib/libpowercut.so" \
        "$REPO_ROOT/Examples/ExampleModuleC/example.c" -lpthread || fail 6 "cc of the test module failed"
    printf 'power-cut test module %s\n' "$2" >"$1/VERSION"
    head -c 65536 /dev/urandom >"$1/blob.bin"   # a file large enough to take several writes
    cat >"$1/module.json" <<EOF
{
  "id": "com.example.powercut",
  "version": "$2",
  "abi": 1,
  "library": { "path": "lib/libpowercut.so", "entryPoints": { "start": "example_start", "stop": "example_stop" } },
  "commands": [],
  "capabilities": { "gpio": [], "i2c": [], "storageQuotaBytes": 4194304, "network": false },
  "resources": { "memoryBytes": 33554432, "cpuPercent": 50, "maxProcesses": 8, "maxOpenFiles": 32 },
  "hooks": {},
  "health": { "readyTimeoutSeconds": 20, "heartbeatIntervalSeconds": 1, "stabilityWindowSeconds": 1, "maxRestarts": 3, "restartWindowSeconds": 300 }$3
}
EOF
    # The sums the guest checks the installed files/ against (every file but the manifest).
    (cd "$1" && find . -type f ! -name module.json | LC_ALL=C sort | xargs sha256sum) >"$1.sums"
}
STAGE=$WORK/run
mkdir -p "$STAGE/lab/disk-modules" "$STAGE/iotlab"
mk_module "$WORK/v1" 1.0.0 ', "allowDowngradeFrom": ["2.0.0"]'
mk_module "$WORK/v2" 2.0.0 ''
"$PLUGIN_HOST" keygen --output "$WORK/powercut.key" >/dev/null || fail 6 "plugin-host keygen failed"
for v in v1 v2; do
    "$PLUGIN_HOST" pack "$WORK/$v" --key "$WORK/powercut.key" --output "$STAGE/lab/powercut-$v.tar" >/dev/null \
        || fail 6 "plugin-host pack $v failed"
    cp "$WORK/$v.sums" "$STAGE/lab/$v.sums"
done
cp "$WORK/powercut.key.pub" "$STAGE/lab/powercut.pub"
head -c 262144 /dev/urandom >"$STAGE/lab/payload.bin"

# ------------------------------------------------------------------------------- initramfs
# The lab's cached base archive, then this test's: plugin-host and the runner (stripped copies:
# an unstripped static plugin-host is several times larger, and the guest unpacks every byte),
# their libraries, the images, the disk modules and the guest script as /lab's binary.
strip -o "$STAGE/lab/plugin-host" "$PLUGIN_HOST" || fail 6 "strip $PLUGIN_HOST failed"
strip -o "$STAGE/lab/plugin-host-runner" "$RUNNER" || fail 6 "strip $RUNNER failed"
copy_libraries "$PLUGIN_HOST" "$STAGE"
copy_libraries "$RUNNER" "$STAGE"
while read -r m; do
    [ -n "$m" ] && cp "$LAB_MODULE_DIR/$m" "$STAGE/lab/disk-modules/"
done <"$LAB_DISK_MODULE_ORDER"
cp "$LAB_DISK_MODULE_ORDER" "$STAGE/lab/disk-modules/disk.order"
install -m 755 "$SCRIPT_DIR/powercut-guest.sh" "$STAGE/lab/powercut-guest.sh"
printf "IOTLAB_BINARY=/lab/powercut-guest.sh\nset --\n" >"$STAGE/iotlab/cmd"
lab_base_cpio
mk_cpio "$STAGE" "$WORK/run.cpio"
cat "$BASE_CPIO" "$WORK/run.cpio" >"$WORK/initramfs.cpio"
log "$(printf 'initramfs %s (plugin-host, runner, v1 and v2 images, %s disk modules) built in %s s' \
    "$(du -h --apparent-size "$WORK/initramfs.cpio" | cut -f1)" "$(wc -l <"$LAB_DISK_MODULE_ORDER")" "$(elapsed "$T0" "$(now)")")"

# -------------------------------------------------------------------------------- the disk
# A fresh ext4 image, made on the host. QEMU's default cache mode (writeback) is named
# explicitly: the guest sees a disk with a volatile write cache and must flush it (ext4's journal
# commits, fsync), as on an SD card or eMMC; every write the guest has submitted reaches the
# image file through the host's page cache, which survives QEMU's SIGKILL. So what a kill loses
# is exactly what the guest kernel had not yet written to its disk (its page cache, its
# uncommitted journal). What it does not model: a disk that loses writes it received but was not
# asked to flush yet (Documentation/Lab.md).
IMG=$WORK/state.img
truncate -s 64M "$IMG"
mkfs.ext4 -q -F -L plugin-state "$IMG" || fail 6 "mkfs.ext4 failed"

# ------------------------------------------------------------------------------ the rounds
RANDOM=$SEED
QEMU_PID=""
# shellcheck disable=SC2317  # (invoked by the traps)
stop_guest() {
    [ -n "$QEMU_PID" ] || return 0
    kill -KILL "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
}
trap 'stop_guest; exit 130' INT
trap 'stop_guest; exit 143' TERM
trap 'stop_guest; cleanup' EXIT

# Every boot's console is kept in $LAB_CACHE/powercut/boot-N.log (the last run's only).
CONSOLES=$LAB_CACHE/powercut
rm -rf "$CONSOLES"
mkdir -p "$CONSOLES"
boot() {  # boot MODE ROUND — starts QEMU in the background; its console goes to $CONSOLE
    CONSOLE=$CONSOLES/boot-$2.log
    : >"$CONSOLE"
    local extra=${LAB_KERNEL_CMDLINE_EXTRA:-}
    [ "$2" != 1 ] || [ -z "$BREAK" ] || extra+=" powercut.break=$BREAK"
    lab_qemu_command "$WORK/initramfs.cpio" "powercut.mode=$1 powercut.round=$2${extra:+ $extra}"
    "${LAB_QEMU[@]}" -drive "file=$IMG,format=raw,if=virtio,cache=writeback" </dev/null \
        > >(sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' >"$CONSOLE") 2>&1 &
    QEMU_PID=$!
    BOOT_T0=$(now)
}
# round_failed ROUND WHAT: the guest's POWERCUT-FAIL lines and the console's tail, then exit 1.
round_failed() {
    stop_guest
    log "---- console of round $1 (saved in $CONSOLE) ----"
    grep -v '^POWERCUT-KERNEL' "$CONSOLE" | tail -n 40 >&2 || true
    log "------------------------------------------------------------------"
    grep '^POWERCUT-FAIL' "$CONSOLE" | sed 's/^POWERCUT-FAIL /POWERCUT FAILED /' >&2 || true
    echo "POWERCUT FAILED round $1: $2" >&2
    exit 1
}
# wait_for ROUND PATTERN [NTH]: until the NTH console line matching PATTERN (default 1) appears;
# fails the round on POWERCUT-FAIL, on the guest's exit or when QEMU ends first, and after
# --timeout seconds. Sets MARK_T (when it was seen).
wait_for() {
    local round=$1 pattern=$2 nth=${3:-1} deadline
    deadline=$(( $(date +%s) + TIMEOUT ))
    while :; do
        # (the guest prints its failures before POWERCUT-CHECKED)
        grep -q '^POWERCUT-FAIL' "$CONSOLE" && { sleep 0.5; round_failed "$round" "a check failed in the guest"; }
        if [ "$(grep -c -- "$pattern" "$CONSOLE" || true)" -ge "$nth" ]; then MARK_T=$(now); return 0; fi
        grep -q 'IOTLAB-SETUP-FAILED' "$CONSOLE" && round_failed "$round" "guest setup failed: $(sed -n 's/.*IOTLAB-SETUP-FAILED //p' "$CONSOLE")"
        kill -0 "$QEMU_PID" 2>/dev/null || { sleep 0.2; round_failed "$round" "QEMU ended before '$pattern' (guest exit: $(sed -n 's/.*IOTLAB-EXIT //p' "$CONSOLE" | tail -n1))"; }
        [ "$(date +%s)" -lt "$deadline" ] || round_failed "$round" "no '$pattern' within ${TIMEOUT} s"
        sleep 0.01
    done
}
power_cut() {  # power_cut: SIGKILL to QEMU, then wait for it and the console filter
    kill -KILL "$QEMU_PID"
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
    sleep 0.1
}
fsck_report() {  # fsck_report ROUND — e2fsck -fn on the image as the power cut left it (read-only)
    local out rc=0
    out=$(e2fsck -fn "$IMG" 2>&1) || rc=$?
    local journal=no
    grep -q 'needs_recovery\|journal recovery\|recovering journal' <<<"$out" && journal=yes
    FSCK_NOTE="e2fsck -fn exit $rc, journal to replay: $journal"
    [ "$rc" = 0 ] || [ "$journal" = yes ] || FSCK_NOTE="$FSCK_NOTE — $(grep -v '^Pass\|^plugin-state' <<<"$out" | head -n 3 | tr '\n' ' ')"
}

SUMMARY=()
declare -A LANDED_COUNT=()
INSTALL_T=""
# The journal's steps in the order an update writes them (Documentation/Updates.md).
STEPS=(begin unpacked verified snapshotted installed activating activated started healthy committed done)
declare -A OFFSET=()   # seconds from the START marker to each step's journal entry, as last measured
calibrate() {  # calibrate ROUND N: measure install #N of this boot, which must run to its end
    local t_start line kv
    wait_for "$1" '^POWERCUT-INSTALL-START' "$2"
    t_start=$MARK_T
    wait_for "$1" '^POWERCUT-INSTALL-END' "$2"
    INSTALL_T=$(elapsed "$t_start" "$MARK_T")
    wait_for "$1" "^POWERCUT-STEPS $2 "
    line=$(grep "^POWERCUT-STEPS $2 " "$CONSOLE" | head -n1)
    # The entries' times, in the guest's clock, from just before its START marker.
    for kv in ${line#POWERCUT-STEPS "$2" }; do
        OFFSET[${kv%%=*}]=${kv#*=}
    done
    CALIBRATION="install ${INSTALL_T} s; entries at $(for st in "${STEPS[@]}"; do printf '%s=%s ' "$st" "${OFFSET[$st]:-?}"; done)"
}
# choose_delay ROUND: sets DELAY and AIM. Every other cut is aimed at one journal step in turn (a
# random moment between its entry and the next one's: those windows are tens of milliseconds
# wide and uniform delays would rarely hit them); the others fall in the ROUND-th slice of
# [0, 1.1 x install time], so that the cuts also sweep the whole install.
choose_delay() {
    local r=$1 u=$RANDOM step next lo hi
    if [ $((r % 2)) = 1 ] || [ -z "${OFFSET[done]:-}" ]; then
        AIM="uniform"
        DELAY=$(awk -v t="$INSTALL_T" -v r="$r" -v n="$ROUNDS" -v u="$u" 'BEGIN { printf "%.3f", 1.1 * t * (r + u / 32768) / n }')
        return
    fi
    local i=$(( (r / 2) % ${#STEPS[@]} ))
    step=${STEPS[$i]}
    next=${STEPS[$((i + 1))]:-}
    lo=${OFFSET[$step]:-0}
    if [ -n "$next" ] && [ -n "${OFFSET[$next]:-}" ]; then hi=${OFFSET[$next]}
    else hi=$(awk -v a="$lo" 'BEGIN { printf "%.3f", a + 0.1 }'); fi   # after 'done': the exit
    AIM="aimed between '$step' and '${next:-exit}'"
    DELAY=$(awk -v lo="$lo" -v hi="$hi" -v u="$u" 'BEGIN { d = lo - 0.01 + (hi - lo + 0.01) * u / 32768; if (d < 0) d = 0; printf "%.3f", d }')
}
log "$ROUNDS power cuts, seed $SEED (POWERCUT_SEED=$SEED repeats the delays); each boot's console goes to $CONSOLES/"
for ((r = 0; r <= ROUNDS; r++)); do
    if [ "$r" = 0 ]; then mode=init; elif [ "$r" = "$ROUNDS" ]; then mode=final; else mode=round; fi
    boot "$mode" "$r"
    if [ "$r" -gt 0 ]; then
        # What the previous power cut left, as this boot found it.
        wait_for "$r" '^POWERCUT-CHECKED'
        landed=$(sed -n 's/^POWERCUT-LANDED .*step=\([^ ]*\).*/\1/p' "$CONSOLE" | head -n1)
        active=$(sed -n 's/^POWERCUT-CHECKED .*active=\([^ ]*\).*/\1/p' "$CONSOLE" | head -n1)
        recovered=$(grep -c '^POWERCUT-RECOVERY plugin-host: recovered' "$CONSOLE" || true)
        replay=$(grep -q 'POWERCUT-KERNEL.*recovery complete' "$CONSOLE" && echo "ext4 journal replayed" || echo "no ext4 replay")
        landed=${landed:-?}
        LANDED_COUNT[$landed]=$(( ${LANDED_COUNT[$landed]:-0} + 1 ))
        SUMMARY[$((r - 1))]="${SUMMARY[$((r - 1))]}; next boot: cut landed after '$landed', $replay, $recovered recovery line(s), active $active: ok"
        log "round $r checked: landed after '$landed', $replay, $recovered recovery line(s), active $active: ok"
    else
        wait_for 0 '^POWERCUT-READY'
    fi
    if [ "$mode" = final ]; then
        wait_for "$r" '^POWERCUT-UNMOUNTED'
        wait "$QEMU_PID" 2>/dev/null || true
        QEMU_PID=""
        grep -q 'IOTLAB-EXIT 0' "$CONSOLE" || round_failed "$r" "the final boot did not exit 0"
        out=$(e2fsck -fn "$IMG" 2>&1) || { echo "$out" >&2; echo "POWERCUT FAILED final: e2fsck -fn finds errors after a clean unmount" >&2; exit 1; }
        log "final boot: checks passed, clean unmount, e2fsck -fn clean: $(tail -n1 <<<"$out")"
        break
    fi
    # Installs alternate between v2 and v1, so the cut install's number decides its direction
    # (upgrade or signed downgrade); it changes every other round of each kind.
    flip=$(( (r / 2) % 2 ))
    if [ $((r % 2)) = 0 ]; then
        # Even rounds: the installs before the cut run to their end and the last of them is
        # measured (its duration as the host sees the markers, and when each journal entry was
        # written). Not #1: the first install of a boot runs colder and slower than the next.
        calibrate "$r" $((2 + flip))
        nth=$((3 + flip))
    else
        nth=$((1 + flip))
    fi
    wait_for "$r" '^POWERCUT-INSTALL-START' "$nth"
    choose_delay "$r"
    delay=$DELAY
    sleep "$delay"
    power_cut
    fsck_report
    SUMMARY[$r]="round $((r + 1)): cut ${delay} s after install #$nth began ($AIM) ($(grep -c '^POWERCUT-INSTALL-END' "$CONSOLE" || true) install(s) finished in that boot); $FSCK_NOTE"
    [ $((r % 2)) = 1 ] || log "round $r measured: $CALIBRATION"
    log "power cut $((r + 1)) of $ROUNDS: SIGKILL to QEMU ${delay} s after install #$nth began ($AIM); $FSCK_NOTE"
done

log "summary (seed $SEED):"
for line in "${SUMMARY[@]}"; do log "  $line"; done
log "  where the cuts landed (the journal's last entry found by the next boot): $(for k in "${!LANDED_COUNT[@]}"; do printf '%s=%s ' "$k" "${LANDED_COUNT[$k]}"; done)"
log "$(printf 'PASS: %s power cuts during installs, every next boot found exactly one version active, a clean journal and intact data; %s s in all' \
    "$ROUNDS" "$(elapsed "$T_START" "$(now)")")"
