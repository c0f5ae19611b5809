#!/bin/sh
# /init of the lab's initramfs (busybox sh, PID 1). Installed by Scripts/lab/run.sh.
#
# Mounts the pseudo file systems, loads the modules in /iotlab/modules/insmod.order, runs the
# fixture (/iotlab/fixture.sh), then the binary under test with the fixture's environment, and
# prints "IOTLAB-EXIT <code>" before powering off. Any failure before the binary runs prints
# "IOTLAB-SETUP-FAILED <reason>" instead (run.sh then exits non-zero).
export PATH=/bin
export HOME=/root

setup_failed() {
    echo "IOTLAB-SETUP-FAILED $*"
    poweroff -f
    sleep 10
    exit 1
}

mnt() {  # mnt TYPE DIR
    { mkdir -p "$2" && mount -t "$1" "$1" "$2"; } || setup_failed "mount -t $1 $2"
}
mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt debugfs /sys/kernel/debug
mnt tmpfs /tmp
mnt tmpfs /run
exec </dev/console >/dev/console 2>&1
echo   # end the firmware's "Booting from ROM.." line

# Modules in dependency order. i2c-stub's addresses are part of the fixture contract.
while read -r mod; do
    [ -n "$mod" ] || continue
    case "$mod" in
        i2c-stub.ko) params="chip_addr=0x18,0x48,0x50,0x76" ;;
        *) params="" ;;
    esac
    # shellcheck disable=SC2086
    insmod "/iotlab/modules/$mod" $params || setup_failed "insmod $mod $params"
done </iotlab/modules/insmod.order

mnt configfs /sys/kernel/config

sh /iotlab/fixture.sh /iotlab/env || setup_failed "fixture (/iotlab/fixture.sh exited $?)"
# shellcheck disable=SC1091
. /iotlab/env || setup_failed "reading /iotlab/env"

# Binary and its arguments (written by run.sh: IOTLAB_BINARY=... and set -- 'arg' ...).
# shellcheck disable=SC1091
. /iotlab/cmd || setup_failed "reading /iotlab/cmd"
cd /
"$IOTLAB_BINARY" "$@" </dev/null
rc=$?
echo "IOTLAB-EXIT $rc"
poweroff -f
sleep 10
