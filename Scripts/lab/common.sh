# Scripts/lab/common.sh — sourced by run.sh and powercut.sh: the lab's setup check, its work
# folder, the cached base initramfs, the copying of libraries and the QEMU command line.
# The caller sets SCRIPT_DIR (this folder) and LAB_LOG_TAG (the prefix of its messages) first.
# Sourcing sets REPO_ROOT and LAB_CACHE (default <repo>/.lab-cache) and defines functions; their
# failures use run.sh's exit codes: 5 setup failed, 6 the initramfs could not be built.

REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
export LAB_CACHE=${LAB_CACHE:-$REPO_ROOT/.lab-cache}

log() { printf '[%s] %s\n' "$LAB_LOG_TAG" "$*" >&2; }
fail() { local code=$1; shift; printf '[%s] ERROR: %s\n' "$LAB_LOG_TAG" "$*" >&2; exit "$code"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# lab_prepare: runs setup.sh (quiet unless it did work) and reads what it published.
lab_prepare() {
    if ! LAB_SETUP_QUIET=1 bash "$SCRIPT_DIR/setup.sh"; then
        fail 5 "Scripts/lab/setup.sh failed; the lab cannot run"
    fi
    [ -f "$LAB_CACHE/lab.env" ] || fail 5 "$LAB_CACHE/lab.env missing after setup.sh"
    # shellcheck source=/dev/null
    . "$LAB_CACHE/lab.env"
    local f
    for f in "$LAB_VMLINUX" "$LAB_MODULE_ORDER" "$LAB_BUSYBOX"; do
        [ -f "$f" ] || fail 5 "$f missing after setup.sh"
    done
}

# lab_workdir PREFIX: sets WORK to a new folder under $LAB_CACHE/tmp, removed on exit; removes
# what runs killed with SIGKILL left there over two hours ago.
lab_workdir() {
    mkdir -p "$LAB_CACHE/tmp"
    find "$LAB_CACHE/tmp" -mindepth 1 -maxdepth 1 -name "$1.*" -mmin +120 -exec rm -rf {} + 2>/dev/null || true
    WORK=$(mktemp -d "$LAB_CACHE/tmp/$1.XXXXXX")
    # shellcheck disable=SC2317  # (invoked by the trap)
    cleanup() { rm -rf "$WORK"; }
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

mk_cpio() {  # mk_cpio DIR OUT — newc archive of DIR's contents, owned by root, sorted
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$2" \
        || fail 6 "cpio of $1 failed"
}
# The initramfs is two concatenated newc archives (the kernel unpacks them in turn):
#  base: busybox-static + applet links, /dev nodes, the modules and the guest scripts. It only
#        changes with those inputs, so it is cached in $LAB_CACHE/initramfs/ under their hash;
#  run:  /lab/BINARY and $LAB_EXTRA_FILES, the shared libraries ldd lists for them (same paths)
#        and /iotlab/cmd (the arguments).
build_base() {  # build_base OUT
    local stage=$WORK/base a m
    mkdir -p "$stage"/{bin,dev,proc,sys,tmp,run,root,etc,iotlab/modules,usr}
    ln -s bin "$stage/sbin"
    ln -s ../bin "$stage/usr/bin"
    ln -s ../bin "$stage/usr/sbin"
    cp "$LAB_BUSYBOX" "$stage/bin/busybox"
    for a in $("$stage/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
    done
    for a in sh mount insmod mkdir cat readlink sleep printf i2cset i2cget poweroff; do
        [ -e "$stage/bin/$a" ] || fail 6 "busybox at $LAB_BUSYBOX lacks the applet '$a'"
    done
    if [ "$(id -u)" = 0 ]; then   # else the kernel's built-in initramfs provides /dev/console
        mknod -m 600 "$stage/dev/console" c 5 1
        mknod -m 666 "$stage/dev/null" c 1 3
    fi
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
    printf 'root:x:0:\n' >"$stage/etc/group"
    while read -r m; do
        [ -n "$m" ] || continue
        cp "$LAB_MODULE_DIR/$m" "$stage/iotlab/modules/" || fail 6 "module $m missing from $LAB_MODULE_DIR"
    done <"$LAB_MODULE_ORDER"
    cp "$LAB_MODULE_ORDER" "$stage/iotlab/modules/insmod.order"
    install -m 755 "$SCRIPT_DIR/guest-init.sh" "$stage/init"
    install -m 755 "$SCRIPT_DIR/fixture.sh" "$stage/iotlab/fixture.sh"
    mk_cpio "$stage" "$1.tmp"
    mv "$1.tmp" "$1"
}
# lab_base_cpio: sets BASE_CPIO to the cached base archive, building it when its inputs changed.
lab_base_cpio() {
    mkdir -p "$LAB_CACHE/initramfs"
    local key
    key=$( { sha256sum "$LAB_BUSYBOX" "$SCRIPT_DIR/guest-init.sh" "$SCRIPT_DIR/fixture.sh" "$LAB_MODULE_ORDER"
             sed "s#^#$LAB_MODULE_DIR/#" "$LAB_MODULE_ORDER" | xargs sha256sum
             echo "$LAB_KERNEL_ABI $LAB_KERNEL_VERSION $(id -u)"; } | sha256sum | cut -c1-16)
    BASE_CPIO=$LAB_CACHE/initramfs/base-$key.cpio
    if [ ! -s "$BASE_CPIO" ]; then
        build_base "$BASE_CPIO"
        find "$LAB_CACHE/initramfs" -name 'base-*.cpio' ! -name "base-$key.cpio" -delete
    fi
}
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
copy_libraries() {  # copy_libraries FILE STAGE — the shared libraries ldd lists for FILE, same paths
    local output line lib
    if output=$(LC_ALL=C ldd "$1" 2>&1); then
        while IFS= read -r line; do
            case "$line" in
                *"not found"*) fail 6 "ldd $1: $line" ;;
                *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
                [[:space:]]/*) lib=${line#"${line%%/*}"}; lib=${lib%% (*} ;;
                *) continue ;;
            esac
            [ -f "$lib" ] || fail 6 "ldd $1 lists $lib, which does not exist"
            [ -e "$2$lib" ] && continue
            mkdir -p "$2$(dirname "$lib")"
            cp -L "$lib" "$2$lib"
        done <<<"$output"
    else
        case "$output" in
            *"not a dynamic executable"*|*"statically linked"*) ;;
            *) fail 6 "ldd $1 failed: $output" ;;
        esac
    fi
}

# lab_qemu_command INITRD [CMDLINE_EXTRA]: sets the array LAB_QEMU. TCG only (KVM does not work
# on these hosts). -nic none: no NIC, so no iPXE ROM (~0.3 s, noise). -m 1024: the kernel holds
# the initramfs twice while it unpacks it (the archive and the files), and with the uplink in
# iotsdk-lab (165 MB of initramfs, debug info included) 512 MB no longer held both. The caller
# appends more options (-icount, drives).
lab_qemu_command() {
    LAB_QEMU=(qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -nographic -no-reboot -nic none
              -kernel "$LAB_VMLINUX" -initrd "$1"
              -append "console=ttyS0 quiet panic=-1${2:+ $2}")
}
