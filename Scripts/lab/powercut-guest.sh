#!/bin/sh
# Scripts/lab/powercut-guest.sh — the guest side of Scripts/lab/powercut.sh (busybox sh), run by
# the lab's /init as /lab/powercut-guest.sh after the fixture. The kernel command line says what
# this boot does (powercut.mode=init|round|final powercut.round=N):
#   init   the state directory is empty: trust the key, install v1, write the payload into the
#          module's data directory, sync, check, then install v2/v1 alternately until QEMU is killed;
#   round  check what the previous power cut left, then install alternately until killed;
#   final  check, unmount cleanly, exit (the host then runs e2fsck on the image).
# Every check that fails prints "POWERCUT-FAIL round N: <what>"; the boot then exits 1.
# Markers for the host: POWERCUT-LANDED (the journal's last entry as the power cut left it, read
# before any recovery), POWERCUT-CHECKED, POWERCUT-READY, POWERCUT-INSTALL-START/-END.
L=/lab
STATE=/state
ID=com.example.powercut
MOD=$STATE/modules/$ID
PH=$L/plugin-host

mode=""
round=""
break_kind=""
for word in $(cat /proc/cmdline); do
    case "$word" in
        powercut.mode=*) mode=${word#*=} ;;
        powercut.round=*) round=${word#*=} ;;
        powercut.break=*) break_kind=${word#*=} ;;
    esac
done
failures=0
bad() { echo "POWERCUT-FAIL round $round: $*"; failures=$((failures + 1)); }
die() { echo "POWERCUT-FAIL round $round: $*"; exit 1; }
case "$mode" in init|round|final) ;; *) die "no powercut.mode=init|round|final on the kernel command line" ;; esac

# The virtio disk and ext4 (modules/disk.order from setup.sh, dependencies first).
while read -r m; do
    [ -n "$m" ] || continue
    insmod "$L/disk-modules/$m" || die "insmod $m"
done <"$L/disk-modules/disk.order"
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || die "no /dev/vda: the virtio disk did not appear"
mkdir -p "$STATE"
# noauto_da_alloc: ext4 would otherwise flush a file replaced by rename(2) on its own, and hide
# a missing fsync before the rename; the host must not rely on that.
mount -t ext4 -o noauto_da_alloc /dev/vda "$STATE" || die "mount -t ext4 /dev/vda failed (the file system did not survive the power cut)"
dmesg | grep -E 'EXT4-fs \(vda\)|JBD2' | sed 's/^/POWERCUT-KERNEL /'

# The module sandbox's cgroups (the runner applies what the kernel offers).
if [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "powercut: cgroup2 not mounted; the sandbox runs without cgroups"
fi

# clock: the time of day in seconds with microseconds (busybox date has no %N).
clock() { adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d.%06d", s, u }'; }

# json_field FIELD: the first "FIELD" : "value" (string) in stdin (JSONEncoder's pretty or compact form).
json_field() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" | head -n 1; }

check_state() {
    # 1. What the power cut left, before anything recovers it: the journal's last complete entry.
    journal=$MOD/journal
    [ -f "$journal" ] || { bad "no journal at $journal"; return; }
    torn=$(grep -cv '^{.*}$' "$journal")
    last=$(grep '^{.*}$' "$journal" | tail -n 1)
    step=$(echo "$last" | json_field step)
    from=$(echo "$last" | json_field from)
    to=$(echo "$last" | json_field to)
    kind=$(echo "$last" | json_field kind)
    echo "POWERCUT-LANDED round=$round step=$step kind=$kind from=$from to=$to torn_tail=$torn"
    # A torn last line is allowed (Journal.swift cuts it off before its next append); it is shown.
    [ "$torn" = 0 ] || echo "POWERCUT-TORN-TAIL $(tail -n 1 "$journal" | head -c 200)"
    # The version recovery must leave active: the new one once the update was decided
    # (committed or done), else the one that was active when it began.
    case "$step" in
        committed|done) expect=$to ;;
        *) expect=$from ;;
    esac
    [ "$kind" = update ] || bad "the last journal entry is a '$kind' transaction; this test only installs"

    # 2. The host's own recovery (list replays the journal when no other process holds the lock).
    if ! "$PH" list --json --state-dir "$STATE" >/tmp/list.json 2>/tmp/list.err; then
        bad "plugin-host list --json exited non-zero: $(cat /tmp/list.err)"
        return
    fi
    sed 's/^/POWERCUT-RECOVERY /' /tmp/list.err
    # powercut.sh --break KIND: damage the recovered state on purpose, to show the checks see it.
    case "$break_kind" in
        data) echo "POWERCUT-BREAK corrupting data/payload.bin"
              printf 'broken' | dd of="$MOD/data/payload.bin" bs=1 seek=1000 conv=notrunc 2>/dev/null ;;
        version) echo "POWERCUT-BREAK pointing current at previous ($(readlink "$MOD/previous"))"
              ln -sfn "$(readlink "$MOD/previous")" "$MOD/current" ;;
        journal) echo "POWERCUT-BREAK appending an open transaction to the journal"
              grep '^{.*}$' "$MOD/journal" | tail -n 1 | sed 's/"step":"[^"]*"/"step":"activating"/' >>"$MOD/journal" ;;
        "") ;;
        *) bad "unknown powercut.break=$break_kind" ;;
    esac
    modules=$(grep -c '"id" *:' /tmp/list.json)
    active=$(grep -c '"state" *: *"active"' /tmp/list.json)
    version=$(json_field version </tmp/list.json)
    vdir=$(json_field versionDirectory </tmp/list.json)
    [ "$modules" = 1 ] || bad "plugin-host list shows $modules modules, expected 1: $(tr -d '\n' </tmp/list.json)"
    [ "$active" = 1 ] || bad "plugin-host list shows no active version (state: $(json_field state </tmp/list.json))"
    case "$version" in
        1.0.0) sums=$L/v1.sums ;;
        2.0.0) sums=$L/v2.sums ;;
        *) bad "active version is '$version', expected 1.0.0 or 2.0.0"; return ;;
    esac

    # 3. Exactly one version: current names it, it is the one the journal allows, and versions/
    #    holds nothing but current and previous.
    cur=$(readlink "$MOD/current")
    [ "$cur" = "versions/$vdir" ] || bad "current -> '$cur', but list says versions/$vdir"
    [ -z "$expect" ] || [ "$vdir" = "$expect" ] || bad "active is $vdir, but the journal's last entry ($step) says recovery must leave $expect"
    prev=$(readlink "$MOD/previous" 2>/dev/null)
    for d in "$MOD"/versions/* "$MOD"/versions/.[!.]*; do
        [ -e "$d" ] || continue
        case "versions/${d##*/}" in
            "$cur"|"$prev") ;;
            *) bad "leftover version directory after recovery: versions/${d##*/}" ;;
        esac
    done
    grep -q "\"version\" *: *\"$version\"" "$MOD/$cur/manifest.json" || bad "$cur/manifest.json does not say version $version"
    # 4. The active version's files are complete.
    if (cd "$MOD/$cur/files" && sha256sum -c -s "$sums"); then
        want=$(wc -l <"$sums")
        have=$(find "$MOD/$cur/files" -type f | wc -l)
        [ "$have" = "$want" ] || bad "$cur/files holds $have files, the image $want"
    else
        bad "the files of $cur differ from the image: $(cd "$MOD/$cur/files" && sha256sum -c "$sums" 2>&1 | grep -v ': OK$' | head -n 3 | tr '\n' ' ')"
    fi

    # 5. The journal is clean: its last transaction is closed, nothing of it is left over.
    laststep=$(grep '^{.*}$' "$journal" | tail -n 1 | json_field step)
    case "$laststep" in
        done|rolled-back) ;;
        *) bad "after recovery the journal's last step is '$laststep', not done or rolled-back" ;;
    esac
    [ -f "$MOD/state.json" ] || bad "no state.json after recovery"
    lines=$(wc -l <"$journal")
    for k in $(grep -vn '^{.*}$' "$journal" | cut -d: -f1); do
        [ "$k" -gt "$lines" ] || bad "journal line $k of $lines is not a complete entry after recovery: $(sed -n "${k}p" "$journal" | head -c 200)"
    done
    for d in "$MOD"/snapshots/* "$MOD"/data.discard-* "$MOD"/current.new; do
        [ -e "$d" ] || [ -L "$d" ] || continue
        bad "leftover after recovery: ${d#"$MOD"/}"
    done

    # 6. The module's data is intact.
    want=$(sha256sum <"$L/payload.bin" | cut -d' ' -f1)
    have=$(sha256sum <"$MOD/data/payload.bin" 2>/dev/null | cut -d' ' -f1)
    [ "$have" = "$want" ] || bad "data/payload.bin has sha256 '${have:-missing}', expected $want"
    echo "POWERCUT-CHECKED round=$round active=$version dir=$vdir landed=$step failures=$failures"
}

install_loop() {  # install_loop CURRENT_VERSION — v2/v1 alternately, until the power is cut
    current=$1
    n=0
    while :; do
        case "$current" in 1.0.0) target=v2; next=2.0.0 ;; *) target=v1; next=1.0.0 ;; esac
        n=$((n + 1))
        t0=$(clock)
        echo "POWERCUT-INSTALL-START $n $target"
        "$PH" install "$L/powercut-$target.tar" --state-dir "$STATE" >/tmp/install.log 2>&1
        rc=$?
        echo "POWERCUT-INSTALL-END $n rc=$rc"
        if [ "$rc" != 0 ]; then
            sed 's/^/  | /' /tmp/install.log
            die "plugin-host install of $target ($next) exited $rc without a power cut"
        fi
        # When each journal entry of this install was written, in seconds after the start
        # marker: the host aims its cuts at them.
        tx=$(grep '^{.*}$' "$MOD/journal" | tail -n 1 | json_field transaction)
        grep "\"transaction\":\"$tx\"" "$MOD/journal" \
            | sed -n 's/.*"step":"\([^"]*\)".*"time":\([0-9.]*\).*/\1 \2/p' \
            | awk -v n="$n" -v t0="$t0" '{ printf "%s %s=%.3f", (NR == 1 ? "POWERCUT-STEPS " n : ""), $1, $2 - t0 } END { print "" }'
        current=$next
    done
}

case "$mode" in
    init)
        "$PH" trust add "$L/powercut.pub" --state-dir "$STATE" >/dev/null || die "plugin-host trust add failed"
        "$PH" install "$L/powercut-v1.tar" --state-dir "$STATE" >/tmp/install.log 2>&1 \
            || { sed 's/^/  | /' /tmp/install.log; die "the first install of v1 failed"; }
        # How the first install went, the module's own log of its health check included.
        sed 's/^/powercut: install v1: /' /tmp/install.log
        for f in "$MOD"/logs/*/*; do sed "s|^|powercut: ${f#"$MOD"/}: |" "$f"; done
        [ -d "$MOD/data" ] || die "no data directory $MOD/data after installing v1"
        cp "$L/payload.bin" "$MOD/data/payload.bin" && sync || die "could not write the payload"
        check_state
        [ "$failures" = 0 ] || exit 1
        echo "POWERCUT-READY"
        install_loop "$version"
        ;;
    round)
        check_state
        [ "$failures" = 0 ] || exit 1
        install_loop "$version"
        ;;
    final)
        check_state
        umount "$STATE" || bad "umount $STATE failed"
        echo "POWERCUT-UNMOUNTED"
        [ "$failures" = 0 ] || exit 1
        exit 0
        ;;
esac
