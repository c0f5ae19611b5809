#!/bin/sh
# The lab fixture (busybox sh, runs in the guest before the binary under test).
# Usage: fixture.sh ENV_FILE   — writes the exported variables for the binary to ENV_FILE.
#
# Contract the Swift lab tests rely on (keep Documentation/Lab.md in step):
#   gpio-sim device "iotlab":
#     bank0: label iotlab-a, 8 lines; line0 lab-led, line1 lab-button, line2 lab-out2,
#            line3 lab-in3, lines 4-6 unnamed, line7 hog "lab-hog" output-high
#     bank1: label pinctrl-bcm2711, 58 lines named GPIO0..GPIO57
#   i2c-stub (chip_addr=0x18,0x48,0x50,0x76, loaded by /init) preloaded:
#     0x76: D0=60 88=70 89=6B 8A=43 8B=67 8C=18 8D=FC      0x50: 00=DE 01=AD 02=BE 03=EF
#   exported: IOTLAB=1, IOTLAB_SIM_DEVICE=/sys/devices/platform/gpio-sim.N, IOTLAB_I2C_BUS=N
set -eu

ENV_OUT=${1:?usage: fixture.sh ENV_FILE}

say() { echo "[iotlab] $*"; }
die() { echo "[iotlab] FIXTURE ERROR: $*"; exit 1; }
put() {  # put VALUE FILE
    printf '%s\n' "$1" >"$2" || die "cannot write '$1' to $2"
}
mkd() { mkdir "$1" || die "cannot create $1"; }

# ----------------------------------------------------------------------------- gpio-sim
CFG=/sys/kernel/config/gpio-sim
[ -d "$CFG" ] || die "$CFG missing (configfs not mounted or gpio-sim not loaded)"
DEV=$CFG/iotlab
mkd "$DEV"

name_line() {  # name_line BANKDIR OFFSET NAME
    mkd "$1/line$2"
    put "$3" "$1/line$2/name"
}

B0=$DEV/bank0
mkd "$B0"
put iotlab-a "$B0/label"
put 8 "$B0/num_lines"
name_line "$B0" 0 lab-led
name_line "$B0" 1 lab-button
name_line "$B0" 2 lab-out2
name_line "$B0" 3 lab-in3
mkd "$B0/line7"
mkd "$B0/line7/hog"
put lab-hog "$B0/line7/hog/name"
put output-high "$B0/line7/hog/direction"

B1=$DEV/bank1
mkd "$B1"
put pinctrl-bcm2711 "$B1/label"
put 58 "$B1/num_lines"
i=0
while [ "$i" -lt 58 ]; do
    name_line "$B1" "$i" "GPIO$i"
    i=$((i + 1))
done

put 1 "$DEV/live"
[ "$(cat "$DEV/live")" = 1 ] || die "gpio-sim device iotlab did not go live"
SIM_NAME=$(cat "$DEV/dev_name")
SIM=/sys/devices/platform/$SIM_NAME
[ -d "$SIM" ] || die "live device dir $SIM missing"
say "gpio-sim device iotlab live at $SIM"

check_bank() {  # check_bank BANKDIR LABEL NUM_LINES
    chip=$(cat "$1/chip_name")
    { [ -n "$chip" ] && [ -d "$SIM/$chip" ]; } || die "$1: chip '$chip' not under $SIM"
    [ -c "/dev/$chip" ] || die "/dev/$chip missing"
    [ -e "$SIM/$chip/sim_gpio$(($3 - 1))/pull" ] || die "$SIM/$chip/sim_gpio$(($3 - 1))/pull missing"
    # Legacy sysfs view of the same chip: /sys/class/gpio/gpiochipBASE. In 6.1 it hangs off the
    # platform device ($SIM/gpio/gpiochipBASE), not off $SIM/$chip: match it by label (newer
    # kernels put it under $SIM/$chip/gpio).
    legacy=""
    for c in "$SIM"/gpio/gpiochip* "$SIM/$chip"/gpio/gpiochip*; do
        [ -e "$c/label" ] || continue
        if [ "$(cat "$c/label")" = "$2" ]; then legacy=/sys/class/gpio/${c##*/}; break; fi
    done
    { [ -n "$legacy" ] && [ -e "$legacy/base" ]; } || die "no /sys/class/gpio entry labelled $2 under $SIM/gpio"
    label=$(cat "$legacy/label")
    ngpio=$(cat "$legacy/ngpio")
    base=$(cat "$legacy/base")
    [ "$label" = "$2" ] || die "$chip has label '$label', expected '$2'"
    [ "$ngpio" = "$3" ] || die "$chip has $ngpio lines, expected $3"
    say "  /dev/$chip label=$label lines=$ngpio base=$base sysfs=$SIM/$chip"
}
check_bank "$B0" iotlab-a 8
CHIP_A=$chip
check_bank "$B1" pinctrl-bcm2711 58
[ "$(cat "$SIM/$CHIP_A/sim_gpio7/value")" = 1 ] || die "hog lab-hog (iotlab-a line 7) is not driven high"

# ----------------------------------------------------------------------------- i2c-stub
BUS=""
for a in /sys/class/i2c-adapter/i2c-*; do
    [ -e "$a/name" ] || continue
    if [ "$(cat "$a/name")" = "SMBus stub driver" ]; then BUS=${a##*/i2c-}; break; fi
done
[ -n "$BUS" ] || die "no i2c adapter named 'SMBus stub driver' (is i2c-stub loaded?)"
n=0
while [ ! -c "/dev/i2c-$BUS" ] && [ "$n" -lt 20 ]; do sleep 0.1; n=$((n + 1)); done
[ -c "/dev/i2c-$BUS" ] || die "/dev/i2c-$BUS missing (is i2c-dev loaded?)"

preload() {  # preload ADDR REG=VAL...
    addr=$1; shift
    for rv in "$@"; do
        i2cset -y "$BUS" "$addr" "0x${rv%=*}" "0x${rv#*=}" b || die "i2cset $BUS $addr 0x${rv%=*} 0x${rv#*=}"
    done
    for rv in "$@"; do
        got=$(i2cget -y "$BUS" "$addr" "0x${rv%=*}" b) || die "i2cget $BUS $addr 0x${rv%=*}"
        want=$(printf '0x%02x' "0x${rv#*=}")
        [ "$got" = "$want" ] || die "i2c $addr reg 0x${rv%=*} reads $got, expected $want"
    done
}
preload 0x76 D0=60 88=70 89=6B 8A=43 8B=67 8C=18 8D=FC
preload 0x50 00=DE 01=AD 02=BE 03=EF
say "i2c-stub on /dev/i2c-$BUS: 0x76 and 0x50 preloaded; 0x76 reg 0xd0 reads $(i2cget -y "$BUS" 0x76 0xd0 b)"

# ----------------------------------------------------------------------------- environment
cat >"$ENV_OUT" <<EOF
export IOTLAB=1
export IOTLAB_SIM_DEVICE=$SIM
export IOTLAB_I2C_BUS=$BUS
EOF
say "fixture ready: IOTLAB_SIM_DEVICE=$SIM IOTLAB_I2C_BUS=$BUS"
